package cluster_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
)

// writes proposes a mix of the test applier's commands, checks the
// replies the proposer gets back and returns their log indexes.
func writes(t *testing.T, c *testCluster) []uint64 {
	t.Helper()
	steps := []struct{ line, want string }{
		{"SET a 1", "OK"},
		{"SET b hello", "OK"},
		{"INCR a", "2"},
		{"INCR a", "3"},
		{"SET x 1", "OK"},
		{"SET y 2", "OK"},
		{"SET z 3", "OK"},
		{"DEL y z nope z", "2"},
		{"SET z again", "OK"}, // a slot reused alike
	}
	var at []uint64
	for _, s := range steps {
		r := c.propose(s.line)
		if string(r.Data) != s.want {
			t.Fatalf("%s: got %q, want %q", s.line, r.Data, s.want)
		}
		at = append(at, r.Index)
	}
	return at
}

// num is an INCR reply as a number.
func num(tb testing.TB, r cluster.Reply) int64 {
	tb.Helper()
	n, err := strconv.ParseInt(string(r.Data), 10, 64)
	if err != nil {
		tb.Fatalf("reply %q at %d: %v", r.Data, r.Index, err)
	}
	return n
}

// sameEverywhere checks that every running node's file holds the same
// variables, values and versions, the applied index included.
func sameEverywhere(t *testing.T, c *testCluster) map[string]string {
	t.Helper()
	var want map[string]string
	for _, m := range c.members {
		if m.node == nil {
			continue
		}
		got := dump(t, m.mem)
		if want == nil {
			want = got
		} else if !maps.Equal(got, want) {
			t.Fatalf("%s holds %v, another node %v", m.id, got, want)
		}
	}
	return want
}

func TestReplicates(t *testing.T) {
	c := newCluster(t, 3)
	at := writes(t, c)
	last := at[len(at)-1]
	c.converged(last)
	vars := sameEverywhere(t, c)
	// A variable starts at its creating entry's CreateVersion.
	cv := func(i int) uint64 { return cluster.CreateVersion(at[i]) }
	if vars["a"] != fmt.Sprintf("3@%d", cv(0)+2) || vars["b"] != fmt.Sprintf("hello@%d", cv(1)) ||
		vars["x"] != fmt.Sprintf("1@%d", cv(4)) || vars["y"] != "" || vars["z"] != fmt.Sprintf("again@%d", cv(8)) {
		t.Errorf("variables %v", vars)
	}
	// The last write was the last entry: every node's file is at Raft's
	// applied index.
	for _, m := range c.members {
		waitFor(t, m.id+"'s applied index", func() bool {
			s := m.node.Status()
			return s.FileApplied == s.AppliedIndex && s.FileApplied == last
		})
	}
	// A failing command is refused alike everywhere and still applied:
	// by the applier's Apply, by its Keys, and by the FSM for a reserved
	// name before the applier sees it.
	if _, err := c.leader().node.Propose(t.Context(), args("INCR b")); err == nil {
		t.Error("INCR of a string succeeded")
	}
	if _, err := c.leader().node.Propose(t.Context(), args("CAS b hello x")); err == nil {
		t.Error("a command the applier does not know succeeded")
	}
	for _, line := range [][][]byte{
		{[]byte("SET"), []byte(cluster.AppliedName), []byte("1")},
		{[]byte("DEL"), []byte("a"), []byte(cluster.AppliedName)},
	} {
		if _, err := c.leader().node.Propose(t.Context(), line); !errors.Is(err, cluster.ErrReservedName) {
			t.Errorf("%q: %v, want ErrReservedName", line, err)
		}
	}
	r := c.propose("INCR a")
	c.converged(r.Index)
	sameEverywhere(t, c)
}

func TestFailoverAndRestart(t *testing.T) {
	c := newCluster(t, 3)
	const n = 20
	first := c.propose("INCR count")
	for range n - 1 {
		c.propose("INCR count")
	}
	old := c.leader()
	c.stop(old)
	var last cluster.Reply
	for i := range n {
		last = c.propose("INCR count")
		if got := num(t, last); got != int64(n+i+1) {
			t.Fatalf("INCR after failover returned %d, want %d", got, n+i+1)
		}
	}
	c.restart(old)
	c.converged(last.Index)
	// The restarted node replayed the log from its own applied index:
	// an entry applied twice would show in the count or its version.
	vars := sameEverywhere(t, c)
	if want := fmt.Sprintf("%d@%d", 2*n, cluster.CreateVersion(first.Index)+2*n-1); vars["count"] != want {
		t.Errorf("count is %s, want %s", vars["count"], want)
	}
	r := c.propose("INCR count")
	if got := num(t, r); got != 2*n+1 {
		t.Errorf("INCR returned %d, want %d", got, 2*n+1)
	}
}

// A node that lost its file and is behind the leader's compacted log
// catches up from snapshots: its own at start, then the leader's.
func TestCatchUpFromSnapshots(t *testing.T) {
	c := newCluster(t, 3)
	var last cluster.Reply
	for i := range 10 {
		c.propose(fmt.Sprintf("SET k%d %d", i, i))
		last = c.propose(fmt.Sprintf("SET n %d", i))
	}
	c.converged(last.Index)
	f := c.members[0]
	if f == c.leader() {
		f = c.members[1]
	}
	if err := f.node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.stop(f)
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		last = c.propose(fmt.Sprintf("INCR n%d", i))
	}
	c.propose("DEL k0")
	last = c.propose("SET k1 changed")
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	c.converged(last.Index)
	want := values(t, c.leader().mem)
	if got := values(t, f.mem); !maps.Equal(got, want) {
		t.Errorf("caught-up node holds %v, the leader %v", got, want)
	}
	// It applies new entries on top.
	last = c.propose("INCR n")
	c.converged(last.Index)
	if v, _, _ := f.mem.Get([]byte("n")); v.String() != "10" {
		t.Errorf("n is %v, want 10", v)
	}
}
