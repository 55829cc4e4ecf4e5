package shm_test

import (
	"strconv"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestPrefetch: Prefetch is a hint and nothing else. Over names that
// exist, names that do not, the empty name and more names than one batch,
// it leaves every value, version and the variable count as they were; on
// a closed Memory it returns without touching the unmapped file.
func TestPrefetch(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 256})
	var names [][]byte
	for i := range 100 {
		name := "k" + strconv.Itoa(i)
		mustSet(t, m, name, shm.Bytes(b("v"+strconv.Itoa(i))))
		names = append(names, b(name), b("missing"+strconv.Itoa(i)))
	}
	names = append(names, nil, b(""))
	type state struct {
		v   shm.Value
		ver uint64
	}
	snapshot := func() map[string]state {
		out := map[string]state{}
		for _, n := range names {
			v, ver, err := m.Get(n)
			if err == nil {
				out[string(n)] = state{v, ver}
			}
		}
		return out
	}
	before, n := snapshot(), m.Len()
	if len(before) != 100 {
		t.Fatalf("%d variables readable before Prefetch, want 100", len(before))
	}
	m.Prefetch(names)
	m.Prefetch(nil)
	after := snapshot()
	if len(after) != len(before) || m.Len() != n {
		t.Fatalf("Prefetch changed the variables: %d readable (was %d), Len %d (was %d)", len(after), len(before), m.Len(), n)
	}
	for name, s := range before {
		if a := after[name]; !a.v.Equal(s.v) || a.ver != s.ver {
			t.Fatalf("%s: %v version %d after Prefetch, was %v version %d", name, a.v, a.ver, s.v, s.ver)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m.Prefetch(names) // unmapped: must return, not fault
}
