package shm

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/dsm-dev/dsm/lockd"
)

// Control block fields (page 3).
const (
	ctlIndexLock = 0  // lockd lock record, 16 bytes
	ctlIndexSeq  = 64 // uint64, odd while the index changes
	ctlFreeHead  = 72 // uint32, first free slot + 1, 0 if none
)

// Slot fields; see doc.go.
const (
	slotLock     = 0  // lockd lock record, 16 bytes
	slotVersion  = 16 // uint64; its parity selects the current buffer
	slotState    = 24 // uint32: live bit | incarnation
	slotWaiters  = 28 // uint32: goroutines in Wait
	slotNameLen  = 32 // uint32
	slotNextFree = 36 // uint32: next free slot + 1, while free
	slotHash     = 40 // uint64
	slotHeader   = 64 // the name starts here

	bufLen  = 0 // uint32
	bufKind = 4 // uint32
	bufData = 8

	stateLive = 1 << 31
	incMask   = stateLive - 1
)

// Kinds of value in a buffer.
const (
	kindAbsent = 0
	kindInt    = 1
	kindBytes  = 2
)

// u32 and u64 address words of the mapping. Offsets come from the
// validated layout, so they skip bounds checks (they are on every hot path).
func (m *Memory) u32(off uint64) *uint32 { return (*uint32)(unsafe.Add(m.base, off)) }
func (m *Memory) u64(off uint64) *uint64 { return (*uint64)(unsafe.Add(m.base, off)) }

func (m *Memory) slotOff(s uint32) uint64 { return m.meta.slotsOff + uint64(s)*uint64(m.meta.slotSize) }
func (m *Memory) lockOf(s uint32) lockd.Lock {
	return lockd.Lock(m.slotOff(s) + slotLock)
}

// slotOfLock maps a lock back to its slot; ok is false for other locks.
func (m *Memory) slotOfLock(l lockd.Lock) (uint32, bool) {
	off := uint64(l)
	if off < m.meta.slotsOff {
		return 0, false
	}
	rel := off - m.meta.slotsOff
	s := rel / uint64(m.meta.slotSize)
	if rel%uint64(m.meta.slotSize) != slotLock || s >= uint64(m.meta.vars) {
		return 0, false
	}
	return uint32(s), true
}

func (m *Memory) version(s uint32) *uint64   { return m.u64(m.slotOff(s) + slotVersion) }
func (m *Memory) stateWord(s uint32) *uint32 { return m.u32(m.slotOff(s) + slotState) }

// name returns the slot's name, aliasing the mapping (the slot, or in
// format 2 a name block); its length is clamped, and a name block's
// offset checked, so that a damaged or torn slot can never index outside
// the mapping. A name block that cannot be one gives no name.
func (m *Memory) name(s uint32) []byte {
	off := m.slotOff(s)
	n := uint64(atomic.LoadUint32(m.u32(off + slotNameLen)))
	n = min(n, uint64(m.meta.nameMax))
	if n <= m.nameCap {
		return m.mem[off+m.nameOff : off+m.nameOff+n]
	}
	b := atomic.LoadUint64(m.u64(off + m.nameOff))
	if !m.blockHolds(b, n) {
		return nil
	}
	return m.mem[b+blockHeader : b+blockHeader+n]
}

// nameDamage returns ErrDamaged naming slot s if its name's length is one
// no writer leaves (empty, or longer than the file allows), or its name
// block cannot be one, else nil.
func (m *Memory) nameDamage(s uint32) error {
	off := m.slotOff(s)
	n := atomic.LoadUint32(m.u32(off + slotNameLen))
	if n == 0 || n > m.meta.nameMax {
		return fmt.Errorf("%w: slot %d: name of %d bytes, the limit is %d", ErrDamaged, s, n, m.meta.nameMax)
	}
	if b := atomic.LoadUint64(m.u64(off + m.nameOff)); uint64(n) > m.nameCap && !m.blockHolds(b, uint64(n)) {
		return fmt.Errorf("%w: slot %d: name of %d bytes in a block at %d, where none can be", ErrDamaged, s, n, b)
	}
	return nil
}

// bufOff is the offset of the value buffer (format 2: the cell) that
// version selects.
func (m *Memory) bufOff(s uint32, version uint64) uint64 {
	return m.slotOff(s) + m.cellsOff + (version&1)*m.cellSize
}

