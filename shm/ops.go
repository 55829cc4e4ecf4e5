package shm

import (
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// read returns r's value by an optimistic read (readStable). ok is false if
// r was deleted.
func (m *Memory) read(r ref) (it Item, ok bool) {
	var val Value
	v, ok := m.readStable(r, func(v uint64) { val = m.loadBuf(r.slot, v) })
	if !ok {
		return Item{}, false
	}
	return m.item(r.slot, v, val), true
}

// readStable is the optimistic read of r: wait while a writer holds or
// waits for the variable (writer priority), note the version, let load copy
// the buffer the version selects, and accept the copy only if the version
// and the incarnation did not move meanwhile; else load runs again. It
// returns the version of the accepted copy; ok is false if r was deleted.
func (m *Memory) readStable(r ref, load func(version uint64)) (ver uint64, ok bool) {
	off := m.slotOff(r.slot)
	l, verp, state := lockd.Lock(off+slotLock), m.u64(off+slotVersion), m.u32(off+slotState)
	want := stateLive | r.inc
	for {
		if !m.proc.Readable(l) {
			m.proc.WaitReadable(background, l)
		}
		v := atomic.LoadUint64(verp)
		if atomic.LoadUint32(state) != want {
			return 0, false
		}
		load(v)
		if atomic.LoadUint64(verp) == v && atomic.LoadUint32(state) == want {
			return v, true
		}
	}
}

// readLocked returns r's value; the caller holds r's lock.
func (m *Memory) readLocked(r ref) Item {
	v := atomic.LoadUint64(m.version(r.slot))
	return m.item(r.slot, v, m.loadBuf(r.slot, v))
}

// writeLocked stores val as r's next version; the caller holds r's lock.
// It fails as commitOne does.
func (m *Memory) writeLocked(r ref, val Value) (uint64, error) {
	v := atomic.LoadUint64(m.version(r.slot)) + 1
	return v, m.commitOne(r.slot, v, &val)
}

func (m *Memory) checkValue(v Value) error {
	if v.size() > int(m.meta.valueMax) {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, v.size(), m.meta.valueMax)
	}
	return nil
}

// update runs fn on name's current item under its write lock and stores
// what fn returns if it says so. A missing variable is created (with no
// value) only if create is set; fn sees Found=false either way.
func (m *Memory) update(name []byte, create bool, fn func(Item) (Value, bool, error)) (Item, error) {
	if m.closed.Load() {
		return Item{}, ErrClosed
	}
	for {
		r, found, created, err := m.resolveNew(name, create)
		if err != nil {
			return Item{}, err
		}
		if !found {
			// Conditional writes (XX) decide on a missing variable; an
			// unconditional one has nothing to write into.
			_, write, err := fn(Item{})
			if err == nil && write {
				err = ErrNotFound
			}
			return Item{}, err
		}
		it, ok, err := m.updateRef(r, fn)
		if created && (err != nil || !it.Found) {
			// Created here and left without a value (fn wrote nothing, or
			// format 2 had no block for it): it goes again, as a failed
			// group's variables do.
			m.reclaim(r)
		}
		if ok {
			return it, err
		}
	}
}

// updateRef is update on a resolved variable; ok is false if r was deleted
// before its lock was taken.
func (m *Memory) updateRef(r ref, fn func(Item) (Value, bool, error)) (Item, bool, error) {
	l := m.lockOf(r.slot)
	if !m.proc.TryLock(l) {
		if err := m.proc.Lock(background, l); err != nil {
			return Item{}, true, err
		}
	}
	failpoint(FailLocked)
	defer m.unlockWrite(l)
	if !m.valid(r) {
		return Item{}, false, nil
	}
	cur := m.readLocked(r)
	next, write, err := fn(cur)
	if err != nil || !write {
		return cur, true, err
	}
	ver, err := m.writeLocked(r, next)
	if err != nil {
		return cur, true, err
	}
	m.redoOne(r, nil, next, ver)
	return Item{Value: next, Version: ver, Found: true}, true, nil
}

// unlockWrite releases a variable's write lock taken by updateRef.
func (m *Memory) unlockWrite(l lockd.Lock) {
	m.proc.Unlock(l)
	failpoint(FailUnlocked)
}

