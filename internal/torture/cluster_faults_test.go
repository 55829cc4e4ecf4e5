package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/cluster"
)

// A clusterFault puts the cluster under one fault and heals it before it
// returns; the run then restarts any node that is down and waits for a
// leader that every node names before the next one.
type clusterFault struct {
	name string
	run  func(cr *clusterRun, rng *rand.Rand) error
}

// clusterFaults are every fault the torture knows, by name.
var clusterFaults = []clusterFault{
	{"partition-leader", faultPartitionLeader},
	{"partition-minority", faultPartitionMinority},
	{"partition-bridge", faultPartitionBridge},
	{"link-down", faultLinkDown},
	{"packet-loss", faultLoss},
	{"delay", faultDelay},
	{"kill-leader", func(cr *clusterRun, rng *rand.Rand) error { return cr.killRestart(rng, []*node{cr.leaderOrAny()}) }},
	{"kill-follower", func(cr *clusterRun, rng *rand.Rand) error { return cr.killRestart(rng, []*node{cr.follower(rng)}) }},
	{"kill-all", func(cr *clusterRun, rng *rand.Rand) error { return cr.killRestart(rng, cr.nodes.all) }},
	{"pause-leader", faultPauseLeader},
	{"remove-readd", faultRemoveReadd},
	{"snapshot-catchup", func(cr *clusterRun, rng *rand.Rand) error { return cr.snapshotCatchup(rng, "") }},
	{"crash-" + cluster.FailLogStored, func(cr *clusterRun, rng *rand.Rand) error { return cr.crashAt(rng, cluster.FailLogStored) }},
	{"crash-" + cluster.FailApply, func(cr *clusterRun, rng *rand.Rand) error { return cr.crashAt(rng, cluster.FailApply) }},
	{"crash-" + cluster.FailSnapshotTake, func(cr *clusterRun, rng *rand.Rand) error { return cr.crashAt(rng, cluster.FailSnapshotTake) }},
	{"crash-" + cluster.FailSnapshotInstall, func(cr *clusterRun, rng *rand.Rand) error {
		return cr.snapshotCatchup(rng, cluster.FailSnapshotInstall+"@1")
	}},
}

// hold is how long a fault lasts: at least three election timeouts.
func hold(rng *rand.Rand) time.Duration {
	return 3*electionTimeout + time.Duration(rng.Int64N(int64(2*time.Second)))
}

func (cr *clusterRun) leaderOrAny() *node {
	if l := cr.nodes.leader(); l != nil {
		return l
	}
	return cr.nodes.all[0]
}

// follower is a random node that does not lead.
func (cr *clusterRun) follower(rng *rand.Rand) *node {
	l := cr.nodes.leader()
	for {
		n := cr.nodes.all[rng.IntN(len(cr.nodes.all))]
		if n != l {
			return n
		}
	}
}

// split cuts every link between a node of a and a node of b.
func (cr *clusterRun) split(a, b []*node) error {
	for _, x := range a {
		for _, y := range b {
			if err := cr.net.cut(x.k, y.k); err != nil {
				return err
			}
			if err := cr.net.cut(y.k, x.k); err != nil {
				return err
			}
		}
	}
	return nil
}

// others is every node but those of ns.
func (cr *clusterRun) others(ns ...*node) []*node {
	var out []*node
	for _, n := range cr.nodes.all {
		if !slices.Contains(ns, n) {
			out = append(out, n)
		}
	}
	return out
}

func (cr *clusterRun) holdAndHeal(rng *rand.Rand) error {
	time.Sleep(hold(rng))
	return cr.net.heal()
}

func faultPartitionLeader(cr *clusterRun, rng *rand.Rand) error {
	l := cr.leaderOrAny()
	if err := cr.split([]*node{l}, cr.others(l)); err != nil {
		return err
	}
	return cr.holdAndHeal(rng)
}

// faultPartitionMinority cuts a random minority (with or without the
// leader) from the majority.
func faultPartitionMinority(cr *clusterRun, rng *rand.Rand) error {
	all := slices.Clone(cr.nodes.all)
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	m := 1 + rng.IntN((len(all)-1)/2)
	if err := cr.split(all[:m], all[m:]); err != nil {
		return err
	}
	return cr.holdAndHeal(rng)
}

