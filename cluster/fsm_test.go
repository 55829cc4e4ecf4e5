package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

func command(index uint64, line string) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cluster.EncodeEntry(args(line))}
}

func apply(t *testing.T, f *cluster.FSM, l *raft.Log) *cluster.Result {
	t.Helper()
	r, ok := f.Apply(l).(*cluster.Result)
	if !ok {
		t.Fatalf("Apply returned %T", f.Apply(l))
	}
	return r
}

func TestEntryRoundTrip(t *testing.T) {
	for _, line := range []string{"SET k v NX", "INCRBY k 5", "CAS k old new", "MSET a 1 b 2", "DEL a b c"} {
		got, err := cluster.DecodeEntry(cluster.EncodeEntry(args(line)))
		if err != nil || !slicesEqual(got, args(line)) {
			t.Errorf("%s: decoded %q, %v", line, got, err)
		}
	}
	// Empty arguments survive too.
	in := [][]byte{[]byte("SET"), []byte("k"), {}}
	if got, err := cluster.DecodeEntry(cluster.EncodeEntry(in)); err != nil || !slicesEqual(got, in) {
		t.Errorf("empty value: %q, %v", got, err)
	}
}

func slicesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestEntryDamaged(t *testing.T) {
	good := cluster.EncodeEntry(args("SET k v"))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version 0": append([]byte{0}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		"no args":   {cluster.EntryVersion, 0},
		"huge arg":  {cluster.EntryVersion, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := cluster.DecodeEntry(b); !errors.Is(err, cluster.ErrBadEntry) {
			t.Errorf("%s: %v, want ErrBadEntry", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(cluster.EncodeEntry(args("MSET a 1 b 2")))
	f.Add([]byte{cluster.EntryVersion + 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := cluster.DecodeEntry(b)
		if err == nil && !bytes.Equal(cluster.EncodeEntry(got), b) {
			t.Errorf("%x decodes to %q, which encodes otherwise", b, got)
		}
	})
}

// An entry of a newer format is refused and halts the FSM: it applies
// nothing more and its index stays put, so it never skips what it cannot
// read.
func TestNewerEntryRefused(t *testing.T) {
	m := openMem(t, filepath.Join(t.TempDir(), "mem"))
	defer m.Close()
	f, err := cluster.NewFSM(m, testApplier{})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, f, command(1, "SET a 1"))
	newer := command(2, "SET a 2")
	newer.Data[0] = cluster.EntryVersion + 1
	if r := apply(t, f, newer); !errors.Is(r.Err, cluster.ErrEntryVersion) {
		t.Fatalf("newer entry: %v, want ErrEntryVersion", r.Err)
	}
	if r := apply(t, f, command(3, "SET a 3")); !errors.Is(r.Err, cluster.ErrHalted) {
		t.Errorf("after a newer entry: %v, want ErrHalted", r.Err)
	}
	if _, err := f.Snapshot(); !errors.Is(err, cluster.ErrHalted) {
		t.Errorf("snapshot of a halted FSM: %v, want ErrHalted", err)
	}
	if !errors.Is(f.Halted(), cluster.ErrEntryVersion) || f.Applied() != 1 {
		t.Errorf("halted %v, applied %d", f.Halted(), f.Applied())
	}
	if v, _, _ := m.Get([]byte("a")); v.String() != "1" {
		t.Errorf("a is %v, want 1", v)
	}
}

// A new FSM over a file starts at the file's applied index and skips
// entries at or below it, as Raft replays them after a restart.
func TestRestartSkipsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mem")
	m := openMem(t, path)
	f, _ := cluster.NewFSM(m, testApplier{})
	for i := uint64(1); i <= 3; i++ {
		apply(t, f, command(i, "INCR n"))
	}
	apply(t, f, command(4, "INCR notint x")) // fails, still applied
	m.Close()

	m = openMem(t, path)
	defer m.Close()
	f, err := cluster.NewFSM(m, testApplier{})
	if err != nil || f.Applied() != 4 {
		t.Fatalf("reopened FSM at %d, %v; want 4", f.Applied(), err)
	}
	for i := uint64(1); i <= 4; i++ {
		if r := apply(t, f, command(i, "INCR n")); !r.Skipped {
			t.Errorf("entry %d applied again: %+v", i, r)
		}
	}
	if r := apply(t, f, command(5, "INCR n")); r.Err != nil || string(r.Reply.Data) != "4" {
		t.Errorf("entry 5: %+v, want n = 4", r)
	}
}

// A snapshot installed over another file leaves the same variables and
// values, removes what the snapshot lacks, and moves the applied index.
func TestSnapshotRestore(t *testing.T) {
	src := openMem(t, filepath.Join(t.TempDir(), "src"))
	defer src.Close()
	fs, _ := cluster.NewFSM(src, testApplier{})
	lines := []string{"SET a 1", "SET b hello", "INCR a", "SET x 1", "SET y two", "DEL x", "SET e ''"}
	for i, line := range lines {
		if r := apply(t, fs, command(uint64(i+1), line)); r.Err != nil {
			t.Fatal(line, r.Err)
		}
	}
	store, id := persistSnapshot(t, fs)
	// Apply goes on after Snapshot: the snapshot must not see it.
	apply(t, fs, command(uint64(len(lines)+1), "SET late 1"))

	dst := openMem(t, filepath.Join(t.TempDir(), "dst"))
	defer dst.Close()
	fd, _ := cluster.NewFSM(dst, testApplier{})
	apply(t, fd, command(1, "SET stale 1"))
	apply(t, fd, command(2, "SET a 0"))
	_, rc, err := store.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := fd.Restore(rc); err != nil {
		t.Fatal(err)
	}
	want := values(t, src)
	delete(want, "late")
	if got := values(t, dst); !maps.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
	if fd.Applied() != uint64(len(lines)) {
		t.Errorf("restored applied index %d, want %d", fd.Applied(), len(lines))
	}
	// The restored node goes on from the snapshot's index.
	if r := apply(t, fd, command(uint64(len(lines)), "INCR a")); !r.Skipped {
		t.Errorf("entry at the snapshot's index applied: %+v", r)
	}
}

// persistSnapshot takes f's snapshot into an in-memory store and returns
// the store and the snapshot's ID.
func persistSnapshot(t *testing.T, f *cluster.FSM) (*raft.InmemSnapshotStore, string) {
	t.Helper()
	store := raft.NewInmemSnapshotStore()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, f.Applied(), 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	return store, sink.ID()
}

// values is dump without versions: an install does not carry them (see
// FSM.Restore), and leaves out the reserved variables.
func values(t *testing.T, m *shm.Memory) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range dump(t, m) {
		if !cluster.Reserved([]byte(k)) {
			out[k] = v[:strings.LastIndexByte(v, '@')]
		}
	}
	return out
}

