package shm

import (
	"bytes"
	"fmt"
	"runtime"
	"sync/atomic"
)

// The index is an open-addressing hash table of uint32 entries (slot + 1,
// 0 = empty) with linear probing, changed only under the index lock. Lookups
// take no lock: a hit is confirmed by the slot itself (live, same name, same
// incarnation before and after), and a miss by the index sequence, which is
// odd while the index changes and moves on with every change.

func (m *Memory) hash(name []byte) uint64 {
	h := m.meta.seed ^ 14695981039346656037
	for _, c := range name {
		h ^= uint64(c)
		h *= 1099511628211
	}
	// fmix64 spreads the low bits used to pick the bucket.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (m *Memory) indexSeq() *uint64 { return m.u64(controlPage*pageSize + ctlIndexSeq) }
func (m *Memory) freeHead() *uint32 { return m.u32(controlPage*pageSize + ctlFreeHead) }
func (m *Memory) entry(i uint32) *uint32 {
	return m.u32(m.meta.indexOff + 4*uint64(i))
}

// ref is a resolved variable: its slot and the incarnation it had.
type ref struct {
	slot uint32
	inc  uint32
}

func (m *Memory) checkName(name []byte) error {
	switch {
	case len(name) == 0:
		return ErrEmptyName
	case len(name) > int(m.meta.nameMax):
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrNameTooLong, len(name), m.meta.nameMax)
	}
	return nil
}

// lookup finds name without locks.
func (m *Memory) lookup(name []byte) (ref, bool) {
	h := m.hash(name)
	for attempt := 0; ; attempt++ {
		seq := atomic.LoadUint64(m.indexSeq())
		if r, ok := m.probe(name, h); ok {
			return r, true
		}
		if seq%2 == 0 && atomic.LoadUint64(m.indexSeq()) == seq {
			return ref{}, false
		}
		if attempt >= 64 {
			// The index keeps changing under us, or a writer died in the
			// middle: look under the lock, which also repairs. Every
			// change is made under the lock, so a sequence still odd
			// there is a damaged file's, which no process will end:
			// end it, or every look at a missing name would come here.
			if m.proc.Lock(background, m.index) != nil {
				// Not taken (the Memory was detached meanwhile), so not
				// to be released: answer from the index as it stands.
				return m.probe(name, h)
			}
			if atomic.LoadUint64(m.indexSeq())%2 == 1 {
				m.endIndexChange()
			}
			r, ok := m.probe(name, h)
			m.proc.Unlock(m.index)
			return r, ok
		}
		runtime.Gosched()
	}
}

func (m *Memory) probe(name []byte, h uint64) (ref, bool) {
	mask := m.meta.indexSize - 1
	for i, n := uint32(h)&mask, uint32(0); n < m.meta.indexSize; i, n = (i+1)&mask, n+1 {
		e := atomic.LoadUint32(m.entry(i))
		if e == 0 {
			return ref{}, false
		}
		s := e - 1
		if s >= m.meta.vars || atomic.LoadUint64(m.u64(m.slotOff(s)+slotHash)) != h {
			continue
		}
		state := atomic.LoadUint32(m.stateWord(s))
		if state&stateLive != 0 && bytes.Equal(m.name(s), name) && atomic.LoadUint32(m.stateWord(s)) == state {
			return ref{slot: s, inc: state & incMask}, true
		}
	}
	return ref{}, false
}

// find is lookup that, when it finds nothing, looks for damage that hides
// name: a live slot with name's hash whose name length no writer leaves
// (empty, or longer than the file allows), which no lookup can match. It
// returns ErrDamaged naming that slot, so that a read does not take the
// variable for missing, nor a write create it again beside it.
func (m *Memory) find(name []byte) (ref, bool, error) {
	if r, ok := m.lookup(name); ok {
		return r, true, nil
	}
	return ref{}, false, m.misnamed(m.hash(name))
}

