package dsmtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

// Node is one in-process dsmd of a test cluster (StartCluster).
type Node struct {
	// Addr is its client address, File its memory file.
	Addr, File string

	srv  *server.Server
	done chan error
}

// Stop stops the node at once, as a crash of its daemon would (but for
// the file's flush); it is stopped at the test's end anyway.
func (nd *Node) Stop() {
	if nd.srv != nil {
		nd.srv.Close()
		<-nd.done
		nd.srv = nil
	}
}

// StartCluster starts n dsmd nodes on loopback that bootstrap a cluster
// (ids n1, n2...), each with a file of 1024 variables in a temporary
// directory, and waits until a write goes through. They stop when the
// test ends.
func StartCluster(tb testing.TB, n int) []*Node {
	tb.Helper()
	cls := make([]net.Listener, n)
	var peers []cluster.Peer
	for i := range n {
		cls[i] = listenFree(tb)
		peers = append(peers, cluster.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: cls[i].Addr().String()})
	}
	dir := tb.TempDir()
	nodes := make([]*Node, n)
	for i := range n {
		l := listenFree(tb)
		nd := &Node{Addr: l.Addr().String(), File: filepath.Join(dir, peers[i].ID+".mem"), done: make(chan error, 1)}
		var err error
		nd.srv, err = server.New(server.Config{File: nd.File, Vars: 1024, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Cluster: &server.ClusterConfig{NodeID: peers[i].ID, Listener: cls[i], ClientAddr: nd.Addr, Peers: peers}})
		if err != nil {
			tb.Fatal(err)
		}
		go func() { nd.done <- nd.srv.Serve(l) }()
		nodes[i] = nd
		tb.Cleanup(nd.Stop)
	}
	c := DialNode(tb, nodes[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Set(ctx, "ready", "1")
		cancel()
		if err == nil {
			return nodes
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no leader: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DialNode connects a client to the node alone; it is closed when the test
// ends.
func DialNode(tb testing.TB, nd *Node) *client.Client {
	tb.Helper()
	c, err := client.Dial(context.Background(), nd.Addr, &client.Options{PoolSize: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// listenFree listens on a free loopback port.
func listenFree(tb testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}
