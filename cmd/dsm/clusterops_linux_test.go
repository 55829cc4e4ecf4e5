package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

// opsWait bounds an election, a catch-up or a leadership move in these
// tests: generous, for a loaded 2-core machine under -race.
const opsWait = 20 * time.Second

// opsNode is one dsmd of a test cluster, in the test process: its client
// and cluster ports on 127.0.0.1, its file in the test's directory.
type opsNode struct {
	id, addr, clusterAddr, file string
	srv                         *server.Server
	served                      chan error
}

// opsCluster is the nodes of one cluster, started by startOps.
type opsCluster struct {
	tb    testing.TB
	dir   string
	peers []cluster.Peer // the bootstrap voters, as dsmd's -peers
	nodes []*opsNode
}

// startOps starts n nodes that bootstrap a cluster together.
func startOps(tb testing.TB, n int) *opsCluster {
	tb.Helper()
	tc := &opsCluster{tb: tb, dir: tb.TempDir()}
	// The cluster ports are reserved all at once, so that they differ,
	// and the client ports taken before they are released.
	var ls, held []net.Listener
	for i := range n {
		l := listenAt(tb, "127.0.0.1:0")
		held = append(held, l)
		ls = append(ls, listenAt(tb, "127.0.0.1:0"))
		tc.peers = append(tc.peers, cluster.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: l.Addr().String()})
	}
	for _, l := range held {
		l.Close()
	}
	// Each cluster port opens only as its node starts, not before:
	// cluster.NewNode serves its port a moment before it creates its
	// Raft, and a Hello that a node started earlier had queued there
	// would be answered from a nil Raft (a crash of the test process).
	for i := range n {
		nd := &opsNode{id: tc.peers[i].ID, clusterAddr: tc.peers[i].Addr, file: filepath.Join(tc.dir, tc.peers[i].ID+".mem")}
		tc.nodes = append(tc.nodes, nd)
		tc.start(nd, listenAt(tb, nd.clusterAddr), ls[i], "")
	}
	tb.Cleanup(tc.stopAll)
	return tc
}

// listenAt listens on addr, retrying for a moment: right after a stop the
// port may still be held.
func listenAt(tb testing.TB, addr string) net.Listener {
	tb.Helper()
	var err error
	for range 100 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal(err)
	return nil
}

