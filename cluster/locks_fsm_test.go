package cluster_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/hashicorp/raft"
)

func lockEntry(index uint64, parts ...string) *raft.Log {
	args := [][]byte{[]byte("\x00lock")}
	for _, p := range parts {
		args = append(args, []byte(p))
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cluster.EncodeEntry(args)}
}

// The lock table is applied with the log, holds back other writers, and
// is where the node left it after a restart; a lock file ahead of its
// memory file is caught.
func TestFSMLockTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mem")
	m := openMem(t, path)
	f, _ := cluster.NewFSM(m, testApplier{})
	if err := cluster.LoadLocks(f, cluster.LockFile(path)); err != nil {
		t.Fatal(err)
	}
	if r := apply(t, f, lockEntry(1, "request", "n1 id=1", "W", "1000", "5000", "x")); r.Err != nil || string(r.Reply.Data) != "G 1" {
		t.Fatalf("lock request: %+v", r)
	}
	if r := apply(t, f, command(2, "SET x 1")); r.Err == nil || !strings.HasPrefix(r.Err.Error(), "LOCKED") {
		t.Fatalf("another's SET of a locked variable: %+v; want LOCKED", r)
	}
	if r := apply(t, f, command(3, "SET y 1")); r.Err != nil {
		t.Fatalf("SET of a free variable: %+v", r)
	}
	m.Close()

	m = openMem(t, path)
	f, _ = cluster.NewFSM(m, testApplier{})
	if err := cluster.LoadLocks(f, cluster.LockFile(path)); err != nil || cluster.LocksAhead(f) {
		t.Fatalf("reload: %v, ahead %v", err, cluster.LocksAhead(f))
	}
	if st, tok := f.Locks().State(1); st != cluster.LockHeld || tok != 1 {
		t.Fatalf("after a restart request 1 is %v (token %d); want held", st, tok)
	}
	if r := apply(t, f, lockEntry(1, "release", "1")); !r.Skipped {
		t.Fatalf("an applied lock entry applied again: %+v", r)
	}
	if r := apply(t, f, lockEntry(4, "release", "1")); r.Err != nil || string(r.Reply.Data) != "R 1" {
		t.Fatalf("release: %+v", r)
	}
	m.Close()

	// The same lock file beside an empty memory file: ahead of it.
	other := filepath.Join(dir, "other")
	m = openMem(t, other)
	defer m.Close()
	f, _ = cluster.NewFSM(m, testApplier{})
	if err := cluster.LoadLocks(f, cluster.LockFile(path)); err != nil || !cluster.LocksAhead(f) {
		t.Fatalf("a lock file at index 4 beside an empty file: %v, ahead %v; want ahead", err, cluster.LocksAhead(f))
	}
}

// A snapshot carries the lock table: a node that installs it holds the
// same locks, waiters and fences, and writes its lock file.
func TestSnapshotCarriesLocks(t *testing.T) {
	src := openMem(t, filepath.Join(t.TempDir(), "src"))
	defer src.Close()
	fs, _ := cluster.NewFSM(src, testApplier{})
	apply(t, fs, lockEntry(1, "request", "n1 id=1", "W", "1000", "5000", "x"))
	apply(t, fs, lockEntry(2, "request", "n2 id=7", "R", "9000", "5000", "x", "y"))
	store, id := persistSnapshot(t, fs)
	dstPath := filepath.Join(t.TempDir(), "dst")
	dst := openMem(t, dstPath)
	defer dst.Close()
	fd, _ := cluster.NewFSM(dst, testApplier{})
	if err := cluster.LoadLocks(fd, cluster.LockFile(dstPath)); err != nil {
		t.Fatal(err)
	}
	_, rc, err := store.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	// Connections read the table while the install replaces it (-race).
	table := fd.Locks()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			table.State(1)
		}
	}()
	if err := fd.Restore(rc); err != nil {
		t.Fatal(err)
	}
	<-done
	if fd.Locks() != table {
		t.Fatal("the install replaced the table the node's connections hold")
	}
	if st, tok := fd.Locks().State(1); st != cluster.LockHeld || tok != 1 {
		t.Fatalf("request 1 after the install: %v %d; want held with token 1", st, tok)
	}
	if st, _ := fd.Locks().State(2); st != cluster.LockWaiting {
		t.Fatalf("request 2 after the install: %v; want waiting", st)
	}
	if r := apply(t, fd, lockEntry(3, "release", "1")); r.Err != nil {
		t.Fatal(r.Err)
	}
	if st, tok := fd.Locks().State(2); st != cluster.LockHeld || tok != 3 {
		t.Fatalf("request 2 after the release: %v %d; want granted at 3", st, tok)
	}
	if r := apply(t, fd, command(4, "SET x 1")); r.Err == nil {
		t.Fatal("a write of a read-locked variable applied after the install")
	}
	// The lock file was written at the install: a restart finds the table.
	fd2, _ := cluster.NewFSM(dst, testApplier{})
	if err := cluster.LoadLocks(fd2, cluster.LockFile(dstPath)); err != nil || cluster.LocksAhead(fd2) {
		t.Fatalf("reload after the install: %v, ahead %v", err, cluster.LocksAhead(fd2))
	}
	if st, _ := fd2.Locks().State(2); st != cluster.LockHeld {
		t.Fatalf("request 2 after a reload: %v; want held", st)
	}
}

// Malformed lock-table entries are applied as failed commands, alike on
// every node: none stops the apply.
func TestFSMLockEntriesMalformed(t *testing.T) {
	m := openMem(t, filepath.Join(t.TempDir(), "mem"))
	defer m.Close()
	f, _ := cluster.NewFSM(m, testApplier{})
	for i, args := range [][]string{
		{"\x00held"}, {"\x00held", "1"}, {"\x00fenced", "x", "SET", "a", "1"}, {"\x00fenced", "0", "SET", "a", "1"},
		{"\x00lock"}, {"\x00lock", "request", "h", "W"}, {"\x00lock", "request", "h", "X", "1", "1", "a"},
		{"\x00lock", "request", "h", "W", "-1", "1", "a"}, {"\x00lock", "release", "x"}, {"\x00lock", "nonsense", "1"},
		{"\x00lock", "request", "h", "W", "1", "1", "\x00dsm.raft.applied"},
	} {
		b := make([][]byte, len(args))
		for j, a := range args {
			b[j] = []byte(a)
		}
		index := uint64(i + 1)
		r := apply(t, f, &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cluster.EncodeEntry(b)})
		if r.Err == nil || f.Halted() != nil || f.Applied() != index {
			t.Fatalf("%q: %+v, halted %v, applied %d; want a failed command at %d", args, r, f.Halted(), f.Applied(), index)
		}
	}
}
