package shm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// recorder is a RedoLog that keeps copies of what it is given.
type recorder struct {
	mu    sync.Mutex
	calls [][]shm.Record
}

func (r *recorder) Append(recs []shm.Record) {
	cp := make([]shm.Record, len(recs))
	for i, rec := range recs {
		rec.Name = slices.Clone(rec.Name)
		if !rec.Value.IsInt() && rec.Value.Valid() {
			rec.Value = shm.Bytes([]byte(rec.Value.String()))
		}
		cp[i] = rec
	}
	r.mu.Lock()
	r.calls = append(r.calls, cp)
	r.mu.Unlock()
}

// records returns the records of every call so far, in order.
func (r *recorder) records() []shm.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []shm.Record
	for _, call := range r.calls {
		out = append(out, call...)
	}
	return out
}

// take returns the calls so far, each as "name=value@version" records
// joined by spaces ("name-@version" for a delete), and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, call := range r.calls {
		var parts []string
		for _, rec := range call {
			if rec.Deleted {
				parts = append(parts, fmt.Sprintf("%s-@%d", rec.Name, rec.Version))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s=%s@%d", rec.Name, rec.Value, rec.Version))
		}
		out = append(out, strings.Join(parts, " "))
	}
	r.calls = nil
	return out
}

// TestRedoLogGetsEveryWrite checks that each write path gives the
// redo log one call with its records, a group one call with all of them,
// and that failed or no-op writes and reads give none.
func TestRedoLogGetsEveryWrite(t *testing.T) {
	m := newMem(t, unit)
	rec := &recorder{}
	m.SetRedoLog(rec)
	expect := func(what string, want ...string) {
		t.Helper()
		if got := rec.take(); !slices.Equal(got, want) {
			t.Errorf("%s: redo log got %q, want %q", what, got, want)
		}
	}

	mustSet(t, m, "a", shm.Int(1)) // created: general path
	expect("Set new", "a=1@1")
	mustSet(t, m, "a", shm.Bytes(b("x"))) // fast path
	expect("Set existing", "a=x@2")
	if _, _, err := m.SetWith(b("a"), shm.Int(5), shm.SetOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	expect("SetWith NX on existing (not stored)")
	if _, _, err := m.SetWith(b("a"), shm.Int(5), shm.SetOptions{IfExists: true}); err != nil {
		t.Fatal(err)
	}
	expect("SetWith XX", "a=5@3")
	if _, _, err := m.Add(b("a"), 2); err != nil {
		t.Fatal(err)
	}
	expect("Add", "a=7@4")
	if ok, _, err := m.CompareAndSwap(b("a"), shm.Int(0), shm.Int(9)); err != nil || ok {
		t.Fatalf("CompareAndSwap mismatch: %v %v", ok, err)
	}
	expect("CompareAndSwap mismatch")
	if ok, _, err := m.CompareAndSwap(b("a"), shm.Int(7), shm.Int(9)); err != nil || !ok {
		t.Fatalf("CompareAndSwap: %v %v", ok, err)
	}
	expect("CompareAndSwap", "a=9@5")
	if ok, _, err := m.CompareVersionAndSwap(b("a"), 5, shm.Int(10)); err != nil || !ok {
		t.Fatalf("CompareVersionAndSwap: %v %v", ok, err)
	}
	expect("CompareVersionAndSwap", "a=10@6")
	m.Get(b("a"))
	m.Exists(b("a"))
	expect("reads")

	h, err := m.Handle(b("a"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Set(shm.Int(20)); err != nil {
		t.Fatal(err)
	}
	expect("Handle.Set", "a=20@7")
	if _, _, err := h.Add(1); err != nil {
		t.Fatal(err)
	}
	expect("Handle.Add", "a=21@8")
	if _, _, err := h.CompareAndSwap(shm.Int(21), shm.Int(22)); err != nil {
		t.Fatal(err)
	}
	expect("Handle.CompareAndSwap", "a=22@9")

	if err := m.MSet([][]byte{b("a"), b("b"), b("a")}, []shm.Value{shm.Int(1), shm.Int(2), shm.Int(3)}); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 || !sameFields(got[0], "a=3@10 b=2@1") {
		t.Errorf("MSet: redo log got %q, want one call with a=3@10 and b=2@1", got)
	}

	g, err := m.Lock(context.Background(), [][]byte{b("a"), b("b"), b("c")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	g.Set(b("c"), shm.Int(30))
	g.Delete(b("b"))
	g.Add(b("a"), 1)
	if err := g.Commit(); err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	got = rec.take()
	if len(got) != 1 || !sameFields(got[0], "a=4@11 b=@2 c=30@1") {
		t.Errorf("LockGroup.Commit: redo log got %q, want one call with a=4@11, b=@2 and c=30@1", got)
	}
	g, err = m.Lock(context.Background(), [][]byte{b("a")}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	expect("group without writes")

	if n, err := m.Delete(b("a"), b("nope")); err != nil || n != 1 {
		t.Fatalf("Delete: %d %v", n, err)
	}
	expect("Delete", "a-@12")
	if _, _, err := m.Add(b("c"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set(b(strings.Repeat("n", 200)), shm.Int(1)); err == nil {
		t.Fatal("Set with a long name succeeded")
	}
	expect("Add then a failed Set", "c=31@2")

	m.SetRedoLog(nil)
	mustSet(t, m, "c", shm.Int(1))
	m.Delete(b("c"))
	expect("no redo log")
}

// sameFields reports whether a and b hold the same space-separated fields
// in any order (a group's records come in slot order).
func sameFields(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestRestore checks Restore's rule: a record older than the mapping's
// state is ignored, a newer one applied at its version, a delete removes,
// a missing variable is created, and a record of an incarnation the slot
// has moved past is ignored.
func TestRestore(t *testing.T) {
	m := newMem(t, unit)
	rec := &recorder{}
	m.SetRedoLog(rec)
	mustSet(t, m, "a", shm.Int(1))
	mustSet(t, m, "a", shm.Int(2))
	mustSet(t, m, "b", shm.Int(1))
	m.Delete(b("b"))
	mustSet(t, m, "b", shm.Int(7)) // b again, perhaps in another slot
	m.SetRedoLog(nil)
	recs := rec.records()
	a1, a2, b1, bDel, b2 := recs[0], recs[1], recs[2], recs[3], recs[4]

	restore := func(r shm.Record, want bool) {
		t.Helper()
		n, err := m.Restore([]shm.Record{r})
		if applied := n == 1; err != nil || applied != want {
			t.Fatalf("Restore(%s %v@%d deleted=%v) = %d, %v; want applied=%v", r.Name, r.Value, r.Version, r.Deleted, n, err, want)
		}
	}
	expectGet := func(name string, want string, wantVer uint64) {
		t.Helper()
		v, ver, err := m.Get(b(name))
		if want == "" {
			if err == nil {
				t.Fatalf("Get(%s) = %v@%d, want missing", name, v, ver)
			}
			return
		}
		if err != nil || v.String() != want || (wantVer != 0 && ver != wantVer) {
			t.Fatalf("Get(%s) = %v@%d, %v; want %s@%d", name, v, ver, err, want, wantVer)
		}
	}

	// The mapping is newer than every record: nothing moves back.
	for _, r := range []shm.Record{a1, a2, b1, bDel, b2} {
		restore(r, false)
	}
	expectGet("a", "2", a2.Version)
	expectGet("b", "7", b2.Version)

	// A newer record of the same incarnation is applied at its version.
	newer := a2
	newer.Value, newer.Version = shm.Int(50), a2.Version+3
	restore(newer, true)
	expectGet("a", "50", a2.Version+3)
	restore(a2, false)
	expectGet("a", "50", a2.Version+3)

	// A delete of the current incarnation removes the variable.
	del := newer
	del.Deleted, del.Value = true, shm.Value{}
	restore(del, true)
	expectGet("a", "", 0)
	restore(del, false) // the slot moved past it
	restore(newer, false)
	expectGet("a", "", 0)

	// A record of an incarnation the slot has not reached yet (the mapping
	// is older than the redo log) creates the variable by name.
	future := b2
	future.Name, future.Inc, future.Version = b("fresh"), b2.Inc+10, 40
	future.Value = shm.Bytes(b("hello"))
	restore(future, true)
	expectGet("fresh", "hello", 40)
	// ... and an older-than-mapping record of that kind still lifts
	// nothing back: the slot's variable is b's, the name is fresh's.
	gone := future
	gone.Deleted = true
	restore(gone, true)
	expectGet("fresh", "", 0)
	expectGet("b", "7", b2.Version)

	// Records that do not fit the file are refused.
	bad := b2
	bad.Slot = 1 << 20
	if _, err := m.Restore([]shm.Record{bad}); err == nil {
		t.Error("Restore of a slot beyond the file succeeded")
	}
	bad = b2
	bad.Name = b("other")
	if _, err := m.Restore([]shm.Record{bad}); err == nil {
		t.Error("Restore naming a slot that holds another name succeeded")
	}
}

// TestRedoLogRacesWithWriters checks, under -race, that the records of one
// variable reach the redo log in version order while several goroutines
// write it.
func TestRedoLogRacesWithWriters(t *testing.T) {
	m := newMem(t, unit)
	rec := &recorder{}
	m.SetRedoLog(rec)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				m.Add(b("n"), 1)
				m.MSet([][]byte{b("n"), b("o")}, []shm.Value{shm.Int(0), shm.Int(1)})
			}
		}()
	}
	wg.Wait()
	var last uint64
	n := 0
	for _, r := range rec.records() {
		if string(r.Name) != "n" {
			continue
		}
		n++
		if r.Version != last+1 {
			t.Fatalf("record %d of n has version %d after %d", n, r.Version, last)
		}
		last = r.Version
	}
	if n != 1600 {
		t.Fatalf("%d records of n, want 1600", n)
	}
}

// TestRestoreJudgesBeforeApplying replays a redo log onto a fresh file (a
// disk image older than every record): records applied by name allocate
// slots that other records name, so each must be judged against the
// mapping as it was before any was applied.
func TestRestoreJudgesBeforeApplying(t *testing.T) {
	m1 := newMem(t, unit)
	rec := &recorder{}
	m1.SetRedoLog(rec)
	mustSet(t, m1, "x", shm.Int(1))
	mustSet(t, m1, "y", shm.Int(2))
	mustSet(t, m1, "z", shm.Int(3))
	recs := rec.records()
	slices.Reverse(recs) // z first: by name, it takes x's slot in the fresh file
	m2 := newMem(t, unit)
	n, err := m2.Restore(recs)
	if err != nil || n != 3 {
		t.Fatalf("Restore onto a fresh file: %d applied, %v; want 3", n, err)
	}
	for name, want := range map[string]int64{"x": 1, "y": 2, "z": 3} {
		if v, _, err := m2.Get(b(name)); err != nil || !v.Equal(shm.Int(want)) {
			t.Errorf("%s = %v, %v; want %d", name, v, err, want)
		}
	}
}
