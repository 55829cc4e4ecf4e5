package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The records of scripts/bench cluster:
//
//	cluster-load GROUP OP SYSTEM ROUND OPS_PER_S P50_MS P99_MS ERRORS
//	cluster-failover SYSTEM REP MS
//	cluster-leaders SYSTEM PHASE SECONDS CHANGES TERMS
//
// GROUP is cN for N clients (c1: one client's latency), OP put, get,
// sget (stale get) or incr, SYSTEM dsm or etcd. CHANGES is the most leader
// changes one node saw during the phase (idle or load) and TERMS how far
// the highest Raft term moved; "-" where a node did not tell.

// clusterData is what the cluster records hold.
type clusterData struct {
	groups   []string // the load groups in the order first seen
	load     map[clusterKey][]sample
	errors   map[clusterKey]int
	failover map[string][]kill // by system
	leaders  []leaderCount
}

type clusterKey struct{ group, op, system string }

// kill is one failover: the repetition and the milliseconds from the
// kill of the leader to the next acknowledged write.
type kill struct {
	rep string
	ms  float64
}

// leaderCount is one phase's leader changes of one system; -1 for a count
// not known.
type leaderCount struct {
	system, phase    string
	seconds          float64
	changes, termsUp float64
}

func (res *results) clusterInit() {
	if res.cluster.load == nil {
		res.cluster.load = map[clusterKey][]sample{}
		res.cluster.errors = map[clusterKey]int{}
		res.cluster.failover = map[string][]kill{}
	}
}

func (res *results) addClusterLoad(f []string) error {
	if len(f) != 9 {
		return fmt.Errorf("cluster-load wants GROUP OP SYSTEM ROUND OPS_PER_S P50 P99 ERRORS, got %d fields", len(f)-1)
	}
	nums, err := floats(f[5:9])
	if err != nil {
		return err
	}
	res.clusterInit()
	k := clusterKey{f[1], f[2], f[3]}
	if _, err := groupClients(k.group); err != nil {
		return err
	}
	if !slices.Contains(res.cluster.groups, k.group) {
		res.cluster.groups = append(res.cluster.groups, k.group)
	}
	res.cluster.load[k] = append(res.cluster.load[k], sample{f[4], nums[0], nums[1], nums[2]})
	res.cluster.errors[k] += int(nums[3])
	return nil
}

func (res *results) addClusterFailover(f []string) error {
	if len(f) != 4 {
		return fmt.Errorf("cluster-failover wants SYSTEM REP MS, got %d fields", len(f)-1)
	}
	ms, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		return err
	}
	res.clusterInit()
	res.cluster.failover[f[1]] = append(res.cluster.failover[f[1]], kill{f[2], ms})
	return nil
}

func (res *results) addClusterLeaders(f []string) error {
	if len(f) != 6 {
		return fmt.Errorf("cluster-leaders wants SYSTEM PHASE SECONDS CHANGES TERMS, got %d fields", len(f)-1)
	}
	secs, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		return err
	}
	lc := leaderCount{system: f[1], phase: f[2], seconds: secs}
	if lc.changes, err = countField(f[4]); err != nil {
		return err
	}
	if lc.termsUp, err = countField(f[5]); err != nil {
		return err
	}
	res.clusterInit()
	res.cluster.leaders = append(res.cluster.leaders, lc)
	return nil
}

// countField parses a count, "-" (not known) as -1.
func countField(s string) (float64, error) {
	if s == "-" {
		return -1, nil
	}
	return strconv.ParseFloat(s, 64)
}

// clusterOps are the operations of the 50-client runs, in table order,
// with what each is on both systems and the ratio asked of dsm.
var clusterOps = []struct {
	op, label string
	goal      float64
}{
	{"put", "put (SET; Put)", 3},
	{"get", "linearizable get (GET; Get)", 3},
	{"sget", "stale get (GET after READONLY; serializable Get)", 10},
	{"incr", "increment (INCR; Get + transaction on the mod revision)", 3},
}

// groupClients is the number of clients of a load group, "cN".
func groupClients(group string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(group, "c"))
	if err != nil || n < 1 || !strings.HasPrefix(group, "c") {
		return 0, fmt.Errorf("cluster-load group %q: want cN, N clients", group)
	}
	return n, nil
}

// manyGroup is the load group of several clients (the first, if several
// were recorded), or "".
func (res *results) manyGroup() string {
	for _, g := range res.cluster.groups {
		if g != "c1" {
			return g
		}
	}
	return ""
}

