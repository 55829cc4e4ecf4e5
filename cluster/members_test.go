package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
)

// Every node learns the others' client addresses; Probe tells an outsider
// the cluster's seed, capacities and leader, and only with the secret.
func TestHelloStatusMembers(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	for _, m := range c.members {
		waitFor(t, m.id+" to learn the leader's client address", func() bool {
			s := m.node.Status()
			return s.LeaderClientAddr == clientAddr(l.id) && s.Voters == 3 && s.LeaderID == l.id
		})
		want := "follower"
		if m == l {
			want = "leader"
		}
		if got := m.node.Status().Role; got != want {
			t.Errorf("%s's role is %q, want %q", m.id, got, want)
		}
		ms, err := m.node.Members(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 3 {
			t.Fatalf("%s lists members %+v", m.id, ms)
		}
		for _, x := range ms {
			if x.ClientAddr != clientAddr(x.ID) || x.Leader != (x.ID == l.id) || !x.Voter {
				t.Errorf("%s lists member %+v", m.id, x)
			}
		}
	}
	f := c.followers()[0]
	h, err := cluster.Probe(t.Context(), f.addr, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != f.id || h.RaftAddr != f.addr || h.ClientAddr != clientAddr(f.id) || h.Seed != testSeed ||
		h.Limits != f.mem.Limits() || h.LeaderID != l.id || h.LeaderClientAddr != clientAddr(l.id) {
		t.Errorf("Probe: %+v", h)
	}
	if _, err := cluster.Probe(t.Context(), f.addr, []byte("wrong")); !errors.Is(err, cluster.ErrAuth) {
		t.Errorf("Probe with a wrong secret: %v, want ErrAuth", err)
	}
}

// addMember starts a node with no state and no voters on a new listener:
// it waits to be added.
func (c *testCluster) addMember(id string) *member {
	c.tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.tb.Fatal(err)
	}
	m := &member{id: id, addr: ln.Addr().String(), path: filepath.Join(c.tb.TempDir(), "mem")}
	m.mem = openMem(c.tb, m.path)
	voters := c.voters
	c.voters = nil
	c.start(m, ln)
	c.voters = voters
	c.members = append(c.members, m)
	return m
}

// A node joins through a follower, catches up from a snapshot (the log it
// needs was compacted), and then votes.
func TestJoinCatchesUpAndVotes(t *testing.T) {
	c := newCluster(t, 3, func(cfg *cluster.Config) { cfg.SnapshotThreshold = 16 })
	var last cluster.Reply
	for i := range 40 {
		r, err := c.write(c.members[i%3], fmt.Sprintf("SET k%d %d", i%10, i))
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	c.converged(last.Index)
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	// The newcomer learns the cluster's seed and capacities first.
	via := c.followers()[0]
	h, err := cluster.Probe(t.Context(), via.addr, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != via.id || h.ClientAddr != clientAddr(via.id) || h.Seed != testSeed || h.Limits != via.mem.Limits() || h.LeaderID != c.leader().id {
		t.Errorf("Probe: %+v", h)
	}
	if _, err := cluster.Probe(t.Context(), via.addr, []byte("wrong")); !errors.Is(err, cluster.ErrAuth) {
		t.Errorf("Probe with a wrong secret: %v, want ErrAuth", err)
	}
	n3 := c.addMember("n3")
	if s := n3.node.Status(); s.LeaderID != "" || s.Role != "learner" {
		t.Errorf("a node nobody added: %+v", s)
	}
	if err := cluster.JoinVia(t.Context(), via.addr, testSecret, n3.id, n3.addr); err != nil {
		t.Fatal(err)
	}
	// The join is committed when JoinVia returns; the follower asked
	// learns of it with the next append.
	var ms []cluster.Member
	waitFor(t, "n3 to be a voter", func() bool {
		var err error
		if ms, err = via.node.Members(t.Context()); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ms, func(m cluster.Member) bool { return m.ID == "n3" })
		return i >= 0 && ms[i].Voter
	})
	i := slices.IndexFunc(ms, func(m cluster.Member) bool { return m.ID == "n3" })
	if len(ms) != 4 || ms[i].RaftAddr != n3.addr || ms[i].ClientAddr != clientAddr("n3") {
		t.Errorf("members after the join: %+v", ms)
	}
	if got, want := values(t, n3.mem), values(t, c.leader().mem); len(got) < 10 || !maps.Equal(got, want) {
		t.Errorf("the new node holds %v, the leader %v", got, want)
	}
	if got := n3.node.Raft().Stats()["last_snapshot_index"]; got == "0" || got == "" {
		t.Errorf("the new node did not catch up from a snapshot (last snapshot %q)", got)
	}
	// Joining again is a no-op.
	if err := n3.node.Join(t.Context(), n3.id, n3.addr); err != nil {
		t.Errorf("second join: %v", err)
	}
	// It votes: with one of the first three stopped, a write commits
	// only with its vote (3 of 4).
	for _, m := range c.followers() {
		if m != n3 {
			c.stop(m)
			break
		}
	}
	r, err := c.write(n3, "SET after join")
	if err != nil {
		t.Fatalf("with 3 of 4 voters, the new one among them: %v", err)
	}
	c.converged(r.Index)
}

// Transfer and Remove work from any node; Status and Members tell every
// node's client address and the leader's.
func TestTransferRemoveStatus(t *testing.T) {
	var mu sync.Mutex
	roles := map[string][]string{}
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		id := cfg.ID
		cfg.OnRoleChange = func(role, leader string) {
			mu.Lock()
			roles[id] = append(roles[id], role+"/"+leader)
			mu.Unlock()
		}
	})
	l := c.leader()
	for _, m := range c.members {
		waitFor(t, m.id+" to learn the leader's client address", func() bool {
			s := m.node.Status()
			return s.LeaderClientAddr == clientAddr(l.id) && s.Voters == 3 && s.LeaderID == l.id
		})
	}
	f := c.followers()
	// To a named node, asked from the other follower.
	if err := f[1].node.Transfer(t.Context(), f[0].id); err != nil {
		t.Fatal(err)
	}
	if got := c.leader(); got != f[0] {
		t.Fatalf("leader %s after a transfer to %s", got.id, f[0].id)
	}
	// To any node.
	if err := l.node.Transfer(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if c.leader() == f[0] {
		t.Error("the leader stayed after a transfer to any node")
	}
	// Remove, asked from the node removed.
	gone := c.followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := gone.node.Remove(ctx, gone.id); err != nil {
		t.Fatal(err)
	}
	stay := c.leader()
	ms, err := stay.node.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || slices.ContainsFunc(ms, func(m cluster.Member) bool { return m.ID == gone.id }) {
		t.Errorf("members after removing %s: %+v", gone.id, ms)
	}
	for _, m := range ms {
		if m.ClientAddr != clientAddr(m.ID) || m.Leader != (m.ID == stay.id) || !m.Voter {
			t.Errorf("member %+v", m)
		}
	}
	if _, err := c.write(stay, "SET after remove"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(roles[f[0].id]) < 2 || !slices.Contains(roles[f[0].id], "leader/"+f[0].id) {
		t.Errorf("%s's role changes: %v", f[0].id, roles[f[0].id])
	}
	if got := stay.node.Metrics().LeaderChanges; got < 2 {
		t.Errorf("LeaderChanges = %d after two transfers", got)
	}
}

// A peer's Hello can reach a node while it starts (nodes greet each other
// every watch tick): the node answers it once its Raft is up, rather than
// read a Raft it does not have yet. The Probes connect before the node
// listens, so they are served as soon as it does.
func TestHelloWhileStarting(t *testing.T) {
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		mem := openMem(t, filepath.Join(t.TempDir(), "mem"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range cap(errs) {
			wg.Go(func() {
				_, err := cluster.Probe(ctx, addr, testSecret)
				errs <- err
			})
		}
		time.Sleep(20 * time.Millisecond) // the Probes wait in the listen backlog
		node, err := cluster.NewNode(cluster.Config{
			ID: "n0", Addr: addr, Listener: ln, Memory: mem, Applier: testApplier{},
			Voters: []cluster.Peer{{ID: "n0", Addr: addr}}, Secret: testSecret, ClientAddr: clientAddr("n0"),
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		cancel()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a Probe while the node started: %v", err)
			}
		}
		if err := node.Shutdown(); err != nil {
			t.Error(err)
		}
		mem.Close()
	}
}