// misnamed walks the probe run of hash h for a live slot with hash h and
// a damaged name length. A live slot's name changes only while it is not
// live, and its incarnation moves on each time it becomes live again, so
// a length read between two equal loads of the state word is the slot's.
func (m *Memory) misnamed(h uint64) error {
	mask := m.meta.indexSize - 1
	for i, n := uint32(h)&mask, uint32(0); n < m.meta.indexSize; i, n = (i+1)&mask, n+1 {
		e := atomic.LoadUint32(m.entry(i))
		if e == 0 {
			return nil
		}
		s := e - 1
		if s >= m.meta.vars || atomic.LoadUint64(m.u64(m.slotOff(s)+slotHash)) != h {
			continue
		}
		state := atomic.LoadUint32(m.stateWord(s))
		err := m.nameDamage(s)
		if state&stateLive != 0 && err != nil && atomic.LoadUint32(m.stateWord(s)) == state {
			return err
		}
	}
	return nil
}

// valid reports whether r still names a live variable.
func (m *Memory) valid(r ref) bool {
	return atomic.LoadUint32(m.stateWord(r.slot)) == stateLive|r.inc
}

// resolve finds name, creating it (with no value) if create is set.
func (m *Memory) resolve(name []byte, create bool) (ref, bool, error) {
	r, found, _, err := m.resolveNew(name, create)
	return r, found, err
}

// resolveNew is resolve that also tells whether it created the variable.
func (m *Memory) resolveNew(name []byte, create bool) (r ref, found, created bool, err error) {
	if err := m.checkName(name); err != nil {
		return ref{}, false, false, err
	}
	r, ok, err := m.find(name)
	switch {
	case ok:
		return r, true, false, nil
	case err != nil || !create:
		return ref{}, false, false, err
	}
	r, created, err = m.insert(name)
	return r, err == nil, created, err
}

// reclaim frees r's slot if r still has no value: a group that created
// variables and then failed leaves no trace. If another holds or waits for
// the variable's lock, it is in use and stays (it reads as missing):
// waiting here, under the index lock, could last as long as any client
// holds a lock.
func (m *Memory) reclaim(r ref) {
	if m.proc.Lock(background, m.index) != nil {
		return
	}
	defer m.proc.Unlock(m.index)
	l := m.lockOf(r.slot)
	if !m.proc.TryLock(l) {
		return
	}
	defer m.proc.Unlock(l)
	if !m.valid(r) || m.readLocked(r).Found {
		return
	}
	m.freeLocked(r)
}

// freeLocked removes r from the index and frees its slot; the caller holds
// the index lock and r's lock.
func (m *Memory) freeLocked(r ref) {
	m.beginIndexChange()
	defer m.endIndexChange()
	// The variable is gone from the instant its incarnation moves on; the
	// version moves too, so that waiters wake and see it.
	atomic.StoreUint32(m.stateWord(r.slot), (r.inc+1)&incMask)
	// No value takes no block: only a detached Memory's allocator lock
	// fails here, and the index rebuild frees what a free slot names.
	m.writeLocked(r, Value{})
	m.releaseBlocks(r.slot)
	m.unindex(r.slot)
	atomic.StoreUint32(m.u32(m.slotOff(r.slot)+slotNextFree), atomic.LoadUint32(m.freeHead()))
	atomic.StoreUint32(m.freeHead(), r.slot+1)
}

// insert adds name with no value, under the index lock. created is false
// if another got there first.
func (m *Memory) insert(name []byte) (ref, bool, error) {
	if err := m.proc.Lock(background, m.index); err != nil {
		return ref{}, false, err
	}
	defer m.proc.Unlock(m.index)
	h := m.hash(name)
	if r, ok := m.probe(name, h); ok {
		return r, false, nil
	}
	head := atomic.LoadUint32(m.freeHead())
	if head == 0 || head > m.meta.vars {
		return ref{}, false, fmt.Errorf("%w (capacity %d)", ErrFull, m.meta.vars)
	}
	s := head - 1
	off := m.slotOff(s)
	m.beginIndexChange()
	defer m.endIndexChange()
	// The slot is not reachable yet: fill it, make it live, then index it.
	// A name that needs a block it cannot have leaves the slot free.
	if err := m.setName(s, name); err != nil {
		return ref{}, false, err
	}
	atomic.StoreUint32(m.freeHead(), atomic.LoadUint32(m.u32(off+slotNextFree)))
	atomic.StoreUint64(m.u64(off+slotHash), h)
	v := atomic.LoadUint64(m.version(s))
	m.storeBuf(s, v, &Value{})
	inc := (atomic.LoadUint32(m.stateWord(s)) + 1) & incMask
	atomic.StoreUint32(m.stateWord(s), stateLive|inc)
	if !m.place(s, h) {
		// At most half the buckets are ever in use, so a full probe run
		// means the index was damaged: rebuild it from the slots, which
		// indexes s too.
		m.reindex()
	}
	return ref{slot: s, inc: inc}, true, nil
}

