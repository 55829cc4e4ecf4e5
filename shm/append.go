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
		r, ok := m.lookup(name)
		if !ok {
			return dst, 0, ErrNotFound
		}
		out, ver, found, ok := m.readAppend(dst, r)
		switch {
		case !ok:
			continue // deleted meanwhile: look the name up again
		case !found:
			return dst, 0, ErrNotFound
		}
		return out, ver, nil
	}
}

// readAppend is read appending into dst; each attempt starts again from
// dst's length. ok is false if r was deleted.
func (m *Memory) readAppend(dst []byte, r ref) (out []byte, ver uint64, found, ok bool) {
	ver, ok = m.readStable(r, func(v uint64) { out, found = m.appendBuf(dst, r.slot, v) })
	if !ok {
		return dst, 0, false, false
	}
	return out, ver, found, true
}

// appendBuf is loadBuf appending the value's text to dst; found is false
// for a variable without a value.
func (m *Memory) appendBuf(dst []byte, s uint32, version uint64) ([]byte, bool) {
	off := m.bufOff(s, version)
	switch atomic.LoadUint32(m.u32(off + bufKind)) {
	case kindInt:
		return strconv.AppendInt(dst, int64(atomic.LoadUint64(m.u64(off+bufData))), 10), true
	case kindBytes:
		n := int(min(uint64(atomic.LoadUint32(m.u32(off+bufLen))), uint64(m.meta.valueMax)))
		start := len(dst)
		dst = slices.Grow(dst, n)[:start+n]
		m.copyOut(dst[start:], off+bufData)
		return dst, true
	}
	return dst, false
}
