package cluster_test

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
)

// writes proposes a mix of every replicated command and checks the replies.
func writes(t *testing.T, c *testCluster) uint64 {
	t.Helper()
	steps := []struct {
		line string
		want cluster.Reply
	}{
		{"SET a 1", cluster.Reply{Stored: true}},
		{"SET a 2 NX", cluster.Reply{}},
		{"SET b hello XX", cluster.Reply{}},
		{"SET b hello", cluster.Reply{Stored: true}},
		{"INCRBY a 5", cluster.Reply{N: 6}},
		{"DECR a", cluster.Reply{N: 5}},
		{"CAS b hello world", cluster.Reply{Stored: true}},
		{"CAS b hello again", cluster.Reply{}},
		{"MSET x 1 y 2 z 3", cluster.Reply{Stored: true}},
		{"DEL y z nope", cluster.Reply{N: 2}},
		{"SET z again", cluster.Reply{Stored: true}}, // a slot reused alike
	}
	var last uint64
	for _, s := range steps {
		r := c.propose(s.line)
		if r.Stored != s.want.Stored || r.N != s.want.N {
			t.Fatalf("%s: got %+v, want %+v", s.line, r, s.want)
		}
		last = r.Index
	}
	return last
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
	last := writes(t, c)
	c.converged(last)
	vars := sameEverywhere(t, c)
	if vars["a"] != "5@3" || !strings.HasPrefix(vars["b"], "world@") || vars["x"] != "1@1" || vars["y"] != "" {
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
	// A failing command is refused alike everywhere and still applied.
	if _, err := c.leader().node.Propose(t.Context(), args("INCR b")); err == nil {
		t.Error("INCR of a string succeeded")
	}
	if _, err := c.leader().node.Propose(t.Context(), [][]byte{[]byte("SET"), []byte(cluster.AppliedName), []byte("1")}); err == nil {
		t.Error("SET of the reserved name succeeded")
	}
	r := c.propose("INCR a")
	c.converged(r.Index)
	sameEverywhere(t, c)
}

func TestFailoverAndRestart(t *testing.T) {
	c := newCluster(t, 3)
	const n = 20
	for range n {
		c.propose("INCR count")
	}
	old := c.leader()
	c.stop(old)
	var last cluster.Reply
	for i := range n {
		last = c.propose("INCR count")
		if last.N != int64(n+i+1) {
			t.Fatalf("INCR after failover returned %d, want %d", last.N, n+i+1)
		}
	}
	c.restart(old)
	c.converged(last.Index)
	// The restarted node replayed the log from its own applied index:
	// an entry applied twice would show in the count or its version.
	vars := sameEverywhere(t, c)
	if want := fmt.Sprintf("%d@%d", 2*n, 2*n); vars["count"] != want {
		t.Errorf("count is %s, want %s", vars["count"], want)
	}
	r := c.propose("INCR count")
	if r.N != 2*n+1 {
		t.Errorf("INCR returned %d, want %d", r.N, 2*n+1)
	}
}

// A node that lost its file and is behind the leader's compacted log
// catches up from snapshots: its own at start, then the leader's.
func TestCatchUpFromSnapshots(t *testing.T) {
	c := newCluster(t, 3)
	var last cluster.Reply
	for i := range 10 {
		last = c.propose(fmt.Sprintf("MSET k%d %d n %d", i, i, i))
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