// beginIndexChange makes the index sequence odd and endIndexChange even,
// each moving it on. Either adds twice when it finds the sequence at the
// wrong parity (a holder died in a change, or the file is damaged), so that
// a repair's rebuild is seen as a change too.
func (m *Memory) beginIndexChange() {
	if atomic.AddUint64(m.indexSeq(), 1)%2 == 0 {
		atomic.AddUint64(m.indexSeq(), 1)
	}
}

func (m *Memory) endIndexChange() {
	if atomic.AddUint64(m.indexSeq(), 1)%2 == 1 {
		atomic.AddUint64(m.indexSeq(), 1)
	}
}

// place puts slot s into the first free bucket of its probe sequence; it
// reports false if there is none.
func (m *Memory) place(s uint32, h uint64) bool {
	mask := m.meta.indexSize - 1
	for i, n := uint32(h)&mask, uint32(0); n < m.meta.indexSize; i, n = (i+1)&mask, n+1 {
		if atomic.LoadUint32(m.entry(i)) == 0 {
			atomic.StoreUint32(m.entry(i), s+1)
			return true
		}
	}
	return false
}

// unindex removes slot s from the index, under the index lock, by shifting
// later entries of the probe run back (no tombstones).
func (m *Memory) unindex(s uint32) {
	mask := m.meta.indexSize - 1
	h := atomic.LoadUint64(m.u64(m.slotOff(s) + slotHash))
	i := uint32(h) & mask
	for n := uint32(0); atomic.LoadUint32(m.entry(i)) != s+1; i, n = (i+1)&mask, n+1 {
		if atomic.LoadUint32(m.entry(i)) == 0 || n >= m.meta.indexSize {
			return
		}
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := atomic.LoadUint32(m.entry(j))
		if e == 0 || e > m.meta.vars {
			atomic.StoreUint32(m.entry(i), 0)
			return
		}
		home := uint32(atomic.LoadUint64(m.u64(m.slotOff(e-1)+slotHash))) & mask
		// e may move to i only if i lies cyclically in [home, j).
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			atomic.StoreUint32(m.entry(i), e)
			i = j
		}
	}
}

// rebuild recreates the index and the free list from the slots, which are
// the truth: run when a holder of the index lock died mid-change.
func (m *Memory) rebuild() {
	m.beginIndexChange()
	defer m.endIndexChange()
	m.reindex()
}

// reindex is rebuild inside an index change the caller has begun.
func (m *Memory) reindex() {
	for i := uint32(0); i < m.meta.indexSize; i++ {
		atomic.StoreUint32(m.entry(i), 0)
	}
	failpoint(FailRebuilding)
	next := uint32(0)
	for s := m.meta.vars; s > 0; s-- {
		slot := s - 1
		off := m.slotOff(slot)
		if atomic.LoadUint32(m.stateWord(slot))&stateLive != 0 {
			// A damaged slot stays as it is and indexed, for Check to
			// report and Repair to refuse (see Repair): one whose name's
			// length is damaged under the hash it had, where find looks
			// for it; two holding one name both, rather than one freed.
			h := atomic.LoadUint64(m.u64(off + slotHash))
			if m.nameDamage(slot) == nil {
				h = m.hash(m.name(slot))
				atomic.StoreUint64(m.u64(off+slotHash), h)
			}
			m.place(slot, h)
			continue
		}
		m.releaseBlocks(slot)
		atomic.StoreUint32(m.u32(off+slotNextFree), next)
		next = s
	}
	atomic.StoreUint32(m.freeHead(), next)
}