// Get returns name's value and version, or ErrNotFound.
func (m *Memory) Get(name []byte) (Value, uint64, error) {
	it, err := m.getItem(name)
	if err == nil && !it.Found {
		err = ErrNotFound
	}
	return it.Value, it.Version, err
}

func (m *Memory) getItem(name []byte) (Item, error) {
	if m.closed.Load() {
		return Item{}, ErrClosed
	}
	if err := m.checkName(name); err != nil {
		return Item{}, err
	}
	for {
		r, ok, err := m.find(name)
		if !ok {
			return Item{}, err
		}
		if it, ok := m.read(r); ok {
			return it, it.err
		}
	}
}

// Exists reports whether name has a value. It fails as Get does: with
// ErrDamaged naming the slot if the value is damaged (a damaged value is
// neither there nor missing), ErrEmptyName or ErrNameTooLong for a name no
// variable can have, ErrClosed after Close.
func (m *Memory) Exists(name []byte) (bool, error) {
	it, err := m.getItem(name)
	return err == nil && it.Found, err
}

// Set stores v as name's value, creating the variable if needed, and
// returns the new version.
func (m *Memory) Set(name []byte, v Value) (uint64, error) {
	if err := m.checkValue(v); err != nil {
		return 0, err
	}
	if m.viaDaemon() {
		_, _, ver, err := m.setRemote(name, v, SetOptions{})
		return ver, err
	}
	// Fast path, as Handle.Set: the variable exists and its lock is free.
	// It skips update's read of the old value, which for a byte string
	// would be a copy for nothing.
	if ver, ok, err := m.setExisting(name, v); ok {
		return ver, err
	}
	it, err := m.update(name, true, func(Item) (Value, bool, error) { return v, true, nil })
	return it.Version, err
}

// setExisting stores v if name exists and its lock is free at once; ok is
// false if the caller must take the general path.
func (m *Memory) setExisting(name []byte, v Value) (ver uint64, ok bool, err error) {
	r, found := m.existing(name)
	if !found {
		return 0, false, nil
	}
	return m.trySet(r, name, v)
}

// existing looks name up for a fast path; found is false if the memory is
// closed or the name is invalid or missing (the general path then says
// which).
func (m *Memory) existing(name []byte) (r ref, found bool) {
	if m.closed.Load() || m.checkName(name) != nil {
		return ref{}, false
	}
	return m.lookup(name)
}

// trySet stores v as r's next version if r's lock is free at once and r is
// still live (the fast path of Set and Handle.Set); ok is false if the
// caller must take the general path. It fails as writeLocked does.
func (m *Memory) trySet(r ref, name []byte, v Value) (ver uint64, ok bool, err error) {
	l := m.lockOf(r.slot)
	if m.closed.Load() || !m.proc.TryLock(l) {
		return 0, false, nil
	}
	failpoint(FailLocked)
	if ok = m.valid(r); ok {
		if ver, err = m.writeLocked(r, v); err == nil {
			m.redoOne(r, name, v, ver)
		}
	}
	m.unlockWrite(l)
	return ver, ok, err
}

// SetOptions are the conditions of SetWith.
type SetOptions struct {
	IfAbsent bool // store only if the variable has no value (Redis NX)
	IfExists bool // store only if it has one (Redis XX)
}

// allows reports whether SetWith stores, given whether the variable has a
// value.
func (o SetOptions) allows(found bool) bool {
	return !(o.IfAbsent && found) && !(o.IfExists && !found)
}

// SetWith stores v under the conditions of o. It returns the item as it was
// before (old.Found tells whether the variable existed) and whether v was
// stored.
func (m *Memory) SetWith(name []byte, v Value, o SetOptions) (old Item, stored bool, err error) {
	if err := m.checkValue(v); err != nil {
		return Item{}, false, err
	}
	if m.viaDaemon() {
		old, stored, _, err = m.setRemote(name, v, o)
		return old, stored, err
	}
	_, err = m.update(name, !o.IfExists, func(cur Item) (Value, bool, error) {
		if cur.err != nil {
			return Value{}, false, cur.err
		}
		old = cur
		stored = o.allows(cur.Found)
		return v, stored, nil
	})
	return old, stored, err
}