// faultPartitionBridge leaves one node that sees both sides of a split
// that the others cannot cross.
func faultPartitionBridge(cr *clusterRun, rng *rand.Rand) error {
	all := slices.Clone(cr.nodes.all)
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	rest := all[1:]
	half := len(rest) / 2
	if err := cr.split(rest[:half], rest[half:]); err != nil {
		return err
	}
	return cr.holdAndHeal(rng)
}

func faultLinkDown(cr *clusterRun, rng *rand.Rand) error {
	n := cr.nodes.all[rng.IntN(len(cr.nodes.all))]
	if err := cr.net.link(n.k, false); err != nil {
		return err
	}
	return cr.holdAndHeal(rng)
}

// faultLoss drops 10-40% of the packets that reach one node, or every
// node, from the others.
func faultLoss(cr *clusterRun, rng *rand.Rand) error {
	p := 0.1 + 0.3*rng.Float64()
	targets := []*node{cr.nodes.all[rng.IntN(len(cr.nodes.all))]}
	if rng.IntN(2) == 0 {
		targets = cr.nodes.all
	}
	for _, n := range targets {
		if err := cr.net.lose(n.k, p); err != nil {
			return err
		}
	}
	return cr.holdAndHeal(rng)
}

// faultDelay puts a proxy that delays every chunk by 20-150 ms in front
// of one node's cluster port, or every node's.
func faultDelay(cr *clusterRun, rng *rand.Rand) error {
	d := 20*time.Millisecond + time.Duration(rng.Int64N(int64(130*time.Millisecond)))
	targets := []*node{cr.nodes.all[rng.IntN(len(cr.nodes.all))]}
	if rng.IntN(2) == 0 {
		targets = cr.nodes.all
	}
	var proxies []*delayProxy
	defer func() {
		for _, p := range proxies {
			p.close()
		}
	}()
	for _, n := range targets {
		p, err := cr.net.startDelay(n.k, d)
		if err != nil {
			return err
		}
		proxies = append(proxies, p)
	}
	return cr.holdAndHeal(rng)
}

// faultPauseLeader stops the leader with SIGSTOP for 3 to 8 election
// timeouts.
func faultPauseLeader(cr *clusterRun, rng *rand.Rand) error {
	l := cr.leaderOrAny()
	l.pause(true)
	time.Sleep(3*electionTimeout + time.Duration(rng.Int64N(int64(5*electionTimeout))))
	l.pause(false)
	return nil
}

// killRestart SIGKILLs ns and restarts them after 0.1-1 s.
func (cr *clusterRun) killRestart(rng *rand.Rand, ns []*node) error {
	for _, n := range ns {
		n.kill()
	}
	time.Sleep(100*time.Millisecond + time.Duration(rng.Int64N(int64(900*time.Millisecond))))
	return cr.startDown()
}

