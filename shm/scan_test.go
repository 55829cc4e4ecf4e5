package shm_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestScan: a scan resumed from its cursor, in pages of every size, reports
// every variable that has a value exactly once, with its current version,
// and nothing else.
func TestScan(t *testing.T) {
	m := newMem(t, unit)
	want := map[string]uint64{}
	for i := 0; i < 12; i++ {
		name := fmt.Sprint("v", i)
		want[name] = mustSet(t, m, name, shm.Int(int64(i)))
	}
	for _, n := range []string{"v3", "v7"} {
		m.Delete(b(n))
		delete(want, n)
	}
	if _, err := m.Handle(b("valueless"), true); err != nil {
		t.Fatal(err)
	}
	want["v5"] = mustSet(t, m, "v5", shm.Bytes(b("changed")))

	for page := 1; page <= 14; page++ {
		got := map[string]uint64{}
		var cursor uint64
		calls := 0
		for {
			n := 0
			var err error
			cursor, err = m.Scan(cursor, func(name []byte, ver uint64) bool {
				if _, dup := got[string(name)]; dup {
					t.Errorf("page %d: %q reported twice", page, name)
				}
				got[string(name)] = ver
				n++
				return n < page
			})
			if err != nil {
				t.Fatalf("page %d: Scan: %v", page, err)
			}
			if calls++; cursor == 0 || calls > 100 {
				break
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("page %d: scan saw %v, want %v", page, got, want)
		}
	}
	if next, err := m.Scan(1<<40, func([]byte, uint64) bool {
		t.Error("fn called for a cursor past the end")
		return true
	}); next != 0 || err != nil {
		t.Errorf("Scan past the end returned cursor %d, %v; want 0, nil", next, err)
	}
}

// TestScanDuringChanges: variables that exist throughout a scan are
// reported although others are deleted and created during it, and the name
// given to fn does not change under it.
func TestScanDuringChanges(t *testing.T) {
	m := newMem(t, unit)
	for i := 0; i < 8; i++ {
		mustSet(t, m, fmt.Sprint("v", i), shm.Int(int64(i)))
	}
	seen := map[string]bool{}
	m.Scan(0, func(name []byte, _ uint64) bool {
		n := string(name)
		seen[n] = true
		// Changes to other variables during the scan: those that exist
		// throughout are still reported once.
		if n == "v0" {
			m.Delete(b("v7"))
			mustSet(t, m, "new", shm.Int(1))
		}
		if string(name) != n {
			t.Errorf("name changed under fn: %q became %q", n, name)
		}
		return true
	})
	for i := 0; i < 7; i++ {
		if !seen[fmt.Sprint("v", i)] {
			t.Errorf("v%d, present throughout, not reported", i)
		}
	}
}

// TestModel runs random operations against a Go map and checks after each
// that every name reads as the model says, then that the index and free
// list are consistent (Check). Names are many and capacity small, so slots
// and index buckets are reused and probe runs wrap around.
func TestModel(t *testing.T) {
	m := newMem(t, unit)
	capacity := m.Stats().Capacity
	model := map[string]int64{}
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprint("name-", i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 0; step < 3000; step++ {
		name := names[rng.IntN(len(names))]
		switch op := rng.IntN(10); {
		case op < 4:
			_, err := m.Set(b(name), shm.Int(int64(step)))
			_, exists := model[name]
			switch {
			case err == nil:
				model[name] = int64(step)
			case !exists && len(model) == capacity && errors.Is(err, shm.ErrFull):
			default:
				t.Fatalf("step %d: Set(%q): %v (model has %d of %d)", step, name, err, len(model), capacity)
			}
		case op < 6:
			n, err := m.Delete(b(name))
			_, exists := model[name]
			if err != nil || (n == 1) != exists {
				t.Fatalf("step %d: Delete(%q) = %d, %v; model has it: %v", step, name, n, err, exists)
			}
			delete(model, name)
		case op < 7:
			n, _, err := m.Add(b(name), 1)
			_, exists := model[name]
			switch {
			case err == nil:
				model[name]++
				if n != model[name] {
					t.Fatalf("step %d: Add(%q) = %d, want %d", step, name, n, model[name])
				}
			case !exists && len(model) == capacity && errors.Is(err, shm.ErrFull):
			default:
				t.Fatalf("step %d: Add(%q): %v", step, name, err)
			}
		default:
			pick := []string{name, names[rng.IntN(len(names))], names[rng.IntN(len(names))]}
			items, err := m.MGet([][]byte{b(pick[0]), b(pick[1]), b(pick[2])})
			if err != nil {
				t.Fatalf("step %d: MGet: %v", step, err)
			}
			for i, it := range items {
				want, exists := model[pick[i]]
				if it.Found != exists || (exists && !it.Value.Equal(shm.Int(want))) {
					t.Fatalf("step %d: MGet %q = %+v, model %d (exists %v)", step, pick[i], it, want, exists)
				}
			}
		}
		for _, n := range names {
			v, _, err := m.Get(b(n))
			want, exists := model[n]
			if exists != (err == nil) || (exists && !v.Equal(shm.Int(want))) {
				t.Fatalf("step %d: Get(%q) = %v, %v; model %d (exists %v)", step, n, v, err, want, exists)
			}
		}
		if step%100 == 0 || step == 2999 {
			if err := m.Check(); err != nil {
				t.Fatalf("step %d: Check: %v", step, err)
			}
			var scanned []string
			m.Scan(0, func(name []byte, _ uint64) bool { scanned = append(scanned, string(name)); return true })
			slices.Sort(scanned)
			if want := slices.Sorted(maps.Keys(model)); !slices.Equal(scanned, want) {
				t.Fatalf("step %d: Scan = %v, model %v", step, scanned, want)
			}
			if m.Len() != len(model) {
				t.Fatalf("step %d: Len = %d, model %d", step, m.Len(), len(model))
			}
		}
	}
}
