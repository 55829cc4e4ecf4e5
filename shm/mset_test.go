package shm_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// TestMSetRepeatedName: a name given twice takes its last value, as in
// Redis, and each variable's version rises once.
func TestMSetRepeatedName(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 64})
	_, ver0 := mustGetOrZero(t, m, "a")
	names := [][]byte{b("a"), b("b"), b("a"), b("c"), b("a")}
	vals := []shm.Value{shm.Int(1), shm.Int(2), shm.Bytes(b("second")), shm.Int(3), shm.Bytes(b("last"))}
	if err := m.MSet(names, vals); err != nil {
		t.Fatal(err)
	}
	v, ver := mustGet(t, m, "a")
	if v.String() != "last" {
		t.Fatalf("a = %q, want %q", v, "last")
	}
	if ver != ver0+1 {
		t.Fatalf("a's version %d, want %d", ver, ver0+1)
	}
	wantValue(t, m, "b", shm.Int(2), 0)
	wantValue(t, m, "c", shm.Int(3), 0)
}

// TestMSetMoreThanStack: a group larger than mset's stack array.
func TestMSetMoreThanStack(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 256, GroupMax: 64})
	var names [][]byte
	var vals []shm.Value
	for i := range 40 {
		names = append(names, []byte{'k', byte('0' + i/10), byte('0' + i%10)})
		vals = append(vals, shm.Int(int64(i)))
	}
	if err := m.MSet(names, vals); err != nil {
		t.Fatal(err)
	}
	items, err := m.MGet(names)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if n, _ := it.Value.Int(); !it.Found || n != int64(i) {
			t.Fatalf("%s = %v, want %d", names[i], it.Value, i)
		}
	}
}

func mustGetOrZero(t *testing.T, m *shm.Memory, name string) (shm.Value, uint64) {
	t.Helper()
	v, ver, err := m.Get(b(name))
	if err != nil && err != shm.ErrNotFound {
		t.Fatal(err)
	}
	return v, ver
}

// TestMSetWaitsWithoutLane: MSets waiting for a locked variable, twice as
// many as the process has lanes, hold no lane while they wait, so a group
// on a free variable gets one at once; they all complete once the lock
// is released.
func TestMSetWaitsWithoutLane(t *testing.T) {
	m := newMem(t, unit) // 4 lanes
	holder, err := m.Lock(context.Background(), [][]byte{b("x")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	const waiters = 8
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() { errs <- m.MSet([][]byte{b("x"), b("z")}, []shm.Value{shm.Int(int64(i)), shm.Int(1)}) }()
	}
	time.Sleep(100 * time.Millisecond) // let them reach their wait
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if g, err := m.Lock(ctx, [][]byte{b("y")}, true, true); err != nil {
		t.Errorf("Lock of a free variable while %d MSets wait: %v", waiters, err)
	} else {
		g.Unlock()
	}
	holder.Unlock()
	for range waiters {
		if err := <-errs; err != nil {
			t.Errorf("a waiting MSet: %v", err)
		}
	}
}
