package shm

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
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
	if err := m.checkGroup(len(names)); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := m.checkName(n); err != nil {
			return nil, err
		}
	}
	ln, err := m.proc.AcquireLane(background)
	if err != nil {
		return nil, err
	}
	defer ln.Release()
	for {
		if items, ok, err := m.mgetOnce(ln, names); ok || err != nil {
			return items, err
		}
	}
}

// mgetOnce tries one snapshot; ok is false if a variable was created or
// deleted between the lookups and the locks.
func (m *Memory) mgetOnce(ln *lockd.Lane, names [][]byte) ([]Item, bool, error) {
	refs := make([]ref, len(names))
	found := make([]bool, len(names))
	for i, n := range names {
		refs[i], found[i] = m.lookup(n)
	}
	order := sortedRefs(refs, found)
	held := 0
	defer func() {
		for _, r := range order[:held] {
			ln.RUnlock(m.lockOf(r.slot))
		}
	}()
	for _, r := range order {
		if err := ln.RLock(background, m.lockOf(r.slot)); err != nil {
			return nil, false, err
		}
		held++
	}
	items := make([]Item, len(names))
	for i, n := range names {
		if !found[i] {
			// A name missing before the locks must still be missing now,
			// or a group write may have made it and its partners at once.
			if _, now := m.lookup(n); now {
				return nil, false, nil
			}
			continue
		}
		if !m.valid(refs[i]) {
			return nil, false, nil
		}
		items[i] = m.readLocked(refs[i])
	}
	return items, true, nil
}

// sortedRefs returns the distinct found refs in slot order.
func sortedRefs(refs []ref, found []bool) []ref {
	var out []ref
	for i, r := range refs {
		if found[i] {
			out = append(out, r)
		}
	}
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
	if err := m.checkGroup(len(names)); err != nil {
		return err
	}
	for i := range names {
		if err := m.checkName(names[i]); err != nil {
			return err
		}
		if err := m.checkValue(vals[i]); err != nil {
			return err
		}
	}
	ln, err := m.proc.AcquireLane(background)
	if err != nil {
		return err
	}
	defer ln.Release()
	for {
		if ok, err := m.msetOnce(ln, names, vals); ok || err != nil {
			return err
		}
	}
}

func (m *Memory) msetOnce(ln *lockd.Lane, names [][]byte, vals []Value) (bool, error) {
	last := map[uint32]int{} // slot -> index of the value it takes
	refs := make([]ref, len(names))
	found := make([]bool, len(names))
	for i, n := range names {
		r, _, err := m.resolve(n, true)
		if err != nil {
			return false, err
		}
		refs[i], found[i] = r, true
		last[r.slot] = i
	}
	order := sortedRefs(refs, found)
	held := 0
	defer func() {
		for _, r := range order[:held] {
			ln.Unlock(m.lockOf(r.slot))
		}
	}()
	for _, r := range order {
		if err := ln.Lock(background, m.lockOf(r.slot)); err != nil {
			return false, err
		}
		held++
		if !m.valid(r) {
			return false, nil
		}
	}
	// Write every new value into its spare buffer and journal its version,
	// then commit, then publish: a crash before the commit leaves only spare
	// buffers written; after it, recovery publishes what is missing.
	for _, r := range order {
		l := m.lockOf(r.slot)
		v := atomic.LoadUint64(m.version(r.slot)) + 1
		m.storeBuf(r.slot, v, vals[last[r.slot]])
		ln.SetAux(l, v)
	}
	ln.Commit()
	for _, r := range order {
		m.publish(r.slot, atomic.LoadUint64(m.version(r.slot))+1)
	}
	ln.Uncommit()
	return true, nil
}