// Add adds delta to name's integer value (a missing variable counts as 0)
// and returns the result and the new version. It fails with ErrNotInteger
// if the value is not an integer and with ErrOverflow if the result would
// not fit in an int64; the value is then unchanged.
func (m *Memory) Add(name []byte, delta int64) (int64, uint64, error) {
	if m.viaDaemon() {
		return m.addRemote(name, delta)
	}
	// Fast path, as Handle.Add: the variable exists and its lock is free.
	if r, found := m.existing(name); found {
		if sum, ver, ok, err := m.tryAdd(r, name, delta); ok {
			return sum, ver, err
		}
	}
	var sum int64
	it, err := m.update(name, true, func(cur Item) (Value, bool, error) {
		var err error
		sum, err = addTo(cur, delta)
		return Int(sum), err == nil, err
	})
	return sum, it.Version, err
}

// addTo returns cur's integer plus delta.
func addTo(cur Item, delta int64) (int64, error) {
	if cur.err != nil {
		return 0, cur.err
	}
	var n int64
	if cur.Found {
		var ok bool
		if n, ok = cur.Value.Int(); !ok {
			return 0, ErrNotInteger
		}
	}
	return addInt(n, delta)
}

// addInt returns n+delta, or ErrOverflow if it does not fit in an int64.
func addInt(n, delta int64) (int64, error) {
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, ErrOverflow
	}
	return n + delta, nil
}

// CompareAndSwap stores new if name's value equals old (see Value.Equal).
// It reports whether it swapped, and the version after. ErrNotFound if name
// has no value.
func (m *Memory) CompareAndSwap(name []byte, old, new Value) (bool, uint64, error) {
	if m.viaDaemon() {
		if err := m.checkValue(new); err != nil {
			return false, 0, err
		}
		return m.casRemote(name, "VALUE", old.AppendText(nil), new)
	}
	return m.compareAndSwap(name, new, func(cur Item) bool { return cur.Value.Equal(old) })
}

// CompareVersionAndSwap stores new if name's version is version.
func (m *Memory) CompareVersionAndSwap(name []byte, version uint64, new Value) (bool, uint64, error) {
	if m.viaDaemon() {
		if err := m.checkValue(new); err != nil {
			return false, 0, err
		}
		return m.casRemote(name, "VERSION", strconv.AppendUint(nil, version, 10), new)
	}
	return m.compareAndSwap(name, new, func(cur Item) bool { return cur.Version == version })
}

func (m *Memory) compareAndSwap(name []byte, new Value, match func(Item) bool) (bool, uint64, error) {
	if err := m.checkValue(new); err != nil {
		return false, 0, err
	}
	swapped := false
	it, err := m.update(name, false, func(cur Item) (Value, bool, error) {
		if err := cur.missing(); err != nil {
			return Value{}, false, err
		}
		swapped = match(cur)
		return new, swapped, nil
	})
	return swapped, it.Version, err
}

