package torture

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/internal/dsmbin"
	"github.com/dsm-dev/dsm/internal/planted"
)

// clusterConfig shapes one cluster torture run.
type clusterConfig struct {
	nodes     int
	duration  time.Duration // the whole run
	roundLen  time.Duration // one checked round
	faults    []string      // the faults' names; nil: all of them
	bin       string        // dsmd, built with dsmfail (and dsmbug for bug)
	bug       string        // the planted bug switched on (DSM_BUG)
	seed      uint64
	out       string // where a failed run's files are kept
	checkTime time.Duration
	// recoverWithin bounds the wait for a leader that every node names
	// after a heal, and for a node to catch up.
	recoverWithin time.Duration
	// bugRun: the run is meant to fail (a planted bug), so its files are
	// kept only if no checker caught it (or DSM_TORTURE_KEEP is set).
	bugRun bool
}

// violation is what a checker found.
type violation struct {
	checker string
	detail  string
}

// clusterFigures are what a run did and survived.
type clusterFigures struct {
	rounds, ops, unknown, notApplied int
	faults                           map[string]int
	crashes, crashMissed             map[string]int
	leaderChanges                    int
	counterAcked, counterUnknown     int64
	msetReads, staleReads            int
	lockGrants, lockLost, lockLate   int
	// snapshotGaps counts the followers cut off until the leader's
	// applied index was more than twice the trailing logs ahead.
	snapshotGaps int
}

// clusterRun is one run of the cluster torture.
type clusterRun struct {
	t      testing.TB
	cfg    clusterConfig
	dir    string
	net    *netw
	nodes  *clusterNodes
	fig    clusterFigures
	prefix string // the round's variables' prefix
	found  []violation
}

func (cr *clusterRun) logf(format string, args ...any) { cr.t.Logf(format, args...) }

func (cr *clusterRun) violate(checker, format string, args ...any) {
	v := violation{checker, fmt.Sprintf(format, args...)}
	cr.found = append(cr.found, v)
	cr.t.Logf("VIOLATION [%s] %s", v.checker, v.detail)
}

// needClusterHosts skips t (fails it in CI) without root, ip and iptables.
func needClusterHosts(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		ci.NeedOrSkip(t, "needs root to create network namespaces (CI runs as root)")
	}
	for _, c := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(c); err != nil {
			ci.NeedOrSkip(t, "needs the "+c+" command (iproute2, iptables)")
		}
	}
}

// buildTagged builds dsmd with tags into dir.
func buildTagged(t *testing.T, dir, tags string) string {
	t.Helper()
	out := filepath.Join(dir, "dsmd-"+strings.ReplaceAll(tags, ",", "-"))
	if b, err := exec.Command("go", "build", "-tags", tags, "-o", out, dsmbin.Dsmd).CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, b)
	}
	return out
}

