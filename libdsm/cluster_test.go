package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

// node is one in-process dsmd of a test cluster.
type node struct {
	srv  *server.Server
	addr string
	file string
	done chan error
}

func (nd *node) stop() {
	if nd.srv != nil {
		nd.srv.Close()
		<-nd.done
		nd.srv = nil
	}
}

// startNodes starts n dsmd nodes on loopback that form a cluster and waits
// until a write goes through. They stop when the test ends.
func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	cls := make([]net.Listener, n)
	var peers []cluster.Peer
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cls[i] = l
		peers = append(peers, cluster.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: l.Addr().String()})
	}
	dir := t.TempDir()
	nodes := make([]*node, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nd := &node{addr: l.Addr().String(), file: filepath.Join(dir, peers[i].ID+".mem"), done: make(chan error, 1)}
		nd.srv, err = server.New(server.Config{File: nd.file, Vars: 1024, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Cluster: &server.ClusterConfig{NodeID: peers[i].ID, Listener: cls[i], ClientAddr: nd.addr, Peers: peers}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { nd.done <- nd.srv.Serve(l) }()
		nodes[i] = nd
		t.Cleanup(nd.stop)
	}
	c := dial(t, nodes[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Set(ctx, "ready", "1")
		cancel()
		if err == nil {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dial(t *testing.T, nd *node) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), nd.addr, &client.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pyOnNode writes through a node's file, as any local process would.
const pyOnNode = `
import sys, dsm
m = dsm.Memory(sys.argv[1])
m.set("x", 42)
print(m.add("n", 5))
m.mset({"a": 1, "b": 2})
try:
    m.lock("x")
except dsm.ReplicatedError:
    print("write locks are the daemon's")
m.sync()
print(m.get("y"))
`

// pyNodeDown reads and writes a node's file with its daemon stopped.
const pyNodeDown = `
import sys, dsm
m = dsm.Memory(sys.argv[1])
print(m.get("x"))
try:
    m.set("x", 1)
except dsm.NoDaemonError as e:
    print("no daemon:", e)
`

// TestPythonOnClusterNode: the same Python code that works on a file of
// one host works on a follower's file of a cluster: its writes go through
// the node's daemon (libdsm runs shm's code, which does so) and every node
// reads them; sync makes its reads see a write the leader acknowledged;
// with the daemon stopped, reads go on and writes raise NoDaemonError.
func TestPythonOnClusterNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	python(t, false)
	built(t) // before the deadlines below: the first build takes a while
	nodes := startNodes(t, 3)
	var follower, leader *node
	for _, nd := range nodes {
		info, err := dial(t, nd).Info(context.Background(), "cluster")
		if err != nil {
			t.Fatal(err)
		}
		if info["cluster_role"] == "leader" {
			leader = nd
		} else if follower == nil {
			follower = nd
		}
	}
	if leader == nil || follower == nil {
		t.Fatal("no leader and follower")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := dial(t, leader).Set(ctx, "y", "from the leader"); err != nil {
		t.Fatal(err)
	}
	out, err := runPython(t, ctx, pyOnNode, follower.file)
	want := "5\nwrite locks are the daemon's\nb'from the leader'\n"
	if err != nil || out != want {
		t.Fatalf("Python on the follower's file: %q, %v; want %q", out, err, want)
	}
	for _, nd := range nodes {
		for name, want := range map[string]string{"x": "42", "n": "5", "a": "1", "b": "2"} {
			if v, err := dial(t, nd).Get(ctx, name); err != nil || v != want {
				t.Fatalf("node %s reads %s = %q, %v; want %q", nd.addr, name, v, err, want)
			}
		}
	}
	follower.stop()
	out, err = runPython(t, ctx, pyNodeDown, follower.file)
	if err != nil || !strings.HasPrefix(out, "42\nno daemon: ") {
		t.Fatalf("Python with the node's daemon stopped: %q, %v; want the read, then NoDaemonError", out, err)
	}
	t.Logf("with the daemon stopped: %s", strings.TrimSpace(out))
}
