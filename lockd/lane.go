package lockd

import (
	"context"
	"sync/atomic"
)

// A Lane is a record of the locks one goroutine holds or waits for, kept in
// the mapping so that whoever recovers a dead process can see exactly what
// it held. Plain write locks taken with Proc.Lock need no lane: the owner
// in the lock word is enough. Read locks, writers waiting, and groups of write
// locks that must be repaired together are recorded in a lane.
//
// A Lane belongs to one goroutine between Proc.AcquireLane and Release and
// must not be used by two goroutines at once. (Writers waiting without a
// lane share a few lanes of the Proc, each with one entry, under a mutex:
// see waitLanes.)
type Lane struct {
	p   *Proc
	off uint64
}

func (ln *Lane) word(field uint64) *uint32 { return word32(ln.p.mem, ln.off+field) }
func (ln *Lane) key(i int) *uint64         { return word64(ln.p.mem, ln.off+laneHeader+uint64(i)*entrySize) }
func (ln *Lane) aux(i int) *uint64         { return word64(ln.p.mem, ln.off+laneHeader+uint64(i)*entrySize+8) }

func entryKey(l Lock, mode uint64) uint64 { return uint64(l) | mode }

// add records key. Entries are filled in place and never moved, so a census
// scanning the lane concurrently never misses an entry that is not changing.
func (ln *Lane) add(key uint64) error {
	n := int(atomic.LoadUint32(ln.word(laneN)))
	for i := 0; i < n; i++ {
		if atomic.LoadUint64(ln.key(i)) == 0 {
			atomic.StoreUint64(ln.key(i), key)
			return nil
		}
	}
	if n >= ln.p.lay.LaneEntries {
		return ErrTooManyHolds
	}
	atomic.StoreUint64(ln.key(n), key)
	atomic.StoreUint32(ln.word(laneN), uint32(n+1))
	return nil
}

func (ln *Lane) find(key uint64) int {
	n := int(atomic.LoadUint32(ln.word(laneN)))
	for i := 0; i < n; i++ {
		if atomic.LoadUint64(ln.key(i)) == key {
			return i
		}
	}
	return -1
}

func (ln *Lane) remove(key uint64) {
	i := ln.find(key)
	if i < 0 {
		return
	}
	atomic.StoreUint64(ln.aux(i), 0)
	atomic.StoreUint64(ln.key(i), 0)
	// Trailing free entries are dropped; nothing beyond n is ever non-zero.
	n := int(atomic.LoadUint32(ln.word(laneN)))
	for n > 0 && atomic.LoadUint64(ln.key(n-1)) == 0 {
		n--
	}
	atomic.StoreUint32(ln.word(laneN), uint32(n))
}

// Held reports how many locks the lane holds or waits for.
func (ln *Lane) Held() int {
	n, c := int(atomic.LoadUint32(ln.word(laneN))), 0
	for i := 0; i < n; i++ {
		if atomic.LoadUint64(ln.key(i)) != 0 {
			c++
		}
	}
	return c
}

// Lock takes l for writing and records it in the lane, so that a recovery
// can repair it with the value given to SetAux.
func (ln *Lane) Lock(ctx context.Context, l Lock) error {
	if ln.Held() >= ln.p.lay.LaneEntries-1 {
		return ErrTooManyHolds
	}
	p := ln.p
	if !p.TryLock(l) {
		if err := p.lockSlow(ctx, l, ln); err != nil {
			return err
		}
	}
	if err := ln.add(entryKey(l, modeWrite)); err != nil {
		p.Unlock(l)
		return err
	}
	return nil
}

// Adopt records l, which this Proc holds for writing (taken with Proc.Lock
// or TryLock), as if the lane had taken it with Lock. Before that, a dead
// holder's write lock is released without repair: right for a lock whose
// holder has staged nothing yet. This lets a group wait for its write locks
// without holding a lane.
func (ln *Lane) Adopt(l Lock) error {
	if ln.Held() >= ln.p.lay.LaneEntries-1 {
		return ErrTooManyHolds
	}
	return ln.add(entryKey(l, modeWrite))
}

// Unlock releases a write lock taken with Lane.Lock or adopted.
func (ln *Lane) Unlock(l Lock) {
	ln.remove(entryKey(l, modeWrite))
	ln.p.Unlock(l)
}

// SetAux records aux for the write lock l held by the lane; a recovery
// passes it to the RepairFunc.
func (ln *Lane) SetAux(l Lock, aux uint64) {
	if i := ln.find(entryKey(l, modeWrite)); i >= 0 {
		atomic.StoreUint64(ln.aux(i), aux)
	}
}

// Commit marks the lane's commit point: from here on, a recovery repairs
// the lane's write locks with committed=true (roll forward) instead of
// false (roll back).
func (ln *Lane) Commit() { atomic.StoreUint32(ln.word(laneCommitted), 1) }

// Uncommit clears the commit point once every write of the group is
// complete, before the lane's locks are released: a recovery of the locks
// still held then repairs them with committed=false, and the lane may
// commit another group. Release also clears it.
func (ln *Lane) Uncommit() { atomic.StoreUint32(ln.word(laneCommitted), 0) }

// RLock takes l for reading and records the hold. It waits while a writer
// holds l or any writer waits for it (writer priority).
func (ln *Lane) RLock(ctx context.Context, l Lock) error {
	if ln.Held() >= ln.p.lay.LaneEntries-1 {
		return ErrTooManyHolds
	}
	p := ln.p
	var b backoff
	for {
		st := p.load(l)
		switch {
		case st.guarded():
			p.guardWait(l, st, &b)
		case st.writer() || st.waiting() > 0 || st.readers() == readersMask:
			if err := p.wait(ctx, l, st, &b); err != nil {
				return err
			}
		case p.cas(l, st, st.withGuard(p.owner)):
			if err := ln.add(entryKey(l, modeRead)); err != nil {
				p.updateUnderGuard(l, func(s state) state { return s })
				return err
			}
			p.updateUnderGuard(l, func(s state) state { return s + readerOne })
			return nil
		}
	}
}

// RUnlock releases a read lock taken with RLock. The last reader out wakes
// the waiting writers.
func (ln *Lane) RUnlock(l Lock) {
	p := ln.p
	p.takeGuard(l)
	ln.remove(entryKey(l, modeRead))
	st := p.updateUnderGuard(l, func(s state) state {
		if s.readers() == 0 {
			return s
		}
		return s - readerOne
	})
	if st.readers() == 0 {
		p.wakeAll(l)
	}
}

// Release returns the lane to its Proc. The lane must hold nothing.
func (ln *Lane) Release() {
	if ln.Held() != 0 {
		panic("lockd: Release of a lane that still holds locks")
	}
	atomic.StoreUint32(ln.word(laneCommitted), 0)
	atomic.StoreUint32(ln.word(laneN), 0)
	ln.p.lanes <- ln
}
