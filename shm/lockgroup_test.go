package shm_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestGroupDeleteFreesSlot: a variable deleted through a group gives its
// slot back when the group unlocks, so a full file takes a new variable
// again; one deleted and then set again in the group keeps its slot.
func TestGroupDeleteFreesSlot(t *testing.T) {
	m := newMem(t, small) // 4 variables
	for i := range 4 {
		mustSet(t, m, "v"+strconv.Itoa(i), shm.Int(int64(i)))
	}
	if _, err := m.Set(b("new"), shm.Int(1)); !errors.Is(err, shm.ErrFull) {
		t.Fatalf("Set on a full file: %v, want ErrFull", err)
	}
	g, err := m.Lock(context.Background(), [][]byte{b("v1"), b("v2")}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return g.Delete(b("v1")) },
		func() error { return g.Delete(b("v2")) },
		g.Commit,
		func() error { return g.Set(b("v2"), shm.Int(22)) }, // v2 comes back
		g.Commit,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	g.Unlock()
	if _, _, err := m.Get(b("v1")); !errors.Is(err, shm.ErrNotFound) {
		t.Fatalf("Get(v1) after the group deleted it: %v, want ErrNotFound", err)
	}
	if v, _, err := m.Get(b("v2")); err != nil || !v.Equal(shm.Int(22)) {
		t.Fatalf("Get(v2) = %v, %v; want 22", v, err)
	}
	if _, err := m.Set(b("new"), shm.Int(1)); err != nil {
		t.Fatalf("Set after a group deleted a variable of the full file: %v", err)
	}
	if _, err := m.Set(b("newer"), shm.Int(1)); !errors.Is(err, shm.ErrFull) {
		t.Fatalf("a second new variable: %v, want ErrFull (v2 kept its slot)", err)
	}
}
