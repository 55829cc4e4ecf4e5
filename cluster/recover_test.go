package cluster_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
)

// copyFile copies src over dst; both files are closed.
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// recoverAlone recovers m, stopped, as the one voter of a new cluster.
func (c *testCluster) recoverAlone(m *member) cluster.Recovered {
	c.tb.Helper()
	m.mem = openMem(c.tb, m.path)
	defer func() { m.mem.Close(); m.mem = nil }()
	r, err := cluster.Recover(cluster.RecoverConfig{
		ID: m.id, Voters: []cluster.Peer{{ID: m.id, Addr: m.addr}}, Memory: m.mem, Applier: testApplier{},
	})
	if err != nil {
		c.tb.Fatal(err)
	}
	return r
}

// TestRecoverKeepsTheLog: the survivor of a cluster that lost its
// majority, recovered alone, restarts as a one-node cluster whose file
// holds every write of its log, including those its file had not applied
// (here: a copy of the file from before them), and takes new writes.
func TestRecoverKeepsTheLog(t *testing.T) {
	c := newCluster(t, 3)
	for i := range 10 {
		c.propose(fmt.Sprintf("SET a%d %d", i, i))
	}
	survivor := c.followers()[0]
	c.converged(c.propose("INCR n").Index)
	c.stop(survivor)
	old := survivor.path + ".old"
	copyFile(t, survivor.path, old)
	c.restart(survivor)
	for i := range 10 {
		c.propose(fmt.Sprintf("SET b%d %d", i, i))
	}
	last := c.propose("INCR n")
	c.converged(last.Index)
	want := dump(t, survivor.mem)
	for _, m := range c.members {
		c.stop(m)
	}
	// The file goes back to before the b writes; the log still has them.
	copyFile(t, old, survivor.path)

	r := c.recoverAlone(survivor)
	if r.Applied != last.Index || r.Index < last.Index {
		t.Errorf("recovered: %+v, want applied %d at or below the snapshot's index", r, last.Index)
	}
	c.voters = []cluster.Peer{{ID: survivor.id, Addr: survivor.addr}}
	c.restart(survivor)
	if l := c.leader(); l != survivor {
		t.Fatalf("leader %s, want the survivor %s", l.id, survivor.id)
	}
	if got := dump(t, survivor.mem); !maps.Equal(got, want) {
		t.Errorf("after recovery the file has\n%v\nwant\n%v", got, want)
	}
	if st := survivor.node.Status(); st.Voters != 1 {
		t.Errorf("recovered node sees %d voters, want 1", st.Voters)
	}
	if r := c.propose("INCR n"); string(r.Data) != "3" {
		t.Errorf("INCR n after recovery: %q, want 3", r.Data)
	}
}

// TestRecoverAfterSnapshot: a survivor whose log was compacted into a
// snapshot keeps its file as it is (no reinstall moves versions) and the
// writes after the snapshot.
func TestRecoverAfterSnapshot(t *testing.T) {
	c := newCluster(t, 3)
	for i := range 5 {
		c.propose(fmt.Sprintf("SET a%d %d", i, i))
	}
	survivor := c.followers()[0]
	c.converged(c.propose("INCR n").Index)
	if err := survivor.node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.converged(c.propose("SET after snapshot").Index)
	want := dump(t, survivor.mem)
	for _, m := range c.members {
		c.stop(m)
	}
	c.recoverAlone(survivor)
	c.voters = []cluster.Peer{{ID: survivor.id, Addr: survivor.addr}}
	c.restart(survivor)
	c.leader()
	if got := dump(t, survivor.mem); !maps.Equal(got, want) {
		t.Errorf("after recovery the file has\n%v\nwant\n%v", got, want)
	}
}

// TestRecoverRefuses: Recover leaves a running node, a directory without
// Raft state and a configuration without this node alone.
func TestRecoverRefuses(t *testing.T) {
	c := newCluster(t, 1)
	m := c.leader()
	cfg := cluster.RecoverConfig{ID: m.id, Voters: []cluster.Peer{{ID: m.id, Addr: m.addr}}, Memory: m.mem, Applier: testApplier{}}
	if _, err := cluster.Recover(cfg); !errors.Is(err, cluster.ErrInUse) {
		t.Errorf("while the node runs: %v, want ErrInUse", err)
	}
	empty := cfg
	empty.Dir = t.TempDir()
	if _, err := cluster.Recover(empty); !errors.Is(err, cluster.ErrNoState) {
		t.Errorf("without Raft state: %v, want ErrNoState", err)
	}
	other := cfg
	other.Voters = []cluster.Peer{{ID: "elsewhere", Addr: m.addr}}
	if _, err := cluster.Recover(other); !errors.Is(err, cluster.ErrConfig) {
		t.Errorf("without this node among the voters: %v, want ErrConfig", err)
	}
}
