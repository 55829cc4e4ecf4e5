//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

// dsmProcess runs dsm with args in a process of its own (this test
// binary, by dsmArgsEnv): a local process with its own mapping.
func dsmProcess(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dsmArgsEnv+"="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tb.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// clusterNode is one in-process dsmd of startNodes' cluster.
type clusterNode struct {
	srv  *server.Server
	addr string
	file string
	done chan error
}

// startNodes starts n dsmd nodes on loopback that bootstrap a cluster, and
// waits until a write goes through. They stop when the test ends.
func startNodes(t *testing.T, n int) []*clusterNode {
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
	nodes := make([]*clusterNode, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nd := &clusterNode{addr: l.Addr().String(), file: filepath.Join(dir, peers[i].ID+".mem"), done: make(chan error, 1)}
		nd.srv, err = server.New(server.Config{File: nd.file, Vars: 1024, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Cluster: &server.ClusterConfig{NodeID: peers[i].ID, Listener: cls[i], ClientAddr: nd.addr, Peers: peers}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { nd.done <- nd.srv.Serve(l) }()
		nodes[i] = nd
		t.Cleanup(nd.stop)
	}
	c := dialNode(t, nodes[0])
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

func (nd *clusterNode) stop() {
	if nd.srv != nil {
		nd.srv.Close()
		<-nd.done
		nd.srv = nil
	}
}

func dialNode(t *testing.T, nd *clusterNode) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), nd.addr, &client.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// role is a node's cluster_role.
func role(t *testing.T, nd *clusterNode) string {
	info, err := dialNode(t, nd).Info(context.Background(), "cluster")
	if err != nil {
		t.Fatal(err)
	}
	return info["cluster_role"]
}

// TestLocalModeOnClusterNode: dsm -file on a follower's file, a process
// of its own, writes through the node's daemon (set, add), reads its
// write and the other nodes read it; get -sync sees a write the leader
// acknowledged; with the daemon stopped, get goes on and set fails as
// unreachable, naming the daemon.
func TestLocalModeOnClusterNode(t *testing.T) {
	nodes := startNodes(t, 3)
	var f, leader *clusterNode
	for _, nd := range nodes {
		if role(t, nd) == "leader" {
			leader = nd
		} else if f == nil {
			f = nd
		}
	}
	if f == nil || leader == nil {
		t.Fatal("no leader and follower")
	}
	ctx := context.Background()
	for _, tt := range []struct {
		args []string
		out  string
	}{
		{[]string{"-file", f.file, "set", "x", "42"}, "OK\n"},
		{[]string{"-file", f.file, "add", "n", "5"}, "5\n"},
		{[]string{"-file", f.file, "get", "x"}, "42\n"},
	} {
		out, errOut, code := dsmProcess(t, tt.args...)
		if code != 0 || out != tt.out {
			t.Fatalf("dsm %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(tt.args, " "), code, out, errOut, tt.out)
		}
	}
	for _, nd := range nodes {
		if v, err := dialNode(t, nd).Get(ctx, "x"); err != nil || v != "42" {
			t.Fatalf("node %s reads x = %q, %v", nd.addr, v, err)
		}
	}
	for i := range 5 {
		want := fmt.Sprint(100 + i)
		if err := dialNode(t, leader).Set(ctx, "y", want); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := dsmProcess(t, "-file", f.file, "get", "-sync", "y")
		if code != 0 || out != want+"\n" {
			t.Fatalf("get -sync y after the leader's SET %s: exit %d, %q, %q", want, code, out, errOut)
		}
	}

	f.stop()
	if out, errOut, code := dsmProcess(t, "-file", f.file, "get", "x"); code != 0 || out != "42\n" {
		t.Fatalf("get with the daemon stopped: exit %d, %q, %q", code, out, errOut)
	}
	out, errOut, code := dsmProcess(t, "-file", f.file, "set", "x", "1")
	if code != exitUnreachable || !strings.Contains(errOut, "daemon is not running") {
		t.Fatalf("set with the daemon stopped: exit %d, stdout %q, stderr %q; want exit %d naming the daemon", code, out, errOut, exitUnreachable)
	}
	t.Logf("set with the daemon stopped: %s", strings.TrimSpace(errOut))
}
