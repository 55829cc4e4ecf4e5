package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// results is everything read from the results files.
type results struct {
	meta      map[string]string
	metaOrder []string
	cmds      []cmdLine
	remote    map[remoteKey][]sample
	tests     []testKey            // (group, test) in the order first seen
	serverSeq map[string][]string  // each group's servers in the order first seen
	idle      map[string][]float64 // RSS KiB per connection, by server
	idleGo    map[string][]float64 // Go heap and stacks KiB per connection
	bench     map[string][]goBench
	benchSeq  []string // benchmark names in the order first seen
	cluster   clusterData
	lang      langData
}

type cmdLine struct{ group, text string }

// testKey names one remote benchmark: a group of settings (clients,
// pipelining, durability...) and redis-benchmark's test name.
type testKey struct{ group, test string }

type remoteKey struct {
	testKey
	server string
}

// sample is one redis-benchmark result: its round, requests per second
// and latency percentiles in milliseconds.
type sample struct {
	round         string
	rps, p50, p99 float64
}

// goBench is one line of go test -bench output.
type goBench struct {
	nsPerOp float64
	allocs  float64 // -1 when not reported
	metrics map[string]float64
}

func (res *results) init() {
	if res.meta == nil {
		res.meta = map[string]string{}
		res.remote = map[remoteKey][]sample{}
		res.serverSeq = map[string][]string{}
		res.idle = map[string][]float64{}
		res.idleGo = map[string][]float64{}
		res.bench = map[string][]goBench{}
	}
}

func (res *results) addMeta(f []string) error {
	if len(f) != 3 {
		return fmt.Errorf("meta wants KEY VALUE, got %d fields", len(f)-1)
	}
	res.init()
	if _, ok := res.meta[f[1]]; !ok {
		res.metaOrder = append(res.metaOrder, f[1])
	}
	res.meta[f[1]] = f[2]
	return nil
}

func (res *results) addCmd(f []string) error {
	if len(f) != 3 {
		return fmt.Errorf("cmd wants GROUP COMMAND, got %d fields", len(f)-1)
	}
	for _, c := range res.cmds {
		if c.text == f[2] {
			return nil
		}
	}
	res.cmds = append(res.cmds, cmdLine{f[1], f[2]})
	return nil
}

func (res *results) addRemote(f []string) error {
	if len(f) != 8 {
		return fmt.Errorf("remote wants GROUP TEST SERVER ROUND RPS P50 P99, got %d fields", len(f)-1)
	}
	nums, err := floats(f[5:])
	if err != nil {
		return err
	}
	res.init()
	k := remoteKey{testKey{f[1], f[2]}, f[3]}
	if !slices.Contains(res.tests, k.testKey) {
		res.tests = append(res.tests, k.testKey)
	}
	if !slices.Contains(res.serverSeq[k.group], k.server) {
		res.serverSeq[k.group] = append(res.serverSeq[k.group], k.server)
	}
	res.remote[k] = append(res.remote[k], sample{f[4], nums[0], nums[1], nums[2]})
	return nil
}

// addIdle parses "idle SERVER CONNS RSS_BEFORE RSS_AFTER [GO_BEFORE
// GO_AFTER]", all in KiB; "-" stands for a Go figure not measured.
func (res *results) addIdle(f []string) error {
	if len(f) != 5 && len(f) != 7 {
		return fmt.Errorf("idle wants SERVER CONNS RSS_BEFORE_KB RSS_AFTER_KB [GO_BEFORE_KB GO_AFTER_KB], got %d fields", len(f)-1)
	}
	nums, err := floats(f[2:5])
	if err != nil {
		return err
	}
	if nums[0] <= 0 {
		return fmt.Errorf("idle: %v connections", nums[0])
	}
	res.init()
	res.idle[f[1]] = append(res.idle[f[1]], (nums[2]-nums[1])/nums[0])
	if len(f) == 7 && f[5] != "-" && f[6] != "-" {
		gomem, err := floats(f[5:7])
		if err != nil {
			return err
		}
		res.idleGo[f[1]] = append(res.idleGo[f[1]], (gomem[1]-gomem[0])/nums[0])
	}
	return nil
}

// addGoBench parses "BenchmarkName-2 N X ns/op [V unit]..." of a package
// and ignores every other line of go test's output. The benchmark is known
// as "package.Name".
func (res *results) addGoBench(f []string) error {
	if len(f) != 3 {
		return fmt.Errorf("gobench wants PACKAGE LINE")
	}
	fields := strings.Fields(f[2])
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || fields[3] != "ns/op" {
		return nil
	}
	b := goBench{allocs: -1, metrics: map[string]float64{}}
	for i := 2; i+1 < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return fmt.Errorf("benchmark %s: %w", fields[0], err)
		}
		b.metrics[fields[i+1]] = v
	}
	b.nsPerOp = b.metrics["ns/op"]
	if a, ok := b.metrics["allocs/op"]; ok {
		b.allocs = a
	}
	res.init()
	name := f[1] + "." + trimProcs(strings.TrimPrefix(fields[0], "Benchmark"))
	if _, ok := res.bench[name]; !ok {
		res.benchSeq = append(res.benchSeq, name)
	}
	res.bench[name] = append(res.bench[name], b)
	return nil
}

// trimProcs drops the "-GOMAXPROCS" suffix go test adds to a name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func floats(fields []string) ([]float64, error) {
	out := make([]float64, len(fields))
	for i, s := range fields {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundRatios pairs the samples of the two servers by round and returns
// the lowest and highest of num's figure over den's; ok is false if no
// round has both.
func roundRatios(num, den []sample, field func(sample) float64) (lo, hi float64, ok bool) {
	for _, n := range num {
		for _, d := range den {
			if d.round != n.round || field(d) == 0 {
				continue
			}
			r := field(n) / field(d)
			if !ok || r < lo {
				lo = r
			}
			if !ok || r > hi {
				hi = r
			}
			ok = true
		}
	}
	return lo, hi, ok
}

// medianOf is the median of one field of the samples.
func medianOf(ss []sample, field func(sample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = field(s)
	}
	return median(xs)
}

func rps(s sample) float64 { return s.rps }
func p50(s sample) float64 { return s.p50 }
func p99(s sample) float64 { return s.p99 }

// benchMedian is the median ns/op of a Go benchmark that ran (one
// benchNames lists) and its allocations.
func (res *results) benchMedian(name string) (ns, allocs float64) {
	bs := res.bench[name]
	nss := make([]float64, len(bs))
	for i, b := range bs {
		nss[i] = b.nsPerOp
	}
	return median(nss), bs[0].allocs
}

// benchMetric is the median of an extra metric of a Go benchmark.
func (res *results) benchMetric(name, unit string) float64 {
	var xs []float64
	for _, b := range res.bench[name] {
		if v, ok := b.metrics[unit]; ok {
			xs = append(xs, v)
		}
	}
	return median(xs)
}