// runCluster runs the cluster torture and returns what the checkers
// found; a failure of the test's own machinery fails t.
func runCluster(t testing.TB, cfg clusterConfig) (*clusterRun, []violation) {
	dir, err := os.MkdirTemp(cfg.out, fmt.Sprintf("dsm-cluster-torture-%d-", cfg.seed))
	if err != nil {
		t.Fatal(err)
	}
	cr := &clusterRun{t: t, cfg: cfg, dir: dir, fig: clusterFigures{faults: map[string]int{}, crashes: map[string]int{}, crashMissed: map[string]int{}}}
	defer func() { // after the nodes' and the network's ends, deferred below
		// A run fails if a checker found something, a planted bug's if
		// none did.
		failed := (len(cr.found) > 0) != cfg.bugRun || t.Failed()
		keep := failed || os.Getenv("DSM_TORTURE_KEEP") != ""
		if keep {
			t.Logf("the run's histories, porcupine's view, the nodes' logs and data directories are kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	const clientHosts = 4 // the first is the control host
	if cr.net, err = newNet(cfg.nodes, clientHosts); err != nil {
		t.Fatal(err)
	}
	defer cr.net.close()
	if cr.nodes, err = newClusterNodes(cr.net, cfg.bin, dir, cfg.bug, cfg.nodes); err != nil {
		t.Fatal(err)
	}
	defer cr.nodes.closeAll()
	if err := cr.startDown(); err != nil {
		t.Fatal(err)
	}
	if _, err := cr.nodes.waitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(cfg.duration)
	for r := 1; ; r++ {
		end := time.Now().Add(cfg.roundLen)
		if end.After(deadline) {
			end = deadline
		}
		cr.round(r, end)
		if len(cr.found) > 0 || !time.Now().Add(10*time.Second).Before(deadline) {
			break
		}
	}
	cr.fig.leaderChanges = cr.nodes.leaderChanges()
	for _, n := range cr.nodes.all {
		if len(cr.found) > 0 && !cfg.bugRun {
			n.dumpStacks() // for the post-mortem, in its log
			continue
		}
		if err := n.stop(); err != nil {
			cr.violate("shutdown", "%v", err)
		}
	}
	return cr, cr.found
}

// keys of a round, all under its prefix.
type roundKeys struct {
	regs, mset []string
	setOnly    string // the register that is never added to
	counter    string
	lock       string // the variable the lock clients lock and increment
}

func newRoundKeys(prefix string) roundKeys {
	return roundKeys{
		regs: []string{prefix + "a", prefix + "b", prefix + "s"}, setOnly: prefix + "s",
		mset: []string{prefix + "m1", prefix + "m2", prefix + "m3"}, counter: prefix + "ctr", lock: prefix + "lck",
	}
}

// round runs one round until end: clients and faults, then the heal and
// every check.
func (cr *clusterRun) round(r int, end time.Time) {
	cr.prefix = fmt.Sprintf("r%d.", r)
	ks := newRoundKeys(cr.prefix)
	seed := cr.cfg.seed + uint64(r)*1000
	var h history
	cr.initial(&h, ks, seed)

	var stop atomic.Bool
	var wg sync.WaitGroup
	target := func(i int) *clusterTarget {
		return &clusterTarget{ns: cr.net.clients[1+i%(len(cr.net.clients)-1)], nodes: len(cr.nodes.all),
			rng: rand.New(rand.NewPCG(seed, uint64(i)))}
	}
	var remotes []*remote
	for i := range 4 {
		c := &remote{client: 1 + i, d: target(i), cluster: true, pace: 5 * time.Millisecond, stop: &stop,
			gen: newOpGen(int64(2+i), seed+uint64(i), ks.regs, false)}
		c.gen.setOnly = map[string]bool{ks.setOnly: true}
		remotes = append(remotes, c)
		wg.Go(c.run)
	}
	var counters []*counterClient
	for i := range 2 {
		c := &counterClient{t: target(10 + i), key: ks.counter, stop: &stop}
		counters = append(counters, c)
		wg.Go(c.run)
	}
	ms := &msetClient{t: target(20), keys: ks.mset, id: 40, stop: &stop}
	wg.Go(ms.run)
	var stales []*staleReader
	for i := range 2 {
		c := &staleReader{t: target(30 + i), keys: append(slices.Clone(ks.regs), ks.counter), id: i, stop: &stop}
		stales = append(stales, c)
		wg.Go(c.run)
	}
	var lockers []*lockClient
	for i := range 2 {
		c := &lockClient{t: target(40 + i), key: ks.lock, lease: 800 * time.Millisecond, stop: &stop}
		lockers = append(lockers, c)
		wg.Go(c.run)
	}
	var ids atomic.Int64
	ids.Store(100)
	var locals []*local
	for _, n := range cr.nodes.all {
		l := &local{slot: n.k, file: n.file(), keys: ks.regs, setOnly: []string{ks.setOnly}, cluster: true, gate: &n.gate,
			seed: seed + uint64(n.k)*100, clients: &ids, stop: &stop}
		locals = append(locals, l)
		wg.Go(l.run)
	}

	healed := cr.chaos(rand.New(rand.NewPCG(seed, 7)), end)
	stop.Store(true)
	wg.Wait()
	if !healed {
		return
	}
	if err := cr.healAll(); err != nil {
		cr.violate("recovery", "after the last heal of round %d: %v", r, err)
		return
	}
	cr.finalReads(&h, ks)

	for _, c := range remotes {
		h.merge(&c.hist)
		cr.fig.notApplied += c.notApplied
		if c.err != nil {
			cr.violate("replies", "%v", c.err)
		}
	}
	for _, l := range locals {
		h.merge(&l.hist)
		if l.err != nil {
			cr.violate("replies", "%v", l.err)
		}
	}
	ops := h.close()
	cr.checkHistory(r, ops)
	cr.checkCounter(ks, counters)
	cr.checkMSet(ms)
	cr.checkStale(ks, ops, stales, counters)
	cr.checkLocks(lockers)
	cr.checkDigests(r)
	cr.fig.rounds++
}

// checkLocks checks the lock clients' holdings of the round's lock: no
// two holders' intervals overlap, and tokens rise with the grants. Each
// interval lies within the grant's real hold (it begins at the reply and
// ends no later than the lease the leader counts), so disjoint holds give
// disjoint intervals in token order.
func (cr *clusterRun) checkLocks(ls []*lockClient) {
	var all []holding
	for _, c := range ls {
		for _, h := range c.held {
			// A reply that came after the lease's end, as the holder
			// counts it (a delayed or paused path), gives it nothing to
			// rely on: its grant was real, but its interval is empty.
			if h.to.After(h.from) {
				all = append(all, h)
			} else {
				cr.fig.lockLate++
			}
		}
		cr.fig.lockLost += c.lost
	}
	cr.fig.lockGrants += len(all)
	slices.SortFunc(all, func(a, b holding) int { return a.from.Compare(b.from) })
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		switch {
		case b.from.Before(a.to):
			cr.violate("locks", "two holders at once: %v; %v", a, b)
			return
		case b.token <= a.token:
			cr.violate("locks", "token %d granted after token %d", b.token, a.token)
			return
		}
	}
}

// initial sets every register of the round through the leader, so that
// the history starts from known values.
func (cr *clusterRun) initial(h *history, ks roundKeys, seed uint64) {
	g := newOpGen(1, seed, ks.regs, false)
	for _, k := range ks.regs {
		for attempt := 0; ; attempt++ {
			l := cr.leaderOrAny()
			in := input{kind: opSet, key: k, a: g.unique()}
			call := now()
			ctx, cancel := context.WithTimeout(context.Background(), clusterIOTimeout)
			err := l.ctl.Set(ctx, k, in.a, 0).Err()
			cancel()
			if err == nil {
				h.add(0, in, call, output{known: true}, now())
				break
			}
			h.addPending(0, in, call, func() (int64, bool) { return 0, false })
			if attempt == 20 {
				cr.t.Fatalf("the first SET of %s failed 20 times: %v", k, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// chaos runs faults one after the other until end, each after a quiet
// second or two and healed before the next. It reports false if the
// cluster did not recover from one.
func (cr *clusterRun) chaos(rng *rand.Rand, end time.Time) bool {
	var kinds []clusterFault
	for _, f := range clusterFaults {
		if cr.cfg.faults == nil || slices.Contains(cr.cfg.faults, f.name) {
			kinds = append(kinds, f)
		}
	}
	for {
		quiet := time.Second + time.Duration(rng.Int64N(int64(time.Second)))
		if len(kinds) == 0 || time.Now().Add(quiet+3*time.Second).After(end) {
			time.Sleep(time.Until(end))
			return true
		}
		time.Sleep(quiet)
		f := kinds[rng.IntN(len(kinds))]
		cr.fig.faults[f.name]++
		if err := f.run(cr, rng); err != nil {
			cr.logf("fault %s: %v", f.name, err)
		}
		if err := cr.healAll(); err != nil {
			cr.violate("recovery", "after fault %s: %v", f.name, err)
			return false
		}
	}
}

// healAll heals the network, continues and starts every node, and waits
// for a leader that every node names.
func (cr *clusterRun) healAll() error {
	if err := cr.net.heal(); err != nil {
		return err
	}
	for _, n := range cr.nodes.all {
		n.pause(false)
	}
	if err := cr.startDown(); err != nil {
		return err
	}
	_, err := cr.nodes.waitLeader(cr.cfg.recoverWithin)
	return err
}

// finalReads reads every register through every node (linearizable
// reads) into h after the last heal: a lost acknowledged write fails the
// check, and so does a read not answered within recoverWithin.
func (cr *clusterRun) finalReads(h *history, ks roundKeys) {
	for _, n := range cr.nodes.all {
	reads:
		for _, k := range ks.regs {
			in := input{kind: opGet, key: k}
			call := now()
			ctx, cancel := context.WithTimeout(context.Background(), cr.cfg.recoverWithin)
			v, err := n.ctl.Get(ctx, k).Int64()
			cancel()
			if err != nil {
				cr.violate("recovery", "final read of %s through %s: %v", k, n.id, err)
				break reads // one is enough: the others would wait as long
			}
			h.add(0, in, call, output{known: true, val: v}, now())
		}
	}
}

// checkHistory runs porcupine over the round's operations.
func (cr *clusterRun) checkHistory(r int, ops []porcupine.Operation) {
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, cr.cfg.checkTime)
	cr.logf("round %d: %d operations (%s), checked in %v: %s", r, len(ops), counts(ops), time.Since(start).Round(time.Millisecond), res)
	cr.fig.ops += len(ops)
	for _, op := range ops {
		if !op.Output.(output).known {
			cr.fig.unknown++
		}
	}
	if res == porcupine.Ok {
		return
	}
	base := filepath.Join(cr.dir, fmt.Sprintf("round%d", r))
	if err := porcupine.VisualizePath(model, info, base+".html"); err != nil {
		cr.logf("saving the visualization: %v", err)
	}
	if err := writeHistory(base+".txt", ops); err != nil {
		cr.logf("saving the history: %v", err)
	}
	checker := "linearizability"
	if res == porcupine.Unknown {
		checker = "linearizability-undecided"
	}
	cr.violate(checker, "round %d: the history is %s; porcupine's view: %s.html, the history: %s.txt", r, res, base, base)
}

// readInt reads a variable through the leader (linearizable); 0 if missing.
func (cr *clusterRun) readInt(key string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cr.cfg.recoverWithin)
	defer cancel()
	s, err := cr.leaderOrAny().ctl.Get(ctx, key).Result()
	if err != nil {
		if err.Error() == "redis: nil" {
			return 0, nil
		}
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// checkCounter: the counter's final value lies between the increments
// acknowledged and those attempted (acknowledged or unknown).
func (cr *clusterRun) checkCounter(ks roundKeys, cs []*counterClient) {
	var acked, unknown int64
	for _, c := range cs {
		acked += c.acked
		unknown += c.unknown
		if c.err != nil {
			cr.violate("replies", "%v", c.err)
		}
	}
	cr.fig.counterAcked += acked
	cr.fig.counterUnknown += unknown
	v, err := cr.readInt(ks.counter)
	if err != nil {
		cr.violate("recovery", "reading the counter %s: %v", ks.counter, err)
		return
	}
	if v < acked || v > acked+unknown {
		cr.violate("counter", "%s is %d after %d acknowledged and %d unknown increments: want %d to %d", ks.counter, v, acked, unknown, acked, acked+unknown)
	}
}

// checkMSet: no MGET saw the MSET group torn.
func (cr *clusterRun) checkMSet(ms *msetClient) {
	cr.fig.msetReads += ms.reads
	if ms.err != nil {
		cr.violate("replies", "%v", ms.err)
	}
	for i, torn := range ms.torn {
		if i == 5 {
			cr.violate("mset", "and %d more torn reads", len(ms.torn)-5)
			break
		}
		cr.violate("mset", "%s", torn)
	}
}

// checkStale: every READONLY read of the set-only register is a value some
// client wrote (or tried to), a counter never reads above the increments
// attempted, and versions never went backwards on a connection.
func (cr *clusterRun) checkStale(ks roundKeys, ops []porcupine.Operation, rs []*staleReader, cs []*counterClient) {
	written := map[int64]bool{}
	for _, op := range ops {
		in := op.Input.(input)
		if in.key != ks.setOnly {
			continue
		}
		switch in.kind {
		case opSet:
			written[in.a] = true
		case opCAS:
			written[in.b] = true
		}
	}
	var attempted int64
	for _, c := range cs {
		attempted += c.acked + c.unknown + c.refused
	}
	bad := 0
	for _, r := range rs {
		if r.err != nil {
			cr.violate("replies", "%v", r.err)
		}
		cr.fig.staleReads += len(r.seen)
		for _, b := range r.back {
			cr.violate("stale-read", "%s", b)
		}
		for _, s := range r.seen {
			switch {
			case s.key == ks.setOnly && s.value != -1 && !written[s.value],
				s.key == ks.counter && s.value > attempted:
				if bad++; bad <= 5 {
					cr.violate("stale-read", "READONLY GETVER %s through n%d read %d (version %d), which no client wrote", s.key, s.node, s.value, s.version)
				}
			}
		}
	}
}

// checkDigests waits until every node has applied the same index, then
// compares their digests (DEBUG DIGEST): a replica that diverged differs.
func (cr *clusterRun) checkDigests(r int) {
	deadline := time.Now().Add(30 * time.Second)
	var prev string
	for time.Now().Before(deadline) {
		applied := map[string]string{}
		for _, n := range cr.nodes.all {
			if in := n.info(); in != nil {
				applied[n.id] = in["cluster_applied_index"]
			}
		}
		vals := slices.Collect(maps.Values(applied))
		same := len(applied) == len(cr.nodes.all) && len(slices.Compact(slices.Sorted(slices.Values(vals)))) == 1
		now := fmt.Sprint(applied)
		if !same || now != prev {
			prev = now
			time.Sleep(300 * time.Millisecond)
			continue
		}
		digests := map[string]string{}
		for _, n := range cr.nodes.all {
			d, err := n.do(10*time.Second, "DEBUG", "DIGEST")
			if err != nil {
				cr.violate("digest", "DEBUG DIGEST on %s: %v", n.id, err)
				return
			}
			digests[n.id] = fmt.Sprint(d)
		}
		if len(slices.Compact(slices.Sorted(maps.Values(digests)))) == 1 {
			return
		}
		cr.violate("digest", "round %d: every node applied index %s, but their digests differ: %v", r, vals[0], digests)
		return
	}
	cr.violate("convergence", "round %d: the nodes' applied indexes did not meet within 30 s: %s", r, prev)
}

// report is the run's figures in one line.
func (f clusterFigures) report() string {
	var faults []string
	for _, k := range slices.Sorted(maps.Keys(f.faults)) {
		faults = append(faults, fmt.Sprintf("%s %d", k, f.faults[k]))
	}
	var crashes []string
	for _, k := range slices.Sorted(maps.Keys(f.crashes)) {
		crashes = append(crashes, fmt.Sprintf("%s %d", k, f.crashes[k]))
	}
	total := 0
	for _, n := range f.faults {
		total += n
	}
	return fmt.Sprintf("%d operations checked (%d with unknown outcome, %d refused with CLUSTERDOWN), %d rounds; %d faults (%s); crashes at failure points: %s (not reached in time: %v); %d followers cut off past the trailing logs; %d leader changes; counter: %d acknowledged, %d unknown increments; %d MGETs, %d stale reads checked; %d lock grants checked (%d more answered after their lease), %d LOCKLOST",
		f.ops, f.unknown, f.notApplied, f.rounds, total, strings.Join(faults, ", "), strings.Join(crashes, ", "), f.crashMissed,
		f.snapshotGaps, f.leaderChanges, f.counterAcked, f.counterUnknown, f.msetReads, f.staleReads, f.lockGrants, f.lockLate, f.lockLost)
}

// clusterOutDir is where failed runs are kept: DSM_TORTURE_OUT, or the
// system's temporary directory.
func clusterOutDir() string { return outDir() }

// TestClusterTorture puts the cluster (guarantee 9, and 1, 2 and 4 across
// nodes) under fire: see the package documentation. It runs for
// DSM_TORTURE_CLUSTER_DURATION (default 50s) with DSM_TORTURE_NODES nodes
// (default 3); DSM_TORTURE_FAULTS (comma-separated names) limits the faults,
// DSM_TORTURE_KEEP keeps the run's directory even if it passed.
func TestClusterTorture(t *testing.T) {
	needClusterHosts(t)
	total := envDuration(t, "DSM_TORTURE_CLUSTER_DURATION", 50*time.Second)
	nodes := 3
	if v := os.Getenv("DSM_TORTURE_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 3 && n != 5) {
			t.Fatalf("DSM_TORTURE_NODES=%q: want 3 or 5", v)
		}
		nodes = n
	}
	var faults []string
	if v := os.Getenv("DSM_TORTURE_FAULTS"); v != "" {
		faults = strings.Split(v, ",")
		for _, f := range faults {
			if !slices.ContainsFunc(clusterFaults, func(c clusterFault) bool { return c.name == f }) {
				t.Fatalf("DSM_TORTURE_FAULTS: no fault %q", f)
			}
		}
	}
	cfg := clusterConfig{nodes: nodes, duration: total, roundLen: envDuration(t, "DSM_TORTURE_ROUND", time.Minute), faults: faults,
		bin: buildTagged(t, t.TempDir(), "dsmfail"), seed: uint64(time.Now().UnixNano()), out: clusterOutDir(),
		checkTime: 2 * time.Minute, recoverWithin: 30 * time.Second}
	t.Logf("seed %d, %d nodes, %v", cfg.seed, nodes, total)
	cr, found := runCluster(t, cfg)
	t.Logf("cluster torture: %s", cr.fig.report())
	for _, v := range found {
		t.Errorf("[%s] %s", v.checker, v.detail)
	}
	if len(found) == 0 && cr.fig.ops == 0 {
		t.Errorf("no operation was checked")
	}
}

// plantedRuns are the short runs that must catch each planted bug, with
// the faults that bring it out.
var plantedRuns = []struct {
	bug    string
	faults []string
}{
	{planted.AckBeforeCommit, []string{"kill-leader", "partition-leader"}},
	{planted.ReadSkipsLeaderCheck, []string{"partition-leader", "partition-minority"}},
	{planted.RestartIgnoresApplied, []string{"kill-follower", "kill-leader"}},
	{planted.InstallByRename, []string{"snapshot-catchup"}},
	{planted.ForwardRetried, []string{}},
	{planted.LeaseCutShort, []string{}},
}

// TestClusterTortureCatchesPlantedBugs runs a short cluster torture on a
// build with each planted bug (internal/planted) in turn: the checkers must
// find a violation each time, which shows that they can fail.
func TestClusterTortureCatchesPlantedBugs(t *testing.T) {
	needClusterHosts(t)
	if len(plantedRuns) != len(planted.All) {
		t.Fatalf("%d planted runs for %d planted bugs", len(plantedRuns), len(planted.All))
	}
	bin := buildTagged(t, t.TempDir(), "dsmfail,dsmbug")
	dur := envDuration(t, "DSM_TORTURE_BUG_DURATION", 12*time.Second)
	for _, p := range plantedRuns {
		t.Run(p.bug, func(t *testing.T) {
			cfg := clusterConfig{nodes: 3, duration: dur, roundLen: dur, faults: p.faults, bin: bin, bug: p.bug,
				seed: uint64(time.Now().UnixNano()), out: clusterOutDir(), checkTime: 30 * time.Second, recoverWithin: 10 * time.Second, bugRun: true}
			cr, found := runCluster(t, cfg)
			t.Logf("figures: %s", cr.fig.report())
			caught := map[string]int{}
			for _, v := range found {
				if v.checker != "linearizability-undecided" {
					caught[v.checker]++
				}
			}
			if len(caught) == 0 {
				t.Fatalf("planted bug %s was not caught in %v (faults %v)", p.bug, dur, p.faults)
			}
			t.Logf("planted bug %s caught by: %v", p.bug, caught)
		})
	}
}
