package shm_test

import (
	"testing"

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
