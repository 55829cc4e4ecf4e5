package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/dsmtest"
)

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
	nodes := dsmtest.StartCluster(t, 3)
	var follower, leader *dsmtest.Node
	for _, nd := range nodes {
		info, err := dsmtest.DialNode(t, nd).Info(context.Background(), "cluster")
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
	if err := dsmtest.DialNode(t, leader).Set(ctx, "y", "from the leader"); err != nil {
		t.Fatal(err)
	}
	out, err := runPython(t, ctx, pyOnNode, follower.File)
	want := "5\nwrite locks are the daemon's\nb'from the leader'\n"
	if err != nil || out != want {
		t.Fatalf("Python on the follower's file: %q, %v; want %q", out, err, want)
	}
	for _, nd := range nodes {
		for name, want := range map[string]string{"x": "42", "n": "5", "a": "1", "b": "2"} {
			if v, err := dsmtest.DialNode(t, nd).Get(ctx, name); err != nil || v != want {
				t.Fatalf("node %s reads %s = %q, %v; want %q", nd.Addr, name, v, err, want)
			}
		}
	}
	follower.Stop()
	out, err = runPython(t, ctx, pyNodeDown, follower.File)
	if err != nil || !strings.HasPrefix(out, "42\nno daemon: ") {
		t.Fatalf("Python with the node's daemon stopped: %q, %v; want the read, then NoDaemonError", out, err)
	}
	t.Logf("with the daemon stopped: %s", strings.TrimSpace(out))
}