// clusterRows builds the comparison of dsm with etcd: throughput, one
// client's latency, failover and leader changes.
func (res *results) clusterRows() []row {
	var rows []row
	many := res.manyGroup()
	for _, o := range clusterOps {
		ds, es := res.clusterSamples(many, o.op)
		if len(ds) == 0 || len(es) == 0 {
			continue
		}
		n, _ := groupClients(many)
		r := row{label: fmt.Sprintf("%s, %d clients", o.label, n), unit: "ops/s", peer: medianOf(es, rps), dsmd: medianOf(ds, rps),
			target: fmt.Sprintf("≥ %.2f", o.goal), goal: o.goal}
		r.ratio = safeDiv(r.dsmd, r.peer)
		r.met = r.ratio >= o.goal
		r.lo, r.hi, r.spread = roundRatios(ds, es, rps)
		rows = append(rows, r)
	}
	for _, op := range []string{"put", "get"} {
		ds, es := res.clusterSamples("c1", op)
		if len(ds) == 0 || len(es) == 0 {
			continue
		}
		name := map[string]string{"put": "put", "get": "linearizable get"}[op] + ", 1 client"
		for _, p := range []struct {
			name  string
			field func(sample) float64
		}{{"p50", p50}, {"p99", p99}} {
			r := latencyRow(name+", "+p.name, medianOf(es, p.field), medianOf(ds, p.field), false)
			r.lo, r.hi, r.spread = roundRatios(es, ds, p.field)
			rows = append(rows, r)
		}
	}
	if r, ok := res.failoverRow(); ok {
		rows = append(rows, r)
	}
	for _, phase := range []string{"load", "idle"} {
		if r, ok := res.leadersRow(phase); ok {
			rows = append(rows, r)
		}
	}
	return rows
}

// clusterSamples are the samples of one run of dsm and of etcd.
func (res *results) clusterSamples(group, op string) (dsm, etcd []sample) {
	return res.cluster.load[clusterKey{group, op, "dsm"}], res.cluster.load[clusterKey{group, op, "etcd"}]
}

// failoverRow compares the median failovers: etcd's over dsm's, so that
// above 1 means dsm takes writes again sooner; the spread pairs the kills
// of the same repetition.
func (res *results) failoverRow() (row, bool) {
	ds, es := res.cluster.failover["dsm"], res.cluster.failover["etcd"]
	if len(ds) == 0 || len(es) == 0 {
		return row{}, false
	}
	r := row{label: "failover: kill -9 of the leader to the next acknowledged write", unit: "ms",
		peer: median(killMs(es)), dsmd: median(killMs(ds)), target: "≥ 2.00 (dsm ≤ ½ etcd's)", goal: 2}
	r.ratio = safeDiv(r.peer, r.dsmd)
	r.met = r.ratio >= 2
	for _, d := range ds {
		for _, e := range es {
			if d.rep != e.rep || d.ms == 0 {
				continue
			}
			x := e.ms / d.ms
			if !r.spread || x < r.lo {
				r.lo = x
			}
			if !r.spread || x > r.hi {
				r.hi = x
			}
			r.spread = true
		}
	}
	return r, true
}

func killMs(ks []kill) []float64 {
	out := make([]float64, len(ks))
	for i, k := range ks {
		out[i] = k.ms
	}
	return out
}

// leadersRow is the leader changes of both systems in a phase, summed
// over its records; the target is none for dsm.
func (res *results) leadersRow(phase string) (row, bool) {
	d, dok := res.leaderTotal("dsm", phase)
	e, eok := res.leaderTotal("etcd", phase)
	if !dok || !eok {
		return row{}, false
	}
	label := map[string]string{"load": "leader changes during the load runs", "idle": "leader changes while idle"}[phase]
	return row{label: label, unit: "changes", peer: e, dsmd: d, noRatio: true, target: "dsm: 0", met: d == 0}, true
}

// leaderTotal sums a system's leader changes in a phase; -1 if one count
// is not known.
func (res *results) leaderTotal(system, phase string) (float64, bool) {
	total, ok := 0.0, false
	for _, lc := range res.cluster.leaders {
		if lc.system != system || lc.phase != phase {
			continue
		}
		if lc.changes < 0 || total < 0 {
			total = -1
		} else {
			total += lc.changes
		}
		ok = true
	}
	return total, ok
}

// writeCluster reports dsm against etcd.
func (res *results) writeCluster(b *strings.Builder, rows []row, svgRef string) {
	b.WriteString("## Cluster: dsm against etcd\n\n")
	if res.cluster.load == nil {
		b.WriteString("Not measured in this run: `scripts/bench cluster` measures a three-node dsmd\n")
		b.WriteString("cluster against a three-node etcd cluster. The goals: writes, increments and\n")
		b.WriteString("linearizable reads at least 3 times etcd's, stale reads at least 10 times its\n")
		b.WriteString("serializable reads, failover in at most half of etcd's time, and no leader\n")
		b.WriteString("change under load or idle.\n\n")
		return
	}
	b.WriteString(clusterMethod)
	if len(rows) > 0 {
		b.WriteString(table(rows, "etcd", "dsm"))
		if svgRef != "" {
			fmt.Fprintf(b, "\n![dsm vs etcd ratios](%s)\n", svgRef)
		}
		b.WriteString("\n")
		writeVerdict(b, rows)
	} else {
		b.WriteString("Only one of the two clusters was measured: no comparison.\n\n")
	}
	res.writeClusterRuns(b)
	res.writeFailovers(b)
	res.writeLeaders(b)
}

