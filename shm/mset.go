package shm

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// msetItem is one variable of an mset: its slot and its position among
// the names, which also picks its value (the last of a repeated name
// wins). It is small because the items are sorted: the values stay put.
type msetItem struct {
	r   ref
	pos int
}

// msetStack is how many variables an mset handles without allocating.
const msetStack = 16

// mset is MSet without the general LockGroup: the same locks in the same
// order, the same commit through the lane (see LockGroup.Commit), but no
// maps and no copies of the values, which the caller keeps unchanged for
// the call. The caller has checked the lengths and the values.
func (m *Memory) mset(names [][]byte, vals []Value) error {
	if err := m.checkGroup(names); err != nil {
		return err
	}
	var stack [msetStack]msetItem
	var created []ref
	// Variables created here that never got a value (the mset failed) go
	// again, as a failed LockGroup's do; after a commit all have one, and the
	// index lock reclaim takes is left alone.
	defer func() {
		for _, r := range created {
			m.reclaim(r)
		}
	}()
	var ln *lockd.Lane // none while the mset waits for its locks, if it can
	defer func() {
		if ln != nil {
			ln.Release()
		}
	}()
	for {
		items, err := m.msetResolve(stack[:0], names, vals, &created)
		if err != nil {
			return err
		}
		ok, err := m.msetLock(ln, items)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if ln == nil {
			// Nobody waits for a lane holding locks (see LockGroup.lock): with
			// no lane free, the locks go, and come back through a lane.
			if ln, err = m.msetAdopt(items); ln == nil && err == nil {
				m.msetUnlock(nil, items)
				if ln, err = m.proc.AcquireLane(background); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				m.msetUnlock(ln, items)
				return err
			}
		}
		if err := m.msetCommit(ln, items, vals); err != nil {
			m.msetUnlock(ln, items)
			return err
		}
		m.msetRedo(names, items, vals)
		m.msetUnlock(ln, items)
		created = nil
		return nil
	}
}

// msetResolve finds or creates every name and returns the variables in
// slot order, one item per variable, with the value given last for it.
func (m *Memory) msetResolve(items []msetItem, names [][]byte, vals []Value, created *[]ref) ([]msetItem, error) {
	for i, n := range names {
		r, _, isNew, err := m.resolveNew(n, true)
		if isNew {
			*created = append(*created, r)
		}
		if err != nil {
			return nil, err
		}
		items = append(items, msetItem{r: r, pos: i})
	}
	slices.SortFunc(items, func(a, b msetItem) int {
		return cmp.Or(cmp.Compare(a.r.slot, b.r.slot), cmp.Compare(a.pos, b.pos))
	})
	// Keep the last item of each slot: compact from the end.
	out := items[:0]
	for i, it := range items {
		if i+1 < len(items) && items[i+1].r.slot == it.r.slot {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// msetLock takes the write locks in slot order, through ln, or without a
// lane if ln is nil (as a write LockGroup does, so that an mset waiting for
// its variables keeps no lane from anyone); ok is false if a variable was
// deleted meanwhile. Unless ok, no lock is held afterwards.
func (m *Memory) msetLock(ln *lockd.Lane, items []msetItem) (ok bool, err error) {
	for i, it := range items {
		if ln == nil {
			err = m.proc.Lock(background, m.lockOf(it.r.slot))
		} else {
			err = ln.Lock(background, m.lockOf(it.r.slot))
		}
		if err != nil {
			m.msetUnlock(ln, items[:i])
			return false, err
		}
	}
	for _, it := range items {
		if !m.valid(it.r) {
			m.msetUnlock(ln, items)
			return false, nil
		}
	}
	return true, nil
}

// msetAdopt borrows a lane, if one is free, and records the held locks
// in it, so that a crash from here on is repaired as the mset's.
func (m *Memory) msetAdopt(items []msetItem) (*lockd.Lane, error) {
	ln := m.proc.TryAcquireLane()
	if ln == nil {
		return nil, nil
	}
	for _, it := range items {
		if err := ln.Adopt(m.lockOf(it.r.slot)); err != nil {
			return ln, err
		}
	}
	return ln, nil
}

// msetUnlock releases the locks, through ln if they are recorded in it.
func (m *Memory) msetUnlock(ln *lockd.Lane, items []msetItem) {
	for _, it := range items {
		if ln == nil {
			m.proc.Unlock(m.lockOf(it.r.slot))
		} else {
			ln.Unlock(m.lockOf(it.r.slot))
		}
	}
}

// msetCommit commits the items' values as one group through ln, as
// LockGroup.Commit does.
func (m *Memory) msetCommit(ln *lockd.Lane, items []msetItem, vals []Value) error {
	var stack [msetStack]write
	ws := stack[:0]
	for _, it := range items {
		ws = append(ws, write{slot: it.r.slot, ver: atomic.LoadUint64(m.version(it.r.slot)) + 1, val: &vals[it.pos]})
	}
	return m.commit(ln, ws)
}

// msetRedo gives the redo log, if any, the records of a committed mset
// in one call; the caller still holds the locks.
func (m *Memory) msetRedo(names [][]byte, items []msetItem, vals []Value) {
	j, ok := m.redoOn()
	if !ok {
		return
	}
	recs := make([]Record, len(items))
	for i, it := range items {
		recs[i] = Record{Name: names[it.pos], Value: vals[it.pos], Version: atomic.LoadUint64(m.version(it.r.slot)), Slot: it.r.slot, Inc: it.r.inc}
	}
	j.Append(recs)
}