// startDown starts every node that is down.
func (cr *clusterRun) startDown() error {
	errs := make(chan error, len(cr.nodes.all))
	count := 0
	for _, n := range cr.nodes.all {
		if c, _ := n.running(); c == nil {
			count++
			go func() { errs <- cr.nodes.start(n, "") }()
		}
	}
	var first error
	for range count {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// faultRemoveReadd removes a follower from the cluster, stops it, wipes
// its file and Raft state, and adds it again with -join: it comes back
// from a snapshot.
func faultRemoveReadd(cr *clusterRun, rng *rand.Rand) error {
	f := cr.follower(rng)
	if err := cr.remove(f); err != nil {
		return err
	}
	f.gate.Lock() // its local process stops before the file goes
	defer f.gate.Unlock()
	f.kill()
	if err := os.RemoveAll(f.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	f.join = true
	if err := cr.nodes.start(f, ""); err != nil {
		return err
	}
	f.join = false // from now on it has state, and restarts as it was
	_, err := cr.nodes.waitLeader(2 * cr.cfg.recoverWithin)
	return err
}

// remove removes f from the cluster, through the leader, and returns once
// the leader counts one voter fewer. Wiping a node that is still a voter
// would break Raft's premises (a voter keeps what it stored), so a removal
// whose outcome is not known is asked again.
func (cr *clusterRun) remove(f *node) error {
	want := strconv.Itoa(len(cr.nodes.all) - 1)
	var last error
	for range 5 {
		l := cr.leaderOrAny()
		if _, err := l.do(30*time.Second, "CLUSTER", "REMOVE", f.id); err != nil {
			last = fmt.Errorf("CLUSTER REMOVE %s through %s: %w", f.id, l.id, err)
		}
		for range 20 {
			if l := cr.nodes.leader(); l != nil && l != f && l.info()["cluster_voters"] == want {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return fmt.Errorf("%s is still a voter: %v", f.id, last)
}

// snapshotCatchup cuts a follower off until the leader has compacted the
// log past it, so that it must install a snapshot when the cut heals;
// failpoint, if set, is armed in it meanwhile.
func (cr *clusterRun) snapshotCatchup(rng *rand.Rand, failpoint string) error {
	l := cr.leaderOrAny()
	f := cr.follower(rng)
	if err := cr.split([]*node{f}, cr.others(f)); err != nil {
		return err
	}
	if failpoint != "" {
		f.kill()
		if err := cr.nodes.start(f, failpoint); err != nil {
			return err
		}
	}
	// More entries than the leader keeps after a snapshot
	// (-cluster-trailing-logs 256), with the clients', then a snapshot.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pipe := l.ctl.Pipeline()
	for i := range 300 {
		pipe.Set(ctx, cr.prefix+"fill", i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		cr.logf("snapshot-catchup: filling through %s: %v (the leader may have changed)", l.id, err)
	}
	if _, err := l.do(30*time.Second, "CLUSTER", "SNAPSHOT"); err != nil {
		cr.logf("snapshot-catchup: CLUSTER SNAPSHOT on %s: %v", l.id, err)
	}
	// Raft's indexes count entries that apply nothing too, so a gap of
	// applied indexes well past the trailing logs means a snapshot.
	la, _ := strconv.Atoi(l.info()["cluster_applied_index"])
	fa, _ := strconv.Atoi(f.info()["cluster_applied_index"])
	if la-fa > 2*256 {
		cr.fig.snapshotGaps++
	}
	if err := cr.net.heal(); err != nil {
		return err
	}
	if failpoint != "" {
		cr.awaitCrash(f, 10*time.Second, failpoint)
	}
	return cr.catchUp(f, cr.cfg.recoverWithin)
}

// crashAt restarts a random node with point armed at a random pass and
// waits for it to crash there; a snapshot is asked of it for the snapshot
// points. The node is restarted without it afterwards.
func (cr *clusterRun) crashAt(rng *rand.Rand, point string) error {
	n := cr.nodes.all[rng.IntN(len(cr.nodes.all))]
	hit := 1 + rng.IntN(40)
	if point == cluster.FailSnapshotTake {
		hit = 1
	}
	arm := point + "@" + strconv.Itoa(hit)
	n.kill()
	if err := cr.nodes.start(n, arm); err != nil {
		// It may crash at the point before it listens: the log says so.
		if c, _ := n.running(); c == nil {
			cr.fig.crashes[point]++
			return nil
		}
		return err
	}
	if point == cluster.FailSnapshotTake {
		n.do(10*time.Second, "CLUSTER", "SNAPSHOT")
	}
	cr.awaitCrash(n, 5*time.Second, arm)
	return nil
}

// awaitCrash waits up to within for n to kill itself at its armed point,
// and counts it; a node that did not is killed.
func (cr *clusterRun) awaitCrash(n *node, within time.Duration, arm string) {
	cmd, exited := n.running()
	if cmd == nil {
		return
	}
	point, _, _ := strings.Cut(arm, "@")
	select {
	case <-exited:
		n.forget()
		cr.fig.crashes[point]++
	case <-time.After(within):
		cr.fig.crashMissed[point]++
		n.kill()
	}
}

// catchUp waits until n has applied what the leader has.
func (cr *clusterRun) catchUp(n *node, within time.Duration) error {
	if err := cr.startDown(); err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if l := cr.nodes.leader(); l != nil {
			li, ni := l.info(), n.info()
			if li != nil && ni != nil && li["cluster_applied_index"] == ni["cluster_applied_index"] {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not catch up with the leader within %v; its log: %s", n.id, within, filepath.Base(n.logPath))
}