const clusterMethod = "`scripts/bench cluster`: three dsmd nodes and three etcd nodes (Debian's\n" +
	"`etcd-server`, its version in the table above) on loopback of this machine, each\n" +
	"node in a session of its own, both clusters up for the whole run (the one not\n" +
	"measured idles beside the other). `scripts/clusterload` runs the same load against\n" +
	"each: the clients each hold their own connection to one node (client i on node i\n" +
	"mod 3: a bare RESP connection, or a bare gRPC connection with etcd's generated KV\n" +
	"stub, so that the load generator takes as little of the shared cores as it can)\n" +
	"and send one request at a time over the keyspace, for a fixed time; the\n" +
	"clusters take turns run by run, the first alternating with the round. put is SET\n" +
	"or Put; linearizable get is GET or Get (etcd's default); stale get is GET on a\n" +
	"connection that sent READONLY, or Get with WithSerializable, both answered from the\n" +
	"node's own state; increment is INCR, or (etcd has none) a Get and a transaction\n" +
	"that puts the value plus one if the key's mod revision is unchanged, retried on\n" +
	"a conflict, counting successful increments only. A figure is the median over the\n" +
	"rounds and a ratio is taken between medians, above 1 meaning dsm does better\n" +
	"(throughput dsm/etcd, latency and failover etcd/dsm); the ticks on the chart are\n" +
	"the ratios asked.\n\n" +
	"Failover: kill -9 of the leader (found through INFO cluster, and etcd's\n" +
	"maintenance Status) while one client writes through the two other nodes, each\n" +
	"write with the timeout in the Method's commands, at most one every 10 ms after a\n" +
	"failure; the figure is the time from the kill to the acknowledgement of the\n" +
	"first write sent after it. The killed node is restarted on its data and every\n" +
	"node must name one leader and take a write before the next kill. Leader changes:\n" +
	"each node's count (dsm's `cluster_leader_changes` in INFO cluster, etcd's\n" +
	"`etcd_server_leader_changes_seen_total`) read before and after the load runs and\n" +
	"an idle period, the most one node saw, and how far the highest Raft term moved\n" +
	"(a failed election moves it too).\n\n"

// writeVerdict counts the targets the rows meet and names those missed.
func writeVerdict(b *strings.Builder, rows []row) {
	met, with := 0, 0
	var missed []string
	for _, r := range rows {
		if r.target == "" {
			continue
		}
		with++
		if r.met {
			met++
		} else {
			missed = append(missed, r.label)
		}
	}
	fmt.Fprintf(b, "Targets met: %d of %d.", met, with)
	if len(missed) > 0 {
		fmt.Fprintf(b, " Missed: %s.", strings.Join(missed, "; "))
	}
	b.WriteString("\n\n")
}

// writeClusterRuns lists every run's median with its latencies and the
// requests that failed.
func (res *results) writeClusterRuns(b *strings.Builder) {
	b.WriteString("Every run, medians over the rounds:\n\n")
	b.WriteString("| clients | operation | system | rounds | ops/s | p50 ms | p99 ms | failed requests, all rounds |\n")
	b.WriteString("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, g := range res.cluster.groups {
		clients, _ := groupClients(g)
		for _, o := range clusterOps {
			for _, sys := range []string{"dsm", "etcd"} {
				k := clusterKey{g, o.op, sys}
				ss := res.cluster.load[k]
				if len(ss) == 0 {
					continue
				}
				fmt.Fprintf(b, "| %d | %s | %s | %d | %.0f | %.3f | %.3f | %d |\n", clients, o.op, sys, len(ss),
					medianOf(ss, rps), medianOf(ss, p50), medianOf(ss, p99), res.cluster.errors[k])
			}
		}
	}
	b.WriteString("\n")
}

// writeFailovers gives each system's failovers: median, range and each.
func (res *results) writeFailovers(b *strings.Builder) {
	if len(res.cluster.failover) == 0 {
		return
	}
	b.WriteString("Failover, kill -9 of the leader to the next acknowledged write:\n\n")
	b.WriteString("| system | kills | median ms | lowest–highest ms | each, ms |\n| --- | ---: | ---: | ---: | --- |\n")
	for _, sys := range []string{"dsm", "etcd"} {
		ks := res.cluster.failover[sys]
		if len(ks) == 0 {
			continue
		}
		ms := killMs(ks)
		each := make([]string, len(ms))
		for i, m := range ms {
			each[i] = fmt.Sprintf("%.0f", m)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %.0f–%.0f | %s |\n", sys, len(ms), median(ms), slices.Min(ms), slices.Max(ms),
			strings.Join(each, ", "))
	}
	b.WriteString("\n")
}

// writeLeaders gives every phase's leader changes.
func (res *results) writeLeaders(b *strings.Builder) {
	if len(res.cluster.leaders) == 0 {
		return
	}
	b.WriteString("Leader changes (a change under load or idle is a failure, whoever's):\n\n")
	b.WriteString("| system | phase | seconds | leader changes (most one node saw) | Raft term moved by |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: |\n")
	for _, lc := range res.cluster.leaders {
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %s |\n", lc.system, lc.phase, lc.seconds, count(lc.changes), count(lc.termsUp))
	}
	b.WriteString("\n")
}

// count prints a count, or "not known" for -1.
func count(n float64) string {
	if n < 0 {
		return "not known"
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}