// loadBuf copies the buffer of the given version parity into a Value. It
// reads through atomic word loads so that, on every architecture, the loads
// stay between the two version loads of an optimistic read; on amd64 they are
// plain moves. A buffer that no writer leaves (an unknown kind, a byte
// string longer than the file allows) loads as a damaged Value (see
// damagedValue), which the caller turns into an error once its read is
// validated: a torn read is thrown away by the caller's validation, but must
// not index out of range first.
func (m *Memory) loadBuf(s uint32, version uint64) Value {
	off := m.bufOff(s, version)
	kind := atomic.LoadUint32(m.u32(off + bufKind))
	switch kind {
	case kindAbsent:
		return Value{}
	case kindInt:
		return Value{n: int64(atomic.LoadUint64(m.u64(off + m.dataOff))), kind: kindInt}
	case kindBytes:
		if m.compact {
			return m.loadInline(off)
		}
		return m.loadBytes(off)
	case kindBlock:
		if m.compact {
			return m.loadBlock(off)
		}
	}
	return damagedValue(kind, 0)
}

func (m *Memory) loadBytes(off uint64) Value {
	n := atomic.LoadUint32(m.u32(off + bufLen))
	if n > m.meta.valueMax {
		return damagedValue(kindBytes, n)
	}
	out := make([]byte, n)
	m.copyOut(out, off+bufData)
	return Bytes(out)
}

// kindDamaged marks a Value loaded from a buffer that no writer leaves. It
// exists only in memory, never in a file: such a Value is never stored.
const kindDamaged = 0xff

// damagedValue is the Value of a damaged buffer; it keeps the buffer's kind
// and length, so that the error can say what is wrong.
func damagedValue(kind, n uint32) Value {
	return Value{n: int64(uint64(kind)<<32 | uint64(n)), kind: kindDamaged}
}

// damage returns the error for slot s whose current buffer loaded as v, or
// nil if v is a value (or none).
func (m *Memory) damage(s uint32, v Value) error {
	if v.kind != kindDamaged {
		return nil
	}
	kind, n := uint32(uint64(v.n)>>32), uint32(v.n)
	switch {
	case kind == kindBytes && m.compact:
		return fmt.Errorf("%w: slot %d (%q): value of %d bytes in place, the limit is %d", ErrDamaged, s, m.name(s), n, inlineMax)
	case kind == kindBlock && m.compact:
		return fmt.Errorf("%w: slot %d (%q): value of %d bytes in a block that cannot be one, the limit is %d", ErrDamaged, s, m.name(s), n, m.meta.valueMax)
	}
	if kind == kindBytes {
		return fmt.Errorf("%w: slot %d (%q): value of %d bytes, the limit is %d", ErrDamaged, s, m.name(s), n, m.meta.valueMax)
	}
	return fmt.Errorf("%w: slot %d (%q): value of unknown kind %d", ErrDamaged, s, m.name(s), kind)
}

// item is the Item of slot s read at version ver as val; a damaged value
// is no value, and the Item carries the error that names the damage.
func (m *Memory) item(s uint32, ver uint64, val Value) Item {
	if val.kind == kindDamaged {
		return Item{Version: ver, err: m.damage(s, val)}
	}
	return Item{Value: val, Version: ver, Found: val.kind != kindAbsent}
}

// copyOut fills out from the mapping at data with atomic word loads (see
// loadBuf).
func (m *Memory) copyOut(out []byte, data uint64) {
	n := uint64(len(out))
	var i uint64
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Pointer(&out[i])) = atomic.LoadUint64(m.u64(data + i))
	}
	if i < n {
		w := atomic.LoadUint64(m.u64(data + i))
		for j := i; j < n; j++ {
			out[j] = byte(w >> (8 * (j - i)))
		}
	}
}

// storeBuf writes v into the buffer of the given version's parity. The
// caller holds the slot's write lock and publishes the buffer afterwards by
// storing the version.
func (m *Memory) storeBuf(s uint32, version uint64, v *Value) {
	if m.compact {
		m.storeCell(s, version, v)
		return
	}
	off := m.bufOff(s, version)
	switch v.kind {
	case kindInt:
		*m.u64(off + bufData) = uint64(v.n)
		*m.u32(off + bufLen) = 8
	case kindBytes:
		copy(m.mem[off+bufData:off+bufData+uint64(len(v.b))], v.b)
		*m.u32(off + bufLen) = uint32(len(v.b))
	default:
		*m.u32(off + bufLen) = 0
	}
	*m.u32(off + bufKind) = uint32(v.kind)
}