// A snapshot of a newer format, or a damaged one, is refused and leaves
// the file as it was.
func TestSnapshotRefused(t *testing.T) {
	m := openMem(t, filepath.Join(t.TempDir(), "mem"))
	defer m.Close()
	f, _ := cluster.NewFSM(m, testApplier{})
	apply(t, f, command(1, "SET a 1"))
	snap, _ := f.Snapshot()
	store := raft.NewInmemSnapshotStore()
	sink, _ := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	_, rc, _ := store.Open(sink.ID())
	good, _ := io.ReadAll(rc)
	apply(t, f, command(2, "SET a 2"))

	newer := bytes.Clone(good)
	newer[len("DSMSNAP\n")]++
	damaged := bytes.Clone(good)
	damaged[len(damaged)-6] ^= 1
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"newer":     {newer, cluster.ErrEntryVersion},
		"damaged":   {damaged, cluster.ErrBadSnapshot},
		"truncated": {good[:len(good)-1], cluster.ErrBadSnapshot},
		"foreign":   {[]byte("not a snapshot at all"), cluster.ErrBadSnapshot},
	} {
		if err := f.Restore(io.NopCloser(bytes.NewReader(c.b))); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if v, _, _ := m.Get([]byte("a")); v.String() != "2" || f.Applied() != 2 {
		t.Errorf("after refused snapshots a is %v at %d, want 2 at 2", v, f.Applied())
	}
}

