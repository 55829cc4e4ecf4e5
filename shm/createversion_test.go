package shm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// groupDo locks names for writing (creating them), sets the group's create
// version to cv (0: none), runs fn and commits, returning Commit's error.
func groupDo(t *testing.T, m *shm.Memory, cv uint64, names []string, fn func(g *shm.LockGroup) error) error {
	t.Helper()
	var bs [][]byte
	for _, n := range names {
		bs = append(bs, b(n))
	}
	g, err := m.Lock(context.Background(), bs, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unlock()
	if cv != 0 {
		g.SetCreateVersion(cv)
	}
	if err := fn(g); err != nil {
		t.Fatal(err)
	}
	return g.Commit()
}

// TestCreateVersion: a group with a create version gives exactly that
// version to every variable it creates, whatever its slot's version, by
// an odd or an even step; an update still moves one version per commit,
// however many writes were staged; a variable a commit left without a
// value is created again by the next.
func TestCreateVersion(t *testing.T) {
	m := newMem(t, unit)
	ver := mustSet(t, m, "x", shm.Int(1))
	// A freed slot at version 3 for "odd", a fresh one at 0 for "even".
	mustSet(t, m, "tmp", shm.Int(1))
	mustSet(t, m, "tmp", shm.Int(2))
	if _, err := m.Delete(b("tmp")); err != nil {
		t.Fatal(err)
	}
	err := groupDo(t, m, 12, []string{"x", "odd", "even"}, func(g *shm.LockGroup) error {
		for _, step := range []func() error{
			func() error { return g.Set(b("odd"), shm.Int(1)) },
			func() error { return g.Set(b("even"), shm.Bytes(b("e"))) },
			func() error { return g.Set(b("x"), shm.Int(5)) },
			func() error { _, err := g.Add(b("x"), 1); return err },
			func() error { return g.Set(b("x"), shm.Int(7)) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		// The group reads its staged writes at the versions Commit gives.
		for name, want := range map[string]uint64{"odd": 12, "even": 12, "x": ver + 1} {
			if it, err := g.Get(b(name)); err != nil || it.Version != want {
				t.Errorf("group's Get(%s) = %+v, %v; want version %d", name, it, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "odd", shm.Int(1), 12)
	wantValue(t, m, "even", shm.Bytes(b("e")), 12)
	wantValue(t, m, "x", shm.Int(7), ver+1) // three staged writes, one version

	// A delete committed, then a set in the same group: created again.
	err = groupDo(t, m, 20, []string{"odd"}, func(g *shm.LockGroup) error {
		if err := g.Delete(b("odd")); err != nil {
			return err
		}
		if err := g.Commit(); err != nil {
			return err
		}
		return g.Set(b("odd"), shm.Int(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "odd", shm.Int(2), 20)
	// A delete and a set staged in one commit update a variable that has
	// a value; an update ignores the create version.
	if err := groupDo(t, m, 30, []string{"even"}, func(g *shm.LockGroup) error {
		if err := g.Delete(b("even")); err != nil {
			return err
		}
		return g.Set(b("even"), shm.Int(3))
	}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "even", shm.Int(3), 13)
	// Without a create version, a creation takes its slot's next version.
	if err := groupDo(t, m, 0, []string{"plain"}, func(g *shm.LockGroup) error { return g.Set(b("plain"), shm.Int(1)) }); err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "plain", shm.Int(1), 1)
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestCreateVersionNotAbove: a create version that is not above the
// version of the slot the variable is created in fails the commit with
// ErrCreateVersion and writes nothing, the group's other writes included;
// the variables a failed group created go at Unlock.
func TestCreateVersionNotAbove(t *testing.T) {
	m := newMem(t, small) // 4 slots, so the freed one is the one reused
	for _, n := range []string{"a", "b", "c"} {
		mustSet(t, m, n, shm.Int(1))
	}
	for range 5 {
		mustSet(t, m, "c", shm.Int(2))
	}
	if _, err := m.Delete(b("c")); err != nil { // c's slot at 7
		t.Fatal(err)
	}
	// Below the slot's version, then equal to it: the failed group's
	// Unlock frees "new" again, which moves the slot to 8.
	for _, cv := range []uint64{3, 8} {
		err := groupDo(t, m, cv, []string{"a", "new"}, func(g *shm.LockGroup) error {
			if err := g.Set(b("a"), shm.Int(9)); err != nil {
				return err
			}
			return g.Set(b("new"), shm.Int(9))
		})
		wantErr(t, "a create version not above the slot's", err, shm.ErrCreateVersion)
		wantValue(t, m, "a", shm.Int(1), 1)
		wantMissing(t, m, "new")
	}
	if err := groupDo(t, m, 10, []string{"new"}, func(g *shm.LockGroup) error { return g.Set(b("new"), shm.Int(9)) }); err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "new", shm.Int(9), 10)
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestCreateVersionRedo: the redo log gets the version a creation
// actually took, once, and Restore of the record into a file without the
// creation (one a power loss took it from) brings the variable back at
// that version.
func TestCreateVersionRedo(t *testing.T) {
	m := newMem(t, unit)
	var r recorder
	m.SetRedoLog(&r)
	if err := groupDo(t, m, 40, []string{"n"}, func(g *shm.LockGroup) error { return g.Set(b("n"), shm.Int(1)) }); err != nil {
		t.Fatal(err)
	}
	recs := r.records()
	if len(recs) != 1 || recs[0].Version != 40 || string(recs[0].Name) != "n" {
		t.Fatalf("redo records %+v, want n at 40 alone", recs)
	}
	other := newMem(t, unit)
	if n, err := other.Restore(recs); err != nil || n != 1 {
		t.Fatalf("Restore = %d, %v", n, err)
	}
	wantValue(t, other, "n", shm.Int(1), 40)
}

// TestCreateVersionReaders: readers of a variable created by an even step
// (which passes through a version of its own first) never see a value
// before the group's commit, nor one group member without the other.
func TestCreateVersionReaders(t *testing.T) {
	m := newMem(t, unit)
	names := [][]byte{b("p"), b("q")}
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			items, err := m.MGet(names)
			if err != nil {
				done <- err
				return
			}
			if items[0].Found != items[1].Found || (items[0].Found && items[0].Version != items[1].Version) {
				done <- errors.New("MGet saw half a group")
				return
			}
		}
	}()
	for i := uint64(1); i <= 199; i++ {
		err := groupDo(t, m, 4*i, []string{"p", "q"}, func(g *shm.LockGroup) error {
			if i%2 == 0 {
				if err := g.Delete(b("p")); err != nil {
					return err
				}
				return g.Delete(b("q"))
			}
			if err := g.Set(b("p"), shm.Int(int64(i))); err != nil {
				return err
			}
			return g.Set(b("q"), shm.Int(int64(i)))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "p", shm.Int(199), 4*199)
}