// start serves nd's file on its listeners: a bootstrap voter, or with
// join a node that joins through that member's client address.
func (tc *opsCluster) start(nd *opsNode, cl, l net.Listener, join string) {
	tc.tb.Helper()
	nd.addr = l.Addr().String()
	cc := &server.ClusterConfig{NodeID: nd.id, Listener: cl, ClientAddr: nd.addr}
	if join != "" {
		cc.Join = join
	} else {
		cc.Peers = tc.peers
	}
	srv, err := server.New(server.Config{File: nd.file, Vars: 1024, Cluster: cc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cl.Close()
		l.Close()
		tc.tb.Fatalf("node %s: %v", nd.id, err)
	}
	nd.srv, nd.served = srv, make(chan error, 1)
	go func() { nd.served <- srv.Serve(l) }()
}

// add starts a new node that joins the cluster through node 0.
func (tc *opsCluster) add(id string) *opsNode {
	tc.tb.Helper()
	cl := listenAt(tc.tb, "127.0.0.1:0")
	nd := &opsNode{id: id, clusterAddr: cl.Addr().String(), file: filepath.Join(tc.dir, id+".mem")}
	tc.nodes = append(tc.nodes, nd)
	tc.start(nd, cl, listenAt(tc.tb, "127.0.0.1:0"), tc.nodes[0].addr)
	return nd
}

// restart starts a stopped node again on its addresses and files.
func (tc *opsCluster) restart(nd *opsNode, join string) {
	tc.tb.Helper()
	tc.start(nd, listenAt(tc.tb, nd.clusterAddr), listenAt(tc.tb, nd.addr), join)
}

// stop stops nd at once, as a crash of its dsmd would (but for the
// file's flush).
func (nd *opsNode) stop() {
	if nd.srv != nil {
		nd.srv.Close()
		<-nd.served
		nd.srv = nil
	}
}

func (tc *opsCluster) stopAll() {
	var wg sync.WaitGroup
	for _, nd := range tc.nodes {
		wg.Go(nd.stop)
	}
	wg.Wait()
}

// addrs is every running node's client address, for -addr.
func (tc *opsCluster) addrs() string {
	var a []string
	for _, nd := range tc.nodes {
		if nd.srv != nil {
			a = append(a, nd.addr)
		}
	}
	return strings.Join(a, ",")
}

// dsmOK runs dsm against the cluster's nodes and fails the test unless
// it exits 0; it returns stdout.
func (tc *opsCluster) dsmOK(args ...string) string {
	tc.tb.Helper()
	args = append([]string{"-addr", tc.addrs(), "-timeout", "20s"}, args...)
	out, errOut, code := dsm(tc.tb, "", args...)
	if code != 0 {
		tc.tb.Fatalf("dsm %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// status runs dsm cluster status -o json.
func (tc *opsCluster) status() clusterStatus {
	tc.tb.Helper()
	var s clusterStatus
	out := tc.dsmOK("-o", "json", "cluster", "status")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		tc.tb.Fatalf("status: %v\n%s", err, out)
	}
	return s
}

// waitStatus polls the status until ok accepts it.
func (tc *opsCluster) waitStatus(what string, ok func(clusterStatus) bool) clusterStatus {
	tc.tb.Helper()
	deadline := time.Now().Add(opsWait)
	for {
		s := tc.status()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tc.tb.Fatalf("timed out waiting for %s; last status %+v", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids lists the IDs of the status's nodes, with "*" after learners'.
func ids(s clusterStatus) string {
	var out []string
	for _, n := range s.Nodes {
		id := n.ID
		if !n.Voter {
			id += "*"
		}
		out = append(out, id)
	}
	return strings.Join(out, " ")
}

// settled reports whether s has a leader and every node answers, with
// no lag.
func settled(s clusterStatus) bool {
	if s.Leader == "" {
		return false
	}
	for _, n := range s.Nodes {
		if !n.Reachable || n.Lag == nil || *n.Lag != 0 {
			return false
		}
	}
	return true
}

// TestClusterStatus: status lists every node with one leader and the
// same term, in the table and in JSON; a stopped node is unreachable
// while the command still succeeds.
func TestClusterStatus(t *testing.T) {
	tc := startOps(t, 3)
	tc.dsmOK("set", "x", "1")
	s := tc.waitStatus("three settled nodes", settled)
	if ids(s) != "n1 n2 n3" {
		t.Fatalf("nodes %q, want n1 n2 n3", ids(s))
	}
	leaders := 0
	for _, n := range s.Nodes {
		if n.Role == "leader" {
			leaders++
		}
		if n.Term != s.Term || n.Applied == 0 || n.Commit < n.Applied || n.ClientAddr == "" || n.ClusterAddr == "" {
			t.Errorf("node %+v in status term %d", n, s.Term)
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders in %+v", leaders, s)
	}
	out := tc.dsmOK("cluster", "status")
	for _, want := range []string{"leader " + s.Leader + ", term", "ID", "ROLE", "LAG", "n1", "n2", "n3", "follower"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}

	var down *opsNode
	for _, nd := range tc.nodes {
		if nd.id != s.Leader {
			down = nd
			break
		}
	}
	down.stop()
	s = tc.status()
	for _, n := range s.Nodes {
		if (n.ID == down.id) == n.Reachable {
			t.Errorf("with %s stopped: %+v", down.id, n)
		}
		if n.ID == down.id && (n.Error == "" || n.Lag != nil) {
			t.Errorf("stopped node without error or with a lag: %+v", n)
		}
	}
	out = tc.dsmOK("cluster", "status")
	if !strings.Contains(out, "unreachable") || !strings.Contains(out, down.id+" unreachable: ") {
		t.Errorf("status table does not say %s is unreachable:\n%s", down.id, out)
	}
}

// TestClusterMembership: a fourth node joins and shows in status as a
// voter; cluster remove takes it out; cluster join puts it back.
func TestClusterMembership(t *testing.T) {
	tc := startOps(t, 3)
	tc.dsmOK("set", "x", "1")
	n4 := tc.add("n4")
	tc.waitStatus("n4 a voter", func(s clusterStatus) bool { return ids(s) == "n1 n2 n3 n4" && settled(s) })

	if out := tc.dsmOK("cluster", "remove", "n4"); out != "OK\n" {
		t.Errorf("cluster remove: %q", out)
	}
	tc.waitStatus("n4 gone", func(s clusterStatus) bool { return ids(s) == "n1 n2 n3" })

	// Put back: dsmd restarted with -join finds itself in a configuration
	// and waits; the operator adds it.
	n4.stop()
	tc.restart(n4, tc.nodes[0].addr)
	tc.dsmOK("set", "x", "2")
	if out := tc.dsmOK("-o", "json", "cluster", "join", "n4", n4.clusterAddr); out != `{"ok":true}`+"\n" {
		t.Errorf("cluster join: %q", out)
	}
	tc.waitStatus("n4 back", func(s clusterStatus) bool { return ids(s) == "n1 n2 n3 n4" && settled(s) })
	if out := tc.dsmOK("-addr", n4.addr, "get", "x"); out != "2\n" {
		t.Errorf("n4 reads x = %q, want 2", out)
	}
}

// TestClusterTransferAndSnapshot: transfer moves the leader to the node
// named, or to another; snapshot writes one into the node's Raft
// directory.
func TestClusterTransferAndSnapshot(t *testing.T) {
	tc := startOps(t, 3)
	tc.dsmOK("set", "x", "1")
	s := tc.waitStatus("a leader", settled)
	to := "n1"
	if s.Leader == to {
		to = "n2"
	}
	tc.dsmOK("cluster", "transfer", to)
	s = tc.waitStatus("leader "+to, func(s clusterStatus) bool { return s.Leader == to })
	tc.dsmOK("cluster", "transfer")
	tc.waitStatus("another leader", func(n clusterStatus) bool { return n.Leader != "" && n.Leader != to && n.Term > s.Term })

	nd := tc.nodes[2]
	if out := tc.dsmOK("-addr", nd.addr, "cluster", "snapshot"); out != "OK\n" {
		t.Errorf("cluster snapshot: %q", out)
	}
	snaps, err := os.ReadDir(filepath.Join(nd.file+".raft", "snapshots"))
	if err != nil || len(snaps) == 0 {
		t.Errorf("no snapshot in %s.raft: %v", nd.file, err)
	}
}

// TestClusterCommandErrors: usage errors exit 1, a node that is not in
// a cluster answers with an error, and no daemon exits 4.
func TestClusterCommandErrors(t *testing.T) {
	d := startDaemon(t, "")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{at(d, "cluster", "join", "n4"), exitError, "usage: cluster join ID CLUSTER-ADDR"},
		{at(d, "cluster", "bogus"), exitError, "unknown subcommand"},
		{at(d, "cluster", "status"), exitError, "not a cluster node"},
		{at(d, "cluster", "remove", "n2"), exitError, "not a cluster node"},
		{[]string{"-addr", freeAddr(t), "cluster", "status"}, exitUnreachable, "unreachable"},
		{[]string{"cluster", "recover", "-node-id", "n1"}, exitError, "usage: cluster recover"},
		{[]string{"cluster", "recover", "-file", d.File, "-node-id", "n1", "-peers", "n1"}, exitError, "not ID=HOST:PORT"},
	} {
		_, errOut, code := dsm(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("dsm %s: exit %d, stderr %q; want exit %d, %q", strings.Join(tt.args, " "), code, errOut, tt.code, tt.want)
		}
	}
	for _, args := range [][]string{{"cluster", "--help"}, {"cluster", "status", "-h"}, {"help", "cluster", "join"}, {"cluster", "recover", "-h"}} {
		out, _, code := dsm(t, "", args...)
		if code != 0 || !strings.Contains(out, "dsm cluster") {
			t.Errorf("dsm %s: exit %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// TestClusterRecover: of three nodes, two are lost for good; recover,
// refused while the survivor's dsmd runs, makes the survivor a one-node
// cluster once it restarts with its old flags, with every write it
// acknowledged, taking new ones.
func TestClusterRecover(t *testing.T) {
	tc := startOps(t, 3)
	// Through the survivor: a follower acknowledges a write once its own
	// file holds it. Through the others, a write can be acknowledged by
	// the two nodes that are then lost, and is lost with them.
	survivor := tc.nodes[2]
	for i := range 20 {
		tc.dsmOK("-addr", survivor.addr, "add", fmt.Sprintf("w%d", i%4), "1")
	}
	tc.dsmOK("-addr", survivor.addr, "mset", "a", "1", "b", "2")
	recoverArgs := []string{"cluster", "recover", "-file", survivor.file, "-node-id", survivor.id,
		"-peers", survivor.id + "=" + survivor.clusterAddr}
	if _, errOut, code := dsm(t, "", recoverArgs...); code != exitError || !strings.Contains(errOut, "running dsmd") {
		t.Errorf("recover while dsmd runs: exit %d, %q", code, errOut)
	}
	tc.stopAll()

	out, errOut, code := dsm(t, "", append([]string{"-o", "json"}, recoverArgs...)...)
	if code != 0 {
		t.Fatalf("recover: exit %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil || r["ok"] != true || r["applied_index"].(float64) == 0 {
		t.Fatalf("recover printed %q (%v)", out, err)
	}
	tc.restart(survivor, "")
	s := tc.waitStatus("the survivor alone", settled)
	if ids(s) != survivor.id || s.Leader != survivor.id {
		t.Fatalf("after recovery: %+v", s)
	}
	if out := tc.dsmOK("mget", "w0", "w1", "w2", "w3", "a", "b"); out != "5\n5\n5\n5\n1\n2\n" {
		t.Errorf("after recovery mget = %q", out)
	}
	tc.dsmOK("add", "w0", "1")
	if out := tc.dsmOK("get", "w0"); out != "6\n" {
		t.Errorf("new write after recovery: w0 = %q, want 6", out)
	}
}

// TestClusterLockToken: dsm lock on a cluster prints the lock's fencing
// token, and a write fenced by it runs while it is the newest grant and is
// refused once a newer lock was granted.
func TestClusterLockToken(t *testing.T) {
	tc := startOps(t, 3)
	args := []string{"-addr", tc.addrs(), "-timeout", "20s", "lock", "x", "--", "set", "x", "1"}
	out, errOut, code := dsm(t, "", args...)
	if code != 0 || out != "OK\n" {
		t.Fatalf("dsm lock: exit %d, %q, %q", code, out, errOut)
	}
	var token int
	if _, err := fmt.Sscanf(errOut, "dsm: locked with fencing token %d", &token); err != nil || token <= 0 {
		t.Fatalf("dsm lock printed %q on stderr; want its fencing token", errOut)
	}
	tok := strconv.Itoa(token)
	if out := tc.dsmOK("fenced", tok, "set", "x", "2"); out != "OK\n" {
		t.Fatalf("fenced with the newest token: %q", out)
	}
	tc.dsmOK("lock", "x", "--", "get", "x")
	out, errOut, code = dsm(t, "", "-addr", tc.addrs(), "fenced", tok, "set", "x", "3")
	if code == 0 || !strings.Contains(errOut, "FENCED") {
		t.Fatalf("fenced with a stale token: exit %d, %q, %q; want refused with FENCED", code, out, errOut)
	}
	if out := tc.dsmOK("get", "x"); out != "2\n" {
		t.Fatalf("x = %q; want 2", out)
	}
}
