//go:build dsmfail

package cluster_test

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// cutFlush flushes the file at path and stops the flush after its first
// variable, at shm's FailInstalling, as if its process had been killed
// there: the goroutine exits (releasing the locks, as recovery would) and
// leaves the file marked as being installed.
func cutFlush(tb testing.TB, path string) {
	tb.Helper()
	m := openMem(tb, path)
	defer m.Close()
	remove := shm.SetFailHook(shm.FailInstalling, runtime.Goexit)
	defer remove()
	done := make(chan error, 1)
	go func() {
		defer close(done)
		_, err := m.Flush(context.Background())
		done <- err
	}()
	if err, ok := <-done; ok {
		tb.Fatalf("the flush was not cut short: %v", err)
	}
}

// A node whose file holds an install cut short (shm.Memory.Incomplete)
// installs its latest snapshot again at start, whatever the file's
// applied index says, and ends with exactly the leader's variables.
func TestIncompleteInstallReinstalled(t *testing.T) {
	c := newCluster(t, 3)
	for i := range 8 {
		c.propose("SET k" + string(rune('a'+i)) + " 1")
		c.propose("INCR n")
	}
	f := c.followers()[0]
	last := c.propose("INCR n")
	c.converged(last.Index)
	if err := f.node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.stop(f)
	cutFlush(t, f.path)
	last = c.propose("INCR n")

	m, err := shm.Open(shm.Config{Path: f.path, Vars: 512, GroupMax: 64, Seed: testSeed, AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Incomplete() {
		t.Fatal("the cut flush left the file complete")
	}
	if ok, _ := m.Exists([]byte(cluster.AppliedName)); !ok {
		t.Fatal("the cut flush dropped the applied index first: the test would not tell")
	}
	f.mem = m
	c.start(f, nil)
	c.converged(last.Index)
	want := userDump(t, c.leader().mem)
	if got := userDump(t, f.mem); !maps.Equal(got, want) {
		t.Errorf("the reinstalled node holds %v, the leader %v", got, want)
	}
	if f.mem.Incomplete() {
		t.Error("the file is still incomplete")
	}
	if err := f.mem.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// Without a snapshot to install again the node refuses to start.
func TestIncompleteWithoutSnapshotRefused(t *testing.T) {
	c := newCluster(t, 3)
	f := c.followers()[0]
	last := c.propose("SET a 1")
	c.converged(last.Index)
	c.stop(f)
	cutFlush(t, f.path)
	m, err := shm.Open(shm.Config{Path: f.path, Vars: 512, GroupMax: 64, Seed: testSeed, AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := cluster.Config{ID: f.id, Addr: "127.0.0.1:0", Memory: m, Applier: testApplier{}, Secret: testSecret}
	if n, err := cluster.NewNode(cfg); err == nil {
		n.Shutdown()
		t.Fatal("a node started over an incomplete file with no snapshot")
	} else if !errors.Is(err, cluster.ErrIncomplete) {
		t.Fatalf("NewNode: %v, want ErrIncomplete", err)
	}
}
