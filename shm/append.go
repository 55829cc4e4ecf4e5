package shm

import (
	"slices"
	"strconv"
	"sync/atomic"
)

// AppendText appends the text of name's value (an integer in decimal, a
// byte string as it is) to dst, and returns the extended slice and the
// value's version, or dst unchanged and ErrNotFound. It reads at one
// instant as Get does, but copies into dst rather than into a new slice,
// so a caller that reuses dst (a server answering GET) allocates nothing.
func (m *Memory) AppendText(dst, name []byte) ([]byte, uint64, error) {
	if m.closed.Load() {
		return dst, 0, ErrClosed
	}
	if err := m.checkName(name); err != nil {
		return dst, 0, err
	}
	for {
		r, ok, err := m.find(name)
		switch {
		case err != nil:
			return dst, 0, err
		case !ok:
			return dst, 0, ErrNotFound
		}
		out, ver, head, ok := m.readAppend(dst, r)
		if !ok {
			continue // deleted meanwhile: look the name up again
		}
		if err := m.item(r.slot, ver, head).missing(); err != nil {
			return dst, 0, err
		}
		return out, ver, nil
	}
}

// readAppend is read appending into dst; each attempt starts again from
// dst's length. head is the value's kind as appendBuf gives it; ok is false
// if r was deleted.
func (m *Memory) readAppend(dst []byte, r ref) (out []byte, ver uint64, head Value, ok bool) {
	ver, ok = m.readStable(r, func(v uint64) { out, head = m.appendBuf(dst, r.slot, v) })
	if !ok {
		return dst, 0, Value{}, false
	}
	return out, ver, head, true
}

// appendCell is appendBuf of a byte string in a format-2 cell, in place
// or in its block.
func (m *Memory) appendCell(dst []byte, off uint64, kind uint32) ([]byte, Value) {
	n := atomic.LoadUint32(m.u32(off + bufLen))
	data := off + cellData
	if kind == kindBlock {
		data = atomic.LoadUint64(m.u64(off + cellData))
		if n > m.meta.valueMax || !m.blockHolds(data, uint64(n)) {
			return dst, damagedValue(kind, n)
		}
		data += blockHeader
	} else if n > inlineMax {
		return dst, damagedValue(kind, n)
	}
	start := len(dst)
	dst = slices.Grow(dst, int(n))[:start+int(n)]
	m.copyOut(dst[start:], data)
	return dst, Bytes(nil)
}

// appendBuf is loadBuf appending the value's text to dst. It returns the
// value's kind as a Value without content: no value, an integer, a byte
// string, or a damaged buffer as loadBuf loads it (dst is then unchanged).
func (m *Memory) appendBuf(dst []byte, s uint32, version uint64) ([]byte, Value) {
	off := m.bufOff(s, version)
	switch kind := atomic.LoadUint32(m.u32(off + bufKind)); kind {
	case kindAbsent:
		return dst, Value{}
	case kindInt:
		return strconv.AppendInt(dst, int64(atomic.LoadUint64(m.u64(off+m.dataOff))), 10), Int(0)
	case kindBytes, kindBlock:
		if m.compact {
			return m.appendCell(dst, off, kind)
		}
		if kind == kindBlock {
			return dst, damagedValue(kind, 0)
		}
		n := atomic.LoadUint32(m.u32(off + bufLen))
		if n > m.meta.valueMax {
			return dst, damagedValue(kind, n)
		}
		start := len(dst)
		dst = slices.Grow(dst, int(n))[:start+int(n)]
		m.copyOut(dst[start:], off+bufData)
		return dst, Bytes(nil)
	default:
		return dst, damagedValue(kind, 0)
	}
}
