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
			"and releases the channel's lock even though it was closed long ago. A C program that\n"+
			"needs Go's handle speed must do more per call (`dsm_mget` reads a whole group in one\n"+
			"crossing).\n\n", x, hc, hg)
		if g, c := res.langMedian("go", "get", "name"), res.langMedian("c", "get", "name"); g > 0 && c > 0 && hc > 0 {
			fmt.Fprintf(b, "A C get by name does not pay Go's lookup of the name in the file's index on top of\n"+
				"the crossing. `dsm_get` and `dsm_get_int` keep a cache in C (libdsm/dsm.c) of up to 256\n"+
				"(file, name) pairs, each with a variable handle, and hand the handle found to Go in the\n"+
				"same call; Go uses it only if it is of that file and that name and its slot still\n"+
				"holds the variable it resolved (live, in the same incarnation, under the same name:\n"+
				"`shm.Handle.Current`), and otherwise gets by name and renews the entry, so the cache\n"+
				"changes what a get costs, never what it returns. A cached C get by name thus costs\n"+
				"the C get through a handle plus the lookup in C and those checks: %.0f ns against\n"+
				"%.0f, %.2f of Go's get by name, which looks the name up in the index on every call.\n"+
				"A name the cache does not hold (its first two reads, a name longer than 64 bytes, or\n"+
				"one of more names than the cache's places read in turn) costs what every C get by\n"+
				"name cost before the cache: the crossing on top of Go's lookup, 2.10 of Go's get by\n"+
				"name in the run at commit 656e837.\n\n", c, hc, c/g)
		}
		b.WriteString("In a perf profile of a cached `dsm_get_int` by name in a loop, by hand at 9bad7e2\n" +
			"(5,000,000 calls): the runtime's callback path 50% of the samples (15 points of it\n" +
			"that channel), the library's own bookkeeping 24% (finding the file, counting the call\n" +
			"on it so that `dsm_close` can wait for it, which is two atomic read-modify-writes of\n" +
			"one counter, timed alone by `go test -bench CallCount ./libdsm`, and recovering a\n" +
			"memory fault), the name cache 8% (its lookup in C 4, Go's checks of the handle 4),\n" +
			"shm's handle get 2%, and the rest the virtual machine's interrupts.\n\n")
	}
}