// A snapshot from a file of another layout (hash seed) is refused.
func TestSnapshotOtherSeedRefused(t *testing.T) {
	dir := t.TempDir()
	src := openMem(t, filepath.Join(dir, "src"))
	defer src.Close()
	fs, _ := cluster.NewFSM(src, testApplier{})
	apply(t, fs, command(1, "SET a 1"))
	snap, _ := fs.Snapshot()
	store := raft.NewInmemSnapshotStore()
	sink, _ := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	dst, err := shm.Open(shm.Config{Path: filepath.Join(dir, "dst"), Vars: 512, GroupMax: 64, Seed: testSeed + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	fd, _ := cluster.NewFSM(dst, testApplier{})
	_, rc, _ := store.Open(sink.ID())
	if err := fd.Restore(rc); !errors.Is(err, cluster.ErrBadSnapshot) {
		t.Errorf("restore across seeds: %v, want ErrBadSnapshot", err)
	}
}

func TestBootstrapSeed(t *testing.T) {
	a := cluster.BootstrapSeed([]cluster.Peer{{ID: "n1", Addr: "h1:1"}, {ID: "n2", Addr: "h2:1"}})
	b := cluster.BootstrapSeed([]cluster.Peer{{ID: "n2", Addr: "other:2"}, {ID: "n1"}})
	c := cluster.BootstrapSeed([]cluster.Peer{{ID: "n1"}, {ID: "n3"}})
	if a != b || a == c || a == 0 {
		t.Errorf("seeds %#x %#x %#x: want the first two equal, the third other, none zero", a, b, c)
	}
}

// failAfterSet stages a SET, then fails: the FSM must discard the staged
// write and still advance the applied index.
type failAfterSet struct{ testApplier }

func (failAfterSet) Apply(g *shm.LockGroup, args [][]byte) ([]byte, error) {
	if err := g.Set(args[1], shm.ParseValue(args[2])); err != nil {
		return nil, err
	}
	return nil, errTestCommand
}

func TestFailedApplyDiscarded(t *testing.T) {
	m := openMem(t, filepath.Join(t.TempDir(), "mem"))
	defer m.Close()
	f, _ := cluster.NewFSM(m, testApplier{})
	apply(t, f, command(1, "SET a 1"))
	f, err := cluster.NewFSM(m, failAfterSet{})
	if err != nil {
		t.Fatal(err)
	}
	if r := apply(t, f, command(2, "SET a 2")); !errors.Is(r.Err, errTestCommand) {
		t.Fatalf("failing apply: %+v", r)
	}
	if v, ver, _ := m.Get([]byte("a")); v.String() != "1" || ver != cluster.CreateVersion(1) || f.Applied() != 2 {
		t.Errorf("a is %v@%d at applied %d, want 1@%d at 2", v, ver, f.Applied(), cluster.CreateVersion(1))
	}
	if _, err := cluster.NewFSM(m, nil); !errors.Is(err, cluster.ErrConfig) {
		t.Errorf("NewFSM without an applier: %v, want ErrConfig", err)
	}
}

// WaitApplied wakes on the apply that reaches its index, fails when ctx
// ends first, and fails at once when apply halts below its index.
func TestWaitApplied(t *testing.T) {
	m := openMem(t, filepath.Join(t.TempDir(), "mem"))
	defer m.Close()
	f, err := cluster.NewFSM(m, testApplier{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), 2) }()
	apply(t, f, command(1, "SET a 1"))
	select {
	case err := <-done:
		t.Fatalf("WaitApplied(2) returned %v at index 1", err)
	case <-time.After(20 * time.Millisecond):
	}
	apply(t, f, command(2, "SET a 2"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.WaitApplied(ctx, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitApplied past ctx: %v", err)
	}
	go func() { done <- f.WaitApplied(context.Background(), 4) }()
	newer := command(3, "SET a 3")
	newer.Data[0] = cluster.EntryVersion + 1
	if r := apply(t, f, newer); !errors.Is(r.Err, cluster.ErrHalted) || !errors.Is(r.Err, cluster.ErrEntryVersion) {
		t.Errorf("newer entry's result: %v, want ErrHalted and ErrEntryVersion", r.Err)
	}
	if err := <-done; !errors.Is(err, cluster.ErrHalted) {
		t.Errorf("WaitApplied when apply halts: %v, want ErrHalted", err)
	}
}
