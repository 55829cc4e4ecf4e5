package shm

import (
	"fmt"
	"slices"
)

// Groups take their locks in slot order, which is the same for every
// process, so two groups never wait for each other in a cycle. The full lock
// order is: the index lock, then variables in ascending slot order.

func (m *Memory) checkGroup(n int) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if n > int(m.meta.groupMax) {
		return fmt.Errorf("%w: %d, the limit is %d", ErrTooMany, n, m.meta.groupMax)
	}
	return nil
}

// MGet reads the named variables as one snapshot: it holds read locks on
// all of them at once. Items are in the order of names.
func (m *Memory) MGet(names [][]byte) ([]Item, error) {
	g, err := m.Lock(background, names, false, false)
	if err != nil {
		return nil, err
	}
	defer g.Unlock()
	items := make([]Item, len(names))
	for i, n := range names {
		if items[i], err = g.Get(n); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// sortedRefs returns the distinct refs in slot order.
func sortedRefs(refs []ref) []ref {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b ref) int { return int(a.slot) - int(b.slot) })
	return slices.CompactFunc(out, func(a, b ref) bool { return a.slot == b.slot })
}

// MSet stores vals[i] into names[i] for every i, all or nothing: no reader
// sees some of the new values without the others, and a crash at any
// instant leaves all old or all new values. A name given twice takes its
// last value, as in Redis.
func (m *Memory) MSet(names [][]byte, vals []Value) error {
	if len(names) != len(vals) {
		return fmt.Errorf("%w: %d names and %d values", ErrConfig, len(names), len(vals))
	}
	for i := range vals {
		if err := m.checkValue(vals[i]); err != nil {
			return err
		}
	}
	return m.mset(names, vals)
}
