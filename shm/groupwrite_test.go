package shm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestGroupConditionalWrites: SetWith and CompareAndSwap through a group
// decide as the Memory's do, and MSet stages every pair or none.
func TestGroupConditionalWrites(t *testing.T) {
	m := newMem(t, small)
	mustSet(t, m, "a", shm.Int(1))
	g, err := m.Lock(context.Background(), [][]byte{b("a"), b("n")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unlock()
	for _, c := range []struct {
		name   string
		opt    shm.SetOptions
		stored bool
	}{
		{"a", shm.SetOptions{IfAbsent: true}, false},
		{"n", shm.SetOptions{IfExists: true}, false},
		{"a", shm.SetOptions{IfExists: true}, true},
		{"n", shm.SetOptions{IfAbsent: true}, true},
	} {
		_, stored, err := g.SetWith(b(c.name), shm.Int(7), c.opt)
		if err != nil || stored != c.stored {
			t.Errorf("SetWith(%s, %+v) = %v, %v; want %v", c.name, c.opt, stored, err, c.stored)
		}
	}
	if ok, err := g.CompareAndSwap(b("a"), shm.Bytes(b("7")), shm.Int(8)); !ok || err != nil {
		t.Errorf("CompareAndSwap of a matching value = %v, %v", ok, err)
	}
	if ok, err := g.CompareAndSwap(b("a"), shm.Int(7), shm.Int(9)); ok || err != nil {
		t.Errorf("CompareAndSwap of another value = %v, %v", ok, err)
	}
	err = g.MSet([][]byte{b("a"), b("other")}, []shm.Value{shm.Int(10), shm.Int(11)})
	if !errors.Is(err, shm.ErrNotHeld) {
		t.Errorf("MSet with a name not held: %v, want ErrNotHeld", err)
	}
	if it, _ := g.Get(b("a")); !it.Value.Equal(shm.Int(8)) {
		t.Errorf("a after a refused MSet = %v, want 8: nothing staged", it.Value)
	}
}
