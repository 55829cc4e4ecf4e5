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

// checkGroup checks the names of a group operation: not too many, each a
// valid name.
func (m *Memory) checkGroup(names [][]byte) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if len(names) > int(m.meta.groupMax) {
		return fmt.Errorf("%w: %d, the limit is %d", ErrTooMany, len(names), m.meta.groupMax)
	}
	for _, n := range names {
		if err := m.checkName(n); err != nil {
			return err
		}
	}
	return nil
}

// MGet reads the named variables as one snapshot. Items are in the order
// of names. It reads them optimistically (mgetStable) and, if writers keep
// changing them, with read locks on all of them at once.
func (m *Memory) MGet(names [][]byte) ([]Item, error) {
	if err := m.checkGroup(names); err != nil {
		return nil, err
	}
	items := make([]Item, len(names))
	seen := make([]mgetSeen, len(names))
	for range mgetAttempts {
		if m.mgetStable(names, seen, items) {
			if err := m.damaged(names, items); err != nil {
				return nil, err
			}
			return items, nil
		}
	}
	g, err := m.Lock(background, names, false, false)
	if err != nil {
		return nil, err
	}
	defer g.Unlock()
	for i, n := range names {
		if !g.Holds(n) {
			// Missing when the group took its locks, which is the
			// snapshot's instant; it may exist by now (Get would say
			// ErrNotHeld).
			items[i] = Item{}
			continue
		}
		if items[i], err = g.Get(n); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// damaged returns the damage met by the first of items, read for names,
// that met any: a damaged value, or for one read as missing a damaged name
// that hides it (see find).
func (m *Memory) damaged(names [][]byte, items []Item) error {
	for i, it := range items {
		if it.err != nil {
			return it.err
		}
		if !it.Found {
			if err := m.misnamed(m.hash(names[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// mgetAttempts is how many optimistic reads MGet makes before it takes
// read locks.
const mgetAttempts = 4

// mgetSeen is what mgetStable's first look found of one name.
type mgetSeen struct {
	r     ref
	ver   uint64
	found bool
}

// mgetStable is the optimistic read of several variables, readStable's
// for one: the first look notes each variable's version (waiting while a
// writer holds or waits for it), the copies are made, and the second look
// finds every version noted still current. Versions only grow, and a
// buffer is written only while the version selects the other one, so each
// variable held its copied value from its first look to its second: all of
// them held it together between the two looks, however writers publish
// and release. A name missing at the first look must be missing at one
// instant of that span too, which its own second look does not show (it
// can be created with a variable looked at after it and deleted with one
// looked at before it in between): stillMissing looks again between the
// looks. It reports false if anything moved; items is then garbage.
func (m *Memory) mgetStable(names [][]byte, seen []mgetSeen, items []Item) bool {
	for i, n := range names {
		r, ok := m.lookup(n)
		seen[i] = mgetSeen{r: r, found: ok}
		if !ok {
			continue
		}
		off := m.slotOff(r.slot)
		if l := lockd.Lock(off + slotLock); !m.proc.Readable(l) {
			m.proc.WaitReadable(background, l)
			return false
		}
		seen[i].ver = atomic.LoadUint64(m.u64(off + slotVersion))
		if atomic.LoadUint32(m.u32(off+slotState)) != stateLive|r.inc {
			return false
		}
	}
	missing := false
	for i, s := range seen {
		items[i] = Item{}
		if !s.found {
			missing = true
			continue
		}
		items[i] = m.item(s.r.slot, s.ver, m.loadBuf(s.r.slot, s.ver))
	}
	if missing && !m.stillMissing(names, seen) {
		return false
	}
	for _, s := range seen {
		if !s.found {
			continue
		}
		off := m.slotOff(s.r.slot)
		if atomic.LoadUint64(m.u64(off+slotVersion)) != s.ver ||
			atomic.LoadUint32(m.u32(off+slotState)) != stateLive|s.r.inc {
			return false
		}
	}
	return true
}

// stillMissing reports whether the names mgetStable's first look found
// missing are all missing at one instant: it looks them up again while the
// index sequence stays even and unmoved, so no variable is created or
// freed meanwhile.
func (m *Memory) stillMissing(names [][]byte, seen []mgetSeen) bool {
	seq := atomic.LoadUint64(m.indexSeq())
	for i, s := range seen {
		if s.found {
			continue
		}
		if _, ok := m.lookup(names[i]); ok {
			return false
		}
	}
	return m.indexSteady(seq)
}

// indexSteady reports whether the index has not changed since seq was
// read from its sequence, and was not changing then.
func (m *Memory) indexSteady(seq uint64) bool {
	return seq%2 == 0 && atomic.LoadUint64(m.indexSeq()) == seq
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
	if m.viaDaemon() {
		return m.msetRemote(names, vals)
	}
	return m.mset(names, vals)
}
