package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// langKey names one figure of scripts/bench languages: a language, an
// operation and the path it takes (libdsm, redis-py to a server, a Go or C
// get by name or through a handle).
type langKey struct{ lang, op, path string }

// langData is scripts/bench languages' records: nanoseconds per operation,
// one per round.
type langData struct {
	ns  map[langKey][]float64
	seq []langKey
}

// addLang reads "lang LANG OP PATH ROUND NS".
func (res *results) addLang(f []string) error {
	if len(f) != 6 {
		return fmt.Errorf("lang record has %d fields, want 6", len(f))
	}
	ns, err := strconv.ParseFloat(f[5], 64)
	if err != nil || ns <= 0 {
		return fmt.Errorf("lang record: bad ns/op %q", f[5])
	}
	if res.lang.ns == nil {
		res.lang.ns = map[langKey][]float64{}
	}
	k := langKey{f[1], f[2], f[3]}
	if _, ok := res.lang.ns[k]; !ok {
		res.lang.seq = append(res.lang.seq, k)
	}
	res.lang.ns[k] = append(res.lang.ns[k], ns)
	return nil
}

// langMedian is the median of a figure, 0 if it was not measured.
func (res *results) langMedian(lang, op, path string) float64 {
	xs := res.lang.ns[langKey{lang, op, path}]
	if len(xs) == 0 {
		return 0
	}
	return median(slices.Clone(xs))
}

// Paths of scripts/bench languages (scripts/langbench/bench.py and the
// script's records).
const (
	pathLibdsm     = "libdsm"
	pathRedisDsmd  = "redis-py to dsmd"
	pathRedisRedis = "redis-py to Redis"
)

// writeLanguages reports the library from Python and C against redis-py
// and Go.
func (res *results) writeLanguages(b *strings.Builder) {
	if len(res.lang.seq) == 0 {
		return
	}
	rounds := len(res.lang.ns[res.lang.seq[0]])
	b.WriteString("## The memory from Python and C (libdsm)\n\n")
	fmt.Fprintf(b, "`scripts/bench languages`: one variable read and incremented by one process at a time,\n"+
		"on the file dsmd serves, %d rounds in one run; figures are medians over the rounds, in\n"+
		"microseconds (Python, wall time: it includes the servers' and the network's) or\n"+
		"nanoseconds of the process' CPU time (C and Go: on the shared machine a process\n"+
		"descheduled in the middle of a run would otherwise count time it did not run) per\n"+
		"operation, and ratios are taken between medians.\n\n", rounds)
	b.WriteString("Python: the `dsm` package (ctypes over libdsm, through the mapping) against\n")
	b.WriteString("redis-py's INCR and GET over loopback, to dsmd and to Redis. Goal: local operations\n")
	b.WriteString("at least 20x faster than redis-py against Redis.\n\n")
	b.WriteString("| operation | libdsm (µs) | redis-py to dsmd (µs) | redis-py to Redis (µs) | libdsm faster than redis-py to Redis | than redis-py to dsmd | goal |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, op := range []string{"add", "get"} {
		l := res.langMedian("python", op, pathLibdsm)
		d := res.langMedian("python", op, pathRedisDsmd)
		r := res.langMedian("python", op, pathRedisRedis)
		if l == 0 {
			continue
		}
		verdict := "met"
		if r/l < 20 {
			verdict = "missed"
		}
		name := map[string]string{"add": "`add` / INCR", "get": "`get` / GET"}[op]
		fmt.Fprintf(b, "| %s | %.2f | %.1f | %.1f | %.0fx | %.0fx | %s |\n", name, l/1e3, d/1e3, r/1e3, r/l, d/l, verdict)
	}
	b.WriteString("\nC against Go, a get of one integer: by name (`dsm_get_int`, `shm.Memory.Get`) and\n")
	b.WriteString("through a handle resolved once (`dsm_var_get_int`, `shm.Handle.Get`). Goal: C within\n")
	b.WriteString("2x of Go by name.\n\n")
	b.WriteString("| get | Go (ns) | C (ns) | C / Go | goal |\n| --- | --- | --- | --- | --- |\n")
	for _, path := range []string{"name", "handle"} {
		g, c := res.langMedian("go", "get", path), res.langMedian("c", "get", path)
		if g == 0 || c == 0 {
			continue
		}
		goal := "-"
		if path == "name" {
			goal = "met"
			if c/g > 2 {
				goal = "missed"
			}
		}
		fmt.Fprintf(b, "| by %s | %.0f | %.0f | %.2f | %s |\n", path, g, c, c/g, goal)
	}
	if x := res.langMedian("c", "call", "dsm_get_limits"); x > 0 {
		hg, hc := res.langMedian("go", "get", "handle"), res.langMedian("c", "get", "handle")
		fmt.Fprintf(b, "| a call into Go that reads no variable (`dsm_get_limits`) | - | %.0f | - | - |\n\n", x)
		fmt.Fprintf(b, "A C get through a handle is the crossing from C into Go plus Go's own handle get:\n"+
			"here %.0f ns of its %.0f ns are the crossing (`dsm_get_limits`, which enters Go, looks\n"+
			"its handle up and reads two header fields), and Go's handle get costs %.0f ns. The crossing\n"+
			"is cgo's callback path, paid on every call: the C thread switches to the goroutine\n"+
			"bound to it and back, leaves and re-enters the state in which the Go runtime lets C\n"+
			"code run (the scheduler accounts for it as a system call), and receives from the\n"+
			"runtime's channel that says the Go package's initialisation is done, which takes\n"+
			"and releases the channel's lock even though it was closed long ago. A C get by name\n"+
			"pays the same crossing on top of the same lookup as Go's. In a perf profile of\n"+
			"`dsm_get_int` by name in a loop, by hand at 6e64fbb (5,000,000 calls): shm's Get\n"+
			"36%% of the samples, the runtime's callback path 33%% (10 points of it that channel), the\n"+
			"library's own bookkeeping 14%% (finding the handle, counting the call on its file\n"+
			"so that `dsm_close` can wait for it, recovering a memory fault), and the rest the\n"+
			"virtual machine's interrupts. A C program that needs Go's handle speed must do more\n"+
			"per call (`dsm_mget` reads a whole group in one crossing).\n\n", x, hc, hg)
		if g, c := res.langMedian("go", "get", "name"), res.langMedian("c", "get", "name"); g > 0 && c > 0 {
			fmt.Fprintf(b, "So a C get by name costs about Go's get by name plus the crossing: %.0f + %.0f =\n"+
				"%.0f ns, against %.0f measured. C stays within 2x of Go by name only while the crossing\n"+
				"costs less than Go's whole lookup; here it costs %.2f of it.\n\n", g, x, g+x, c, x/g)
		}
	}
}