// Delete removes the named variables and returns how many had a value.
// Each is removed atomically; together they are not a group.
func (m *Memory) Delete(names ...[]byte) (int, error) {
	if m.viaDaemon() {
		return m.deleteRemote(names)
	}
	n := 0
	for _, name := range names {
		ok, err := m.delete(name)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// delete frees name's slot. Lock order: the index lock, then the variable.
func (m *Memory) delete(name []byte) (bool, error) {
	if m.closed.Load() {
		return false, ErrClosed
	}
	if err := m.checkName(name); err != nil {
		return false, err
	}
	r, ok, err := m.find(name)
	if !ok {
		return false, err
	}
	if err := m.proc.Lock(background, m.index); err != nil {
		return false, err
	}
	defer m.proc.Unlock(m.index)
	r, ok = m.probe(name, m.hash(name))
	if !ok {
		return false, nil
	}
	l := m.lockOf(r.slot)
	if err := m.proc.Lock(background, l); err != nil {
		return false, err
	}
	defer m.proc.Unlock(l)
	// A damaged value is a value too: deleting it is the way to be rid
	// of it.
	cur := m.readLocked(r)
	had := cur.Found || cur.err != nil
	m.freeLocked(r)
	m.redoDelete(r, name)
	return had, nil
}

// Len counts the variables that have a value. It reads every slot.
func (m *Memory) Len() int {
	if !m.enter() {
		return 0
	}
	defer m.life.RUnlock()
	return m.countLocked()
}

func (m *Memory) countLocked() int {
	n := 0
	for s := uint32(0); s < m.meta.vars; s++ {
		r := ref{slot: s, inc: atomic.LoadUint32(m.stateWord(s)) & incMask}
		if m.valid(r) {
			if it, ok := m.peek(r); ok && it.Found {
				n++
			}
		}
	}
	return n
}

// Scan calls fn with the name and version of each variable that has a
// value, in slot order, starting at cursor, until fn returns false or the
// slots end. It returns the cursor to continue from, 0 at the end, in the
// manner of Redis' SCAN: a variable that exists for the whole scan is
// reported once; one created or deleted during it may or may not be.
// The name passed to fn is valid only during the call.
//
// A live slot whose name is empty or longer than the file allows holds a
// variable no name can reach: Scan stops there with ErrDamaged naming the
// slot, and the cursor after it, rather than list a name that is not the
// variable's or leave it out. It returns ErrClosed after Close.
func (m *Memory) Scan(cursor uint64, fn func(name []byte, version uint64) bool) (uint64, error) {
	if !m.enter() {
		return 0, ErrClosed
	}
	defer m.life.RUnlock()
	for s := cursor; s < uint64(m.meta.vars); s++ {
		slot := uint32(s)
		state := atomic.LoadUint32(m.stateWord(slot))
		if state&stateLive == 0 {
			continue
		}
		r := ref{slot: slot, inc: state & incMask}
		bad := m.nameDamage(slot)
		name := append([]byte(nil), m.name(slot)...)
		it, ok := m.peek(r)
		if !ok || !m.valid(r) {
			continue
		}
		if bad != nil {
			return scanNext(s, m.meta.vars), bad
		}
		if it.Found && !fn(name, it.Version) {
			return scanNext(s, m.meta.vars), nil
		}
	}
	return 0, nil
}

// scanNext is the cursor after slot s of vars, 0 after the last.
func scanNext(s uint64, vars uint32) uint64 {
	if s+1 >= uint64(vars) {
		return 0
	}
	return s + 1
}

// peek is read without waiting for a writer that holds or waits for the
// variable: it returns the value that is current (a writer fills the other
// buffer, and only its version store makes it current). Walks over every
// variable (Len, Scan) use it, so that they do not stall behind write locks
// held for long (a client's LOCK, up to its lease). Unlike read it may see
// part of a lock group's commit, which a walk does not promise to hide.
func (m *Memory) peek(r ref) (Item, bool) {
	for {
		v := atomic.LoadUint64(m.version(r.slot))
		if !m.valid(r) {
			return Item{}, false
		}
		val := m.loadBuf(r.slot, v)
		if atomic.LoadUint64(m.version(r.slot)) == v && m.valid(r) {
			return Item{Value: val, Version: v, Found: val.kind != kindAbsent}, true
		}
	}
}

// repair is lockd's RepairFunc: it finishes or undoes what a dead writer
// left under a lock it held. Values need nothing (a buffer becomes current
// only when its version is stored) except a committed group, whose versions
// are rolled forward; the index is rebuilt from the slots.
func (m *Memory) repair(l lockd.Lock, aux uint64, committed bool) {
	if l == m.index {
		m.rebuild()
		return
	}
	if m.compact && l == m.allocLock {
		m.rebuildHeap()
		return
	}
	s, ok := m.slotOfLock(l)
	if !ok || !committed || aux == 0 {
		return
	}
	// aux is the version the group's commit gave the slot: usually the
	// next one, further on for a variable created at a group's create
	// version, always an odd step on, so that it selects the buffer the
	// commit filled (see Memory.spare). A version already at aux was
	// published before the crash.
	if v := atomic.LoadUint64(m.version(s)); v < aux && (aux-v)%2 == 1 {
		atomic.StoreUint64(m.version(s), aux)
	}
}
