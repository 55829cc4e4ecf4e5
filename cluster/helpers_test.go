package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// wait is how long a test waits for an election or a catch-up: generous,
// for a loaded 2-core machine under -race.
const wait = 15 * time.Second

// leaderWait is the test clusters' Config.LeaderWait, below the default
// to keep the tests that find no leader short.
const leaderWait = time.Second

// testSeed is the hash seed of every test file, as BootstrapSeed gives a
// cluster's nodes one seed.
const testSeed = 0x5eed

func openMem(tb testing.TB, path string) *shm.Memory {
	tb.Helper()
	m, err := shm.Open(shm.Config{Path: path, Vars: 512, GroupMax: 64, Seed: testSeed})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// args splits a command line into arguments.
func args(line string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(line) {
		out = append(out, []byte(f))
	}
	return out
}

// dump returns every variable of m as "value@version", the reserved ones
// included.
func dump(tb testing.TB, m *shm.Memory) map[string]string {
	tb.Helper()
	out := map[string]string{}
	var cursor uint64
	for {
		var names []string
		next, err := m.Scan(cursor, func(name []byte, _ uint64) bool {
			names = append(names, string(name))
			return true
		})
		if err != nil {
			tb.Fatal(err)
		}
		for _, n := range names {
			v, ver, err := m.Get([]byte(n))
			if err != nil {
				tb.Fatal(err)
			}
			out[n] = fmt.Sprintf("%v@%d", v, ver)
		}
		if next == 0 {
			return out
		}
		cursor = next
	}
}

// member is one node of a test cluster with what it needs to restart.
type member struct {
	id, addr, path string
	mem            *shm.Memory
	node           *cluster.Node
	lag            atomic.Int64 // delays each apply (testApplier.lag)
}

type testCluster struct {
	tb      testing.TB
	members []*member
	voters  []cluster.Peer
	opts    []option
}

// option changes the config of every node of a test cluster.
type option func(*cluster.Config)

// testSecret is the cluster secret of test clusters.
var testSecret = []byte("test secret")

// clientAddr is the client address a test node advertises.
func clientAddr(id string) string { return "client-of-" + id + ":6379" }

// newCluster starts n nodes on loopback, each with its own file, and
// bootstraps them as voters of one cluster.
func newCluster(tb testing.TB, n int, opts ...option) *testCluster {
	tb.Helper()
	c := &testCluster{tb: tb, opts: opts}
	var lns []net.Listener
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		m := &member{id: fmt.Sprintf("n%d", i), addr: ln.Addr().String(), path: filepath.Join(tb.TempDir(), "mem")}
		c.members = append(c.members, m)
		c.voters = append(c.voters, cluster.Peer{ID: m.id, Addr: m.addr})
	}
	for i, m := range c.members {
		m.mem = openMem(tb, m.path)
		c.start(m, lns[i])
	}
	tb.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})
	return c
}

// start starts m's node on ln, or listening on its address again if nil.
func (c *testCluster) start(m *member, ln net.Listener) {
	c.tb.Helper()
	cfg := cluster.Config{
		ID: m.id, Addr: m.addr, Listener: ln, Memory: m.mem, Applier: testApplier{lag: &m.lag}, Voters: c.voters,
		Secret: testSecret, ClientAddr: clientAddr(m.id), TrailingLogs: 2, LeaderWait: leaderWait,
	}
	for _, o := range c.opts {
		o(&cfg)
	}
	node, err := cluster.NewNode(cfg)
	if err != nil {
		c.tb.Fatal(err)
	}
	m.node = node
}

// stop shuts m's node down and closes its file.
func (c *testCluster) stop(m *member) {
	if m.node != nil {
		if err := m.node.Shutdown(); err != nil {
			c.tb.Error(err)
		}
		m.node = nil
	}
	if m.mem != nil {
		m.mem.Close()
		m.mem = nil
	}
}

// restart reopens m's file and starts its node again with the same dirs.
func (c *testCluster) restart(m *member) {
	c.tb.Helper()
	m.mem = openMem(c.tb, m.path)
	c.start(m, nil)
}

// leader waits until exactly one running node is leader and returns it.
func (c *testCluster) leader() *member {
	c.tb.Helper()
	var found *member
	waitFor(c.tb, "a leader", func() bool {
		found = nil
		for _, m := range c.members {
			if m.node != nil && m.node.IsLeader() {
				if found != nil {
					return false
				}
				found = m
			}
		}
		return found != nil
	})
	return found
}

// propose proposes on the leader, retrying while leadership moves.
func (c *testCluster) propose(line string) cluster.Reply {
	c.tb.Helper()
	deadline := time.Now().Add(wait)
	for {
		l := c.leader()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := l.node.Propose(ctx, args(line))
		cancel()
		if err == nil {
			return r
		}
		// A write that may not have been applied is sent again only if
		// it is idempotent (a SET, a DEL): a leader starved on a loaded
		// machine may step down in the middle of any test.
		retry := errors.Is(err, cluster.ErrNotLeader) ||
			errors.Is(err, cluster.ErrUnknownOutcome) && (strings.HasPrefix(line, "SET ") || strings.HasPrefix(line, "DEL "))
		if !retry || time.Now().After(deadline) {
			c.tb.Fatalf("%s: %v", line, err)
		}
	}
}

// converged waits until every running node's file holds the entry at
// index, and checks that the file's recorded index is the FSM's.
func (c *testCluster) converged(index uint64) {
	c.tb.Helper()
	for _, m := range c.members {
		if m.node == nil {
			continue
		}
		waitFor(c.tb, m.id+" to catch up", func() bool { return m.node.FSM().Applied() >= index })
		v, _, err := m.mem.Get([]byte(cluster.AppliedName))
		if n, _ := v.Int(); err != nil || uint64(n) != m.node.FSM().Applied() {
			c.tb.Fatalf("%s: file records applied %v (%v), the FSM %d", m.id, v, err, m.node.FSM().Applied())
		}
	}
}

// write writes line through m's node.
func (c *testCluster) write(m *member, line string) (cluster.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return m.node.Write(ctx, args(line))
}

// followers returns the running members that are not the leader.
func (c *testCluster) followers() []*member {
	c.tb.Helper()
	l := c.leader()
	var out []*member
	for _, m := range c.members {
		if m.node != nil && m != l {
			out = append(out, m)
		}
	}
	return out
}

// get reads name from m's file as text ("" if missing).
func get(tb testing.TB, m *member, name string) string {
	tb.Helper()
	v, _, err := m.mem.Get([]byte(name))
	if errors.Is(err, shm.ErrNotFound) {
		return ""
	}
	if err != nil {
		tb.Fatal(err)
	}
	return v.String()
}

func waitFor(tb testing.TB, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
