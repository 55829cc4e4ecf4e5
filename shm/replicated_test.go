package shm_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestReplicatedLocalWithoutDaemon: on a replicated file a local process
// (a Memory without Exclusive, opened here before the daemon's Memory
// marked the file, so that it learns of the mark from the header) reads
// on, is refused what only the daemon may do (ErrReplicated), and finds
// its writes and SyncReads failing with ErrNoDaemon while no daemon
// listens beside the file. Nothing it tried reached the file.
func TestReplicatedLocalWithoutDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	local := openMem(t, shm.Config{Path: path, Vars: 16, GroupMax: 4})
	daemon := openMem(t, shm.Config{Path: path, Exclusive: true})
	mustSet(t, daemon, "x", shm.Int(7))
	if err := local.MarkReplicated(); err == nil {
		t.Fatal("a local process marked the file")
	}
	if err := daemon.MarkReplicated(); err != nil {
		t.Fatal(err)
	}
	if !local.Replicated() || !daemon.Replicated() {
		t.Fatal("Replicated is false after the mark")
	}
	ctx := context.Background()
	_, err := local.Lock(ctx, [][]byte{b("x")}, true, false)
	wantErr(t, "write Lock", err, shm.ErrReplicated)
	_, err = local.Lock(ctx, [][]byte{b("new")}, false, true)
	wantErr(t, "creating Lock", err, shm.ErrReplicated)
	_, err = local.Flush(ctx)
	wantErr(t, "Flush", err, shm.ErrReplicated)
	wantErr(t, "Install", local.Install(ctx, shm.Image{}), shm.ErrReplicated)
	_, err = local.Restore([]shm.Record{{Name: b("x"), Value: shm.Int(1), Version: 99}})
	wantErr(t, "Restore", err, shm.ErrReplicated)

	_, err = local.Set(b("x"), shm.Int(1))
	wantErr(t, "Set", err, shm.ErrNoDaemon)
	_, _, err = local.SetWith(b("x"), shm.Int(1), shm.SetOptions{IfExists: true})
	wantErr(t, "SetWith", err, shm.ErrNoDaemon)
	_, _, err = local.Add(b("x"), 1)
	wantErr(t, "Add", err, shm.ErrNoDaemon)
	_, _, err = local.CompareAndSwap(b("x"), shm.Int(7), shm.Int(8))
	wantErr(t, "CompareAndSwap", err, shm.ErrNoDaemon)
	_, _, err = local.CompareVersionAndSwap(b("x"), 1, shm.Int(8))
	wantErr(t, "CompareVersionAndSwap", err, shm.ErrNoDaemon)
	_, err = local.Delete(b("x"))
	wantErr(t, "Delete", err, shm.ErrNoDaemon)
	wantErr(t, "MSet", local.MSet([][]byte{b("x")}, []shm.Value{shm.Int(1)}), shm.ErrNoDaemon)
	wantErr(t, "SyncReads", local.SyncReads(ctx), shm.ErrNoDaemon)
	h, err := local.Handle(b("h"), true)
	if err != nil {
		t.Fatalf("Handle of a missing variable, create: %v", err)
	}
	_, err = h.Set(shm.Int(1))
	wantErr(t, "Handle.Set", err, shm.ErrNoDaemon)
	_, _, err = h.Get()
	wantErr(t, "Handle.Get of the missing variable", err, shm.ErrNotFound)
	// The errors a local process finds before it sends are its own.
	_, err = local.Set(nil, shm.Int(1))
	wantErr(t, "Set of an empty name", err, shm.ErrEmptyName)

	if v, _ := mustGet(t, local, "x"); !v.Equal(shm.Int(7)) {
		t.Fatalf("local read x = %v, want 7", v)
	}
	if n := local.Len(); n != 1 {
		t.Fatalf("Len = %d: something wrote around the daemon", n)
	}
	if ver, err := daemon.Set(b("x"), shm.Int(9)); err != nil || ver == 0 {
		t.Fatalf("the daemon's own Set: %d, %v", ver, err)
	}
	if v, _ := mustGet(t, local, "x"); !v.Equal(shm.Int(9)) {
		t.Fatalf("local read after the daemon's write: %v, want 9", v)
	}
}

// TestSyncReadsSingleHost: on a file that is not replicated SyncReads
// returns nil at once.
func TestSyncReadsSingleHost(t *testing.T) {
	m := newMem(t, unit)
	if err := m.SyncReads(context.Background()); err != nil {
		t.Fatal(err)
	}
}
