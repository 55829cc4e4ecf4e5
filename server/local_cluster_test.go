package server

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// openLocal maps node i's file as a local process does (package shm, no
// Exclusive); it is closed at the end of the test.
func (tc *testCluster) openLocal(i int) *shm.Memory {
	tc.t.Helper()
	m, err := shm.Open(shm.Config{Path: tc.nodes[i].file})
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(func() { m.Close() })
	return m
}

// TestClusterLocalProcessWrites: a local process on a follower writes
// through the node's daemon (the file's socket), each write returning
// once applied there with the result and version it would have on a
// file of one host; it reads its own writes from its mapping at once, and
// the other nodes read them too, with the same versions.
func TestClusterLocalProcessWrites(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	local := tc.openLocal(f)
	if !local.Replicated() {
		t.Fatal("a node's file is not marked replicated")
	}
	ctx := context.Background()
	b := func(s string) []byte { return []byte(s) }

	ver, err := local.Set(b("x"), shm.Int(5))
	if err != nil || ver == 0 {
		t.Fatalf("Set = %d, %v", ver, err)
	}
	if v, got, err := local.Get(b("x")); err != nil || !v.Equal(shm.Int(5)) || got != ver {
		t.Fatalf("local read of its own write: %v version %d, %v; want 5 version %d", v, got, err, ver)
	}
	sum, addVer, err := local.Add(b("n"), 3)
	if err != nil || sum != 3 {
		t.Fatalf("Add = %d, %v", sum, err)
	}
	if _, got, _ := local.Get(b("n")); got != addVer {
		t.Fatalf("Add's version %d, the file has %d", addVer, got)
	}
	swapped, casVer, err := local.CompareAndSwap(b("x"), shm.Int(5), shm.Bytes(b("five")))
	if err != nil || !swapped || casVer != ver+1 {
		t.Fatalf("CompareAndSwap = %v, %d, %v; want true, %d", swapped, casVer, err, ver+1)
	}
	swapped, same, err := local.CompareAndSwap(b("x"), shm.Int(5), shm.Int(6))
	if err != nil || swapped || same != casVer {
		t.Fatalf("CompareAndSwap that must not swap = %v, %d, %v", swapped, same, err)
	}
	if swapped, _, err := local.CompareVersionAndSwap(b("x"), casVer, shm.Bytes(b("six"))); err != nil || !swapped {
		t.Fatalf("CompareVersionAndSwap = %v, %v", swapped, err)
	}
	if _, _, err := local.CompareAndSwap(b("missing"), shm.Int(1), shm.Int(2)); !errors.Is(err, shm.ErrNotFound) {
		t.Fatalf("CompareAndSwap of a missing variable: %v, want ErrNotFound", err)
	}
	old, stored, err := local.SetWith(b("x"), shm.Int(7), shm.SetOptions{IfAbsent: true})
	if err != nil || stored || !old.Found || old.Value.String() != "six" {
		t.Fatalf("SetWith NX of an existing variable = %+v, %v, %v", old, stored, err)
	}
	if _, _, err := local.Add(b("x"), 1); !errors.Is(err, shm.ErrNotInteger) {
		t.Fatalf("Add to text: %v, want ErrNotInteger", err)
	}
	if err := local.MSet([][]byte{b("a"), b("b")}, []shm.Value{shm.Int(1), shm.Int(2)}); err != nil {
		t.Fatal(err)
	}
	if n, err := local.Delete(b("a"), b("nothing")); err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	h, err := local.Handle(b("h"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, hv, err := h.Add(10); err != nil || hv == 0 {
		t.Fatalf("Handle.Add = %d, %v", hv, err)
	}

	// Write lock groups are the daemon's.
	if _, err := local.Lock(ctx, [][]byte{b("x")}, true, false); !errors.Is(err, shm.ErrReplicated) {
		t.Fatalf("write Lock from a local process: %v, want ErrReplicated", err)
	}

	// Every node holds the writes, with the same versions.
	want := map[string]string{"x": "six", "n": "3", "b": "2", "h": "10"}
	for i := range tc.nodes {
		rc := tc.client(i)
		for name, val := range want {
			got, err := rc.Do(ctx, "GETVER", name).Slice()
			if err != nil || got[0] != val {
				t.Fatalf("node %d: GETVER %s = %v, %v; want %s", i, name, got, err, val)
			}
			if _, lv, _ := local.Get(b(name)); got[1] != int64(lv) {
				t.Fatalf("node %d: %s at version %v, the local file has %d", i, name, got[1], lv)
			}
		}
		if n, err := rc.Exists(ctx, "a").Result(); err != nil || n != 0 {
			t.Fatalf("node %d: a exists (%d, %v) after the local Delete", i, n, err)
		}
	}
}

// TestClusterLocalSyncReads: a write acknowledged by the leader is in a
// follower's local mapping as soon as SyncReads returns, every time.
func TestClusterLocalSyncReads(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	local := tc.openLocal(f)
	rc := tc.client(tc.leader())
	ctx := context.Background()
	for i := range 50 {
		if err := rc.Set(ctx, "y", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := local.SyncReads(ctx); err != nil {
			t.Fatalf("SyncReads: %v", err)
		}
		if v, _, err := local.Get([]byte("y")); err != nil || v.String() != strconv.Itoa(i) {
			t.Fatalf("write %d acknowledged by the leader; after SyncReads the follower's mapping has %v, %v", i, v, err)
		}
	}
}

// TestClusterLocalWithoutDaemon: with the node's daemon stopped, local
// reads go on from the mapping and writes and SyncReads fail with
// shm.ErrNoDaemon; once the daemon is back, writes go through again.
func TestClusterLocalWithoutDaemon(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	local := tc.openLocal(f)
	if _, err := local.Set([]byte("k"), shm.Int(1)); err != nil {
		t.Fatal(err)
	}
	sock := shm.SocketPath(tc.nodes[f].file)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the daemon's socket: %v", err)
	}
	tc.kill(f)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the socket is left after the daemon stopped: %v", err)
	}
	if v, _, err := local.Get([]byte("k")); err != nil || !v.Equal(shm.Int(1)) {
		t.Fatalf("local read with the daemon down: %v, %v", v, err)
	}
	_, err := local.Set([]byte("k"), shm.Int(2))
	if !errors.Is(err, shm.ErrNoDaemon) {
		t.Fatalf("Set with the daemon down: %v, want ErrNoDaemon", err)
	}
	t.Logf("Set with the daemon down: %v", err)
	if _, _, err := local.Add([]byte("k"), 1); !errors.Is(err, shm.ErrNoDaemon) {
		t.Fatalf("Add with the daemon down: %v, want ErrNoDaemon", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := local.SyncReads(ctx); !errors.Is(err, shm.ErrNoDaemon) {
		t.Fatalf("SyncReads with the daemon down: %v, want ErrNoDaemon", err)
	}
	tc.restart(f)
	if _, err := local.Set([]byte("k"), shm.Int(3)); err != nil {
		t.Fatalf("Set once the daemon is back: %v", err)
	}
	if v, _, _ := local.Get([]byte("k")); !v.Equal(shm.Int(3)) {
		t.Fatalf("after the daemon came back: k = %v", v)
	}
}

// TestReplicatedFileRefusedWithoutCluster: a node's file is not served
// as a single host's, which would write around the log.
func TestReplicatedFileRefusedWithoutCluster(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	file := tc.nodes[f].file
	tc.kill(f)
	s, err := New(Config{File: file})
	if err == nil {
		s.Close()
		t.Fatal("a single host served a replicated file")
	}
	if !errors.Is(err, ErrReplicatedFile) {
		t.Fatalf("New: %v, want ErrReplicatedFile", err)
	}
}
