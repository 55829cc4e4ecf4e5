package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Check verifies the body of the file, which Open does not read, and
// returns every problem found, joined (nil if the file is sound). Each
// problem names the slot or index entry and what is wrong, and wraps one of:
//
//   - ErrDamaged, for a slot's own content: a live slot whose name is empty
//     or longer than the file allows, whose current value has an unknown
//     kind or is a byte string longer than the file allows, or whose name
//     another live slot holds too. Operations that read such a value fail
//     with the same error.
//   - ErrIndexDamaged, for what is derived from the slots: in format 2 the
//     value heap (a block in the wrong state, free buddies not merged, a
//     free list or free byte count that does not match the blocks); a live slot whose
//     stored hash is not its name's, that the index does not hold exactly
//     once or where a lookup of its name finds it; an index entry that names
//     no slot or a free one; a free list that leaves the slots, loops, holds
//     a live slot or misses a free one; an index sequence left odd. Repair
//     rebuilds all of these.
//
// Check is safe on a file in use, by this process and others. It holds the
// index lock throughout, so the index, the free list and what only changes
// with them (which slots are live, their names and stored hashes) stand
// still while it reads them; other processes' creations and deletions wait
// for it (it reads every slot: milliseconds for the default capacity, more
// on a cold page cache). Values change under their own locks, which Check
// does not take (a client may hold one for long): it reads each value as
// Len does, re-verifying that the version did not move meanwhile, so a
// concurrent write is never taken for damage. Tests run it after
// hammering; dsmd runs it (as Repair) before it serves; dsm runs it as
// `check`.
func (m *Memory) Check() error {
	var errs []error
	err := m.withIndex(func() { errs = m.checkLocked().errs })
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Repair checks the file as Check does and, if the only damage is to what
// is derived from the slots (ErrIndexDamaged), rebuilds the index, the free
// list and the stored hashes from the slots and checks again, all under one
// hold of the index lock. It returns the problems it repaired (nil if there
// were none) and those that remain (nil if the file is now sound). If a slot
// itself is damaged (ErrDamaged) it changes nothing and returns every
// problem as remaining: rebuilding around a damaged slot would index a name
// that is not one, or keep one of two slots holding the same name and free
// the other.
//
// A rebuild is crash-safe and may be repeated. It is an index change like
// any other, under the index lock: a process that dies in the middle of it
// leaves the lock to a dead holder, and the next taker of the lock (a
// lookup that gives up waiting for the index, any creation or deletion, or
// the next Repair) rebuilds again from the slots. The rebuild reads only
// which slots are live and their names, which it does not change, so a
// rebuild cut short and run again ends as one run once.
func (m *Memory) Repair() (repaired, remains error) {
	err := m.withIndex(func() {
		c := m.checkLocked()
		if len(c.errs) == 0 {
			return
		}
		if c.slots {
			remains = errors.Join(c.errs...)
			return
		}
		m.rebuild()
		if m.compact {
			m.withAlloc(m.rebuildHeap)
		}
		repaired = errors.Join(c.errs...)
		remains = errors.Join(m.checkLocked().errs...)
	})
	if err != nil {
		return nil, err
	}
	return repaired, remains
}

// Problems lists the problems joined in an error that Check or Repair
// returned, one error each; nil for nil.
func Problems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// withIndex runs fn holding the index lock, which repairs the index first
// if its last holder died.
func (m *Memory) withIndex(fn func()) error {
	if !m.enter() {
		return ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.proc.Lock(background, m.index); err != nil {
		return err
	}
	defer m.proc.Unlock(m.index)
	fn()
	return nil
}

// checkMax is the most problems a check lists; the rest are counted.
const checkMax = 50

// checker collects what a check finds.
type checker struct {
	m     *Memory
	errs  []error
	more  int  // problems beyond checkMax
	slots bool // a slot's own content is damaged (ErrDamaged)
}

func (c *checker) add(kind error, format string, args ...any) {
	c.put(kind, fmt.Errorf("%w: "+format, append([]any{kind}, args...)...))
}

// put notes err, which wraps kind.
func (c *checker) put(kind, err error) {
	if kind == ErrDamaged {
		c.slots = true
	}
	if len(c.errs) < checkMax {
		c.errs = append(c.errs, err)
		return
	}
	c.more++
}

// checkLocked checks the file; the caller holds the index lock.
func (m *Memory) checkLocked() *checker {
	c := &checker{m: m}
	if seq := atomic.LoadUint64(m.indexSeq()); seq%2 == 1 {
		c.add(ErrIndexDamaged, "index sequence %d is odd with no change under way", seq)
	}
	indexed := c.checkIndex()
	names := make(map[string]uint32)
	for s := uint32(0); s < m.meta.vars; s++ {
		if atomic.LoadUint32(m.stateWord(s))&stateLive != 0 {
			c.checkLive(s, indexed[s], names)
		}
	}
	c.checkFree()
	c.checkHeap()
	if c.more > 0 {
		c.errs = append(c.errs, fmt.Errorf("and %d more problems", c.more))
	}
	return c
}

// checkIndex checks every index entry and returns how many times each slot
// is indexed.
func (c *checker) checkIndex() []int {
	m := c.m
	indexed := make([]int, m.meta.vars)
	for i := uint32(0); i < m.meta.indexSize; i++ {
		e := atomic.LoadUint32(m.entry(i))
		switch {
		case e == 0:
		case e > m.meta.vars:
			c.add(ErrIndexDamaged, "index entry %d names slot %d of %d", i, e-1, m.meta.vars)
		case atomic.LoadUint32(m.stateWord(e-1))&stateLive == 0:
			c.add(ErrIndexDamaged, "index entry %d names free slot %d", i, e-1)
		default:
			indexed[e-1]++
		}
	}
	return indexed
}

// checkLive checks live slot s: its name, its value, and that the index
// finds it by its name. names maps the names seen so far to their slots.
func (c *checker) checkLive(s uint32, indexed int, names map[string]uint32) {
	m := c.m
	off := m.slotOff(s)
	if err := m.nameDamage(s); err != nil {
		c.put(ErrDamaged, err)
		return
	}
	name := m.name(s)
	if err := m.damage(s, m.stableValue(s)); err != nil {
		c.put(ErrDamaged, err)
	}
	if first, dup := names[string(name)]; dup {
		c.add(ErrDamaged, "slots %d and %d both hold %q", first, s, name)
		return
	}
	names[string(name)] = s
	h := m.hash(name)
	switch r, found := m.probe(name, h); {
	case atomic.LoadUint64(m.u64(off+slotHash)) != h:
		c.add(ErrIndexDamaged, "slot %d (%q): stored hash is not its name's", s, name)
	case indexed != 1:
		c.add(ErrIndexDamaged, "slot %d (%q) is in the index %d times", s, name, indexed)
	case !found || r.slot != s:
		c.add(ErrIndexDamaged, "slot %d (%q) is not found by its name", s, name)
	}
}

// stableValue reads slot s's current value as peek does, without waiting
// for writers. If the version moves at every try, writers keep publishing
// values they wrote whole, and the slot is taken to be sound.
func (m *Memory) stableValue(s uint32) Value {
	for range 100 {
		v := atomic.LoadUint64(m.version(s))
		val := m.loadBuf(s, v)
		if atomic.LoadUint64(m.version(s)) == v {
			return val
		}
	}
	return Value{}
}

// checkFree walks the free list: it must hold every slot that is not live,
// once, and nothing else.
func (c *checker) checkFree() {
	m := c.m
	free := make([]bool, m.meta.vars)
	for e := atomic.LoadUint32(m.freeHead()); e != 0; {
		s := e - 1
		if s >= m.meta.vars {
			c.add(ErrIndexDamaged, "free list names slot %d of %d", s, m.meta.vars)
			break
		}
		if free[s] {
			c.add(ErrIndexDamaged, "free list loops back to slot %d", s)
			break
		}
		free[s] = true
		e = atomic.LoadUint32(m.u32(m.slotOff(s) + slotNextFree))
	}
	// A lost link loses every slot after it: one problem says so.
	missed, first := 0, uint32(0)
	for s := uint32(0); s < m.meta.vars; s++ {
		live := atomic.LoadUint32(m.stateWord(s))&stateLive != 0
		switch {
		case live && free[s]:
			c.add(ErrIndexDamaged, "live slot %d is on the free list", s)
		case !live && !free[s]:
			if missed++; missed == 1 {
				first = s
			}
		}
	}
	if missed > 0 {
		c.add(ErrIndexDamaged, "%d free slots are not on the free list, the first slot %d", missed, first)
	}
}
