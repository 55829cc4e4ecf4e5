package shm

import (
	"bytes"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// A Handle is a variable resolved once, for hot paths: its operations skip
// the name lookup. If the variable is deleted, the handle resolves the name
// again on its next call. A Handle is safe for concurrent use.
type Handle struct {
	m      *Memory
	name   []byte
	create bool
	r      ref
	off    uint64 // the slot's offset

	unresolved bool // r is not the variable's: a replicated file's, missing at Handle
}

// Handle resolves name. With create, a missing variable is created (with no
// value, so Get reports ErrNotFound until it is set); without, a missing
// variable is ErrNotFound.
func (m *Memory) Handle(name []byte, create bool) (*Handle, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	// A local process does not create variables in a replicated file:
	// its handle of a missing one resolves the name at each call.
	remote := m.viaDaemon()
	r, found, err := m.resolve(name, create && !remote)
	if err != nil {
		return nil, err
	}
	h := &Handle{m: m, name: append([]byte(nil), name...), create: create, r: r, off: m.slotOff(r.slot)}
	switch {
	case found:
	case create && remote:
		h.unresolved = true
	default:
		return nil, ErrNotFound
	}
	return h, nil
}

// Name is the handle's variable name.
func (h *Handle) Name() []byte { return h.name }

// Current reports whether the handle still refers to the variable it
// resolved: false once that variable was deleted (its slot may since hold
// another name, or the same name again) or replaced by Install, after
// Close, and for a handle of a replicated file's variable that was missing
// at Handle. A handle that is not current still reads and writes its
// name's variable, looking the name up on every call; a caller that keeps
// handles for speed resolves a new one.
//
// Besides the slot's incarnation, which Get checks, Current compares the
// slot's name with the handle's: a slot reused so often that its 31-bit
// incarnation came round to the handle's again is not taken for current
// under another name.
func (h *Handle) Current() bool {
	m, s := h.m, h.r.slot
	if h.unresolved || m.closed.Load() {
		return false
	}
	want := stateLive | h.r.inc
	return atomic.LoadUint32(m.stateWord(s)) == want && bytes.Equal(m.name(s), h.name) &&
		atomic.LoadUint32(m.stateWord(s)) == want
}

// Get returns the value and version, or ErrNotFound.
func (h *Handle) Get() (Value, uint64, error) {
	m, off := h.m, h.off
	if m.closed.Load() {
		return Value{}, 0, ErrClosed
	}
	if h.unresolved {
		return m.Get(h.name)
	}
	// Fast path for an integer: one optimistic read with nothing in the way.
	ver, state := m.u64(off+slotVersion), m.u32(off+slotState)
	v := atomic.LoadUint64(ver)
	if m.proc.Readable(lockd.Lock(off+slotLock)) && atomic.LoadUint32(state) == stateLive|h.r.inc {
		buf := off + m.cellsOff + (v&1)*m.cellSize
		if atomic.LoadUint32(m.u32(buf+bufKind)) == kindInt {
			n := int64(atomic.LoadUint64(m.u64(buf + m.dataOff)))
			if atomic.LoadUint64(ver) == v && atomic.LoadUint32(state) == stateLive|h.r.inc {
				return Value{n: n, kind: kindInt}, v, nil
			}
		}
	}
	return h.get()
}

func (h *Handle) get() (Value, uint64, error) {
	if h.m.closed.Load() {
		return Value{}, 0, ErrClosed
	}
	if it, ok := h.m.read(h.r); ok {
		if err := it.missing(); err != nil {
			return Value{}, 0, err
		}
		return it.Value, it.Version, nil
	}
	return h.m.Get(h.name)
}

// update runs fn on the resolved slot, falling back to the name when the
// variable was deleted.
func (h *Handle) update(fn func(Item) (Value, bool, error)) (Item, error) {
	if h.m.closed.Load() {
		return Item{}, ErrClosed
	}
	if it, ok, err := h.m.updateRef(h.r, fn); ok {
		return it, err
	}
	return h.m.update(h.name, h.create, fn)
}

// Set stores v and returns the new version.
func (h *Handle) Set(v Value) (uint64, error) {
	m := h.m
	if err := m.checkValue(v); err != nil {
		return 0, err
	}
	if h.unresolved || m.viaDaemon() {
		return m.Set(h.name, v)
	}
	// Fast path: the lock is free and the variable still ours.
	if ver, ok, err := m.trySet(h.r, h.name, v); ok {
		return ver, err
	}
	it, err := h.update(func(Item) (Value, bool, error) { return v, true, nil })
	return it.Version, err
}

// Add is Memory.Add on the handle's variable.
func (h *Handle) Add(delta int64) (int64, uint64, error) {
	if h.unresolved || h.m.viaDaemon() {
		return h.m.Add(h.name, delta)
	}
	if sum, ver, ok, err := h.m.tryAdd(h.r, h.name, delta); ok {
		return sum, ver, err
	}
	var sum int64
	it, err := h.update(func(cur Item) (Value, bool, error) {
		var err error
		sum, err = addTo(cur, delta)
		return Int(sum), err == nil, err
	})
	return sum, it.Version, err
}

// CompareAndSwap is Memory.CompareAndSwap on the handle's variable.
func (h *Handle) CompareAndSwap(old, new Value) (bool, uint64, error) {
	if err := h.m.checkValue(new); err != nil {
		return false, 0, err
	}
	if h.unresolved || h.m.viaDaemon() {
		return h.m.CompareAndSwap(h.name, old, new)
	}
	swapped := false
	it, err := h.update(func(cur Item) (Value, bool, error) {
		if err := cur.missing(); err != nil {
			return Value{}, false, err
		}
		swapped = cur.Value.Equal(old)
		return new, swapped, nil
	})
	return swapped, it.Version, err
}

// tryAdd adds delta to r's value if r's lock is free at once and r is
// still live: the fast path of Add and Handle.Add. ok is false if the
// caller must take the general path.
func (m *Memory) tryAdd(r ref, name []byte, delta int64) (sum int64, ver uint64, ok bool, err error) {
	l := m.lockOf(r.slot)
	if m.closed.Load() || !m.proc.TryLock(l) {
		return 0, 0, false, nil
	}
	failpoint(FailLocked)
	if ok = m.valid(r); ok {
		if sum, ver, err = m.addLocked(r, delta); err == nil {
			m.redoOne(r, name, Int(sum), ver)
		}
	}
	m.unlockWrite(l)
	return sum, ver, ok, err
}

// addLocked is Add on r, whose lock the caller holds. It reads an integer
// without making a Value of it: Add is the hottest write path.
func (m *Memory) addLocked(r ref, delta int64) (int64, uint64, error) {
	v := atomic.LoadUint64(m.version(r.slot))
	cur := m.bufOff(r.slot, v)
	var n int64
	switch atomic.LoadUint32(m.u32(cur + bufKind)) {
	case kindInt:
		n = int64(atomic.LoadUint64(m.u64(cur + m.dataOff)))
	case kindAbsent:
	default:
		val := m.loadBuf(r.slot, v)
		if err := m.damage(r.slot, val); err != nil {
			return 0, 0, err
		}
		var ok bool
		if n, ok = val.Int(); !ok {
			return 0, 0, ErrNotInteger
		}
	}
	n, err := addInt(n, delta)
	if err != nil {
		return 0, 0, err
	}
	val := Int(n)
	if err := m.commitOne(r.slot, v+1, &val); err != nil {
		return 0, 0, err
	}
	return n, v + 1, nil
}
