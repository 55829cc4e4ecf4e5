package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// Format 2's slots (doc.go): two 32-byte cells, a name in place or in a
// name block, longer values in value blocks of the heap (heap.go). The
// code both formats share reaches a slot's parts through the offsets
// setLayout fills in; what only format 2 has is here.

// The heap page's fields (format 2).
const (
	heapAllocLock = heapPage*pageSize + 0  // lockd lock record, 16 bytes
	heapFreeBytes = heapPage*pageSize + 16 // uint64
	heapFreeHeads = heapPage*pageSize + 64 // [maxClass+1]uint64
)

// setLayout fills in where the file's slots keep their parts, and for
// format 2 its heap and allocator lock.
func (m *Memory) setLayout() {
	if m.meta.version != formatCompact {
		m.nameOff, m.nameCap = slotHeader, align(uint64(m.meta.nameMax), 8)
		m.cellsOff, m.cellSize, m.dataOff = slotHeader+m.nameCap, 8+align(uint64(m.meta.valueMax), 8), bufData
		return
	}
	m.compact = true
	m.clock = newClock()
	m.nameOff, m.nameCap = slot2Name, uint64(m.meta.slotSize)-slot2Name
	m.cellsOff, m.cellSize, m.dataOff = slot2Cells, cell2Size, cellData
	m.allocLock = lockd.Lock(heapAllocLock)
	m.heap = heap{base: m.base, size: uint64(len(m.mem)), heads: heapFreeHeads, freeBytes: heapFreeBytes}
	for i := range m.meta.arenas {
		off, k := arenaOf(m.meta.arena[i])
		m.heap.arenas = append(m.heap.arenas, arenaExt{off: off, class: k})
	}
}

// writeHeap makes each arena of a new format-2 file one free block, on
// its class's free list.
func writeHeap(f *os.File, m meta) error {
	le := binary.LittleEndian
	var w [8]byte
	var free uint64
	for i := range m.arenas {
		off, k := arenaOf(m.arena[i])
		le.PutUint64(w[:], blockHeaderWord(k, blockFree))
		if _, err := f.WriteAt(w[:], int64(off)); err != nil {
			return err
		}
		le.PutUint64(w[:], off)
		if _, err := f.WriteAt(w[:], int64(heapFreeHeads+8*k)); err != nil {
			return err
		}
		free += 1 << k
	}
	le.PutUint64(w[:], free)
	_, err := f.WriteAt(w[:], heapFreeBytes)
	return err
}

// blockHolds reports whether b may be followed to n bytes of data: inside
// an arena, where a block can start. It guards reads of a cell or name
// read without locks (which may be torn, or damaged) before they index
// the mapping; whether b is a used block is Check's to say.
func (m *Memory) blockHolds(b, n uint64) bool {
	a, ok := m.heap.arenaAt(b)
	return ok && b%(1<<minClass) == 0 && n <= 1<<a.class && b+blockHeader+n <= a.off+1<<a.class
}

// withAlloc runs fn holding the allocator lock. The lock is taken last,
// after the index lock and a variable's, and fn takes no other.
func (m *Memory) withAlloc(fn func()) error {
	if err := m.proc.Lock(background, m.allocLock); err != nil {
		return err
	}
	fn()
	m.proc.Unlock(m.allocLock)
	return nil
}

// prepare makes format 2's cell that version selects ready for v: a
// byte string longer than inlineMax needs a block of its class, or one
// class larger, which the cell keeps if it has one and is otherwise
// given (ErrFull if the heap has none); any other value needs no block,
// and a block the cell has is freed. Blocks change owner only under the
// allocator lock. The caller holds the variable's write lock, and the
// version does not select the current cell. Format 1 needs nothing.
func (m *Memory) prepare(s uint32, version uint64, v *Value) error {
	if !m.compact {
		return nil
	}
	off := m.bufOff(s, version)
	long := v.kind == kindBytes && len(v.b) > inlineMax
	has := atomic.LoadUint32(m.u32(off+bufKind)) == kindBlock
	var k uint
	if long {
		k = blockClass(uint64(len(v.b)))
		if has {
			b := atomic.LoadUint64(m.u64(off + cellData))
			if bk, st := splitHeader(m.heap.get(b)); m.blockHolds(b, 0) && st == blockValue && (bk == k || bk == k+1) {
				return nil
			}
		}
	}
	if !long && !has {
		return nil
	}
	var full bool
	err := m.withAlloc(func() {
		if has {
			b := atomic.LoadUint64(m.u64(off + cellData))
			atomic.StoreUint32(m.u32(off+bufKind), kindAbsent)
			if m.blockHolds(b, 0) {
				m.heap.free(b)
			}
		}
		if !long {
			return
		}
		b, ok := m.heap.alloc(k, blockValue)
		if full = !ok; full {
			return
		}
		failpoint(FailAllocating)
		atomic.StoreUint64(m.u64(off+cellData), b)
		atomic.StoreUint32(m.u32(off+bufKind), kindBlock)
	})
	if err != nil {
		return err
	}
	if full {
		return fmt.Errorf("%w: no value block of %d bytes free for a value of %d (%d bytes free in all)",
			ErrFull, 1<<k, len(v.b), m.heap.get(m.heap.freeBytes))
	}
	return nil
}

// storeCell is storeBuf for format 2: it fills the cell prepare made
// ready, the block's bytes first for a long string, and stamps the time
// of the change. Like storeBuf it uses plain stores (an atomic store is a
// full barrier on amd64, five of them doubled the cost of Add): no
// reader takes the cell for current before the version store publishes
// it, and a kind that names a block changes only in prepare, under the
// allocator lock.
func (m *Memory) storeCell(s uint32, version uint64, v *Value) {
	off := m.bufOff(s, version)
	switch {
	case v.kind == kindInt:
		*m.u64(off + cellData) = uint64(v.n)
		*m.u32(off + bufLen) = 8
		*m.u32(off + bufKind) = kindInt
	case v.kind == kindBytes && len(v.b) <= inlineMax:
		var w uint64
		for i, c := range v.b {
			w |= uint64(c) << (8 * i)
		}
		*m.u64(off + cellData) = w
		*m.u32(off + bufLen) = uint32(len(v.b))
		*m.u32(off + bufKind) = kindBytes
	case v.kind == kindBytes:
		b := *m.u64(off + cellData)
		copy(m.mem[b+blockHeader:b+blockHeader+uint64(len(v.b))], v.b)
		*m.u32(off + bufLen) = uint32(len(v.b))
	default:
		*m.u32(off + bufLen) = 0
		*m.u32(off + bufKind) = kindAbsent
	}
	*m.u64(off + cellDeadline) = 0
	*m.u64(off + cellChanged) = uint64(m.clock.read())
}

// loadInline loads a byte string a format-2 cell holds in place.
func (m *Memory) loadInline(off uint64) Value {
	n := atomic.LoadUint32(m.u32(off + bufLen))
	if n > inlineMax {
		return damagedValue(kindBytes, n)
	}
	out := make([]byte, n)
	m.copyOut(out, off+cellData)
	return Bytes(out)
}

// loadBlock loads a byte string from the value block a format-2 cell
// names, if the cell's length and block are ones a writer leaves.
func (m *Memory) loadBlock(off uint64) Value {
	n := atomic.LoadUint32(m.u32(off + bufLen))
	b := atomic.LoadUint64(m.u64(off + cellData))
	if n > m.meta.valueMax || !m.blockHolds(b, uint64(n)) {
		return damagedValue(kindBlock, n)
	}
	out := make([]byte, n)
	m.copyOut(out, b+blockHeader)
	return Bytes(out)
}

// setName gives free slot s name: in place if it fits, else in a name
// block, which only the allocator lock hands out. The caller holds the
// index lock; s is not live, and names no block (see releaseBlocks).
func (m *Memory) setName(s uint32, name []byte) error {
	off := m.slotOff(s)
	if uint64(len(name)) <= m.nameCap {
		copy(m.mem[off+m.nameOff:off+m.nameOff+m.nameCap], name)
		atomic.StoreUint32(m.u32(off+slotNameLen), uint32(len(name)))
		return nil
	}
	var b uint64
	ok := false
	err := m.withAlloc(func() {
		if b, ok = m.heap.alloc(blockClass(uint64(len(name))), blockName); ok {
			atomic.StoreUint64(m.u64(off+m.nameOff), b)
			atomic.StoreUint32(m.u32(off+slotNameLen), uint32(len(name)))
		}
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: no name block free for a name of %d bytes", ErrFull, len(name))
	}
	copy(m.mem[b+blockHeader:], name)
	return nil
}

// releaseBlocks frees the blocks slot s names, its cells' and its name's,
// once s is no longer live (a deletion, a rebuild that finds a deletion
// cut short). The caller holds the index lock. Format 1 has none.
func (m *Memory) releaseBlocks(s uint32) {
	if !m.compact {
		return
	}
	off := m.slotOff(s)
	// Only the index lock's holder changes a free slot's references, so
	// a slot that names nothing needs no allocator lock (a rebuild frees
	// every free slot's).
	if !m.namesBlock(off) {
		return
	}
	m.withAlloc(func() {
		for c := uint64(0); c < 2; c++ {
			cell := off + m.cellsOff + c*m.cellSize
			if atomic.LoadUint32(m.u32(cell+bufKind)) == kindBlock {
				b := atomic.LoadUint64(m.u64(cell + cellData))
				atomic.StoreUint32(m.u32(cell+bufKind), kindAbsent)
				if m.blockHolds(b, 0) {
					m.heap.free(b)
				}
			}
		}
		if uint64(atomic.LoadUint32(m.u32(off+slotNameLen))) > m.nameCap {
			b := atomic.LoadUint64(m.u64(off + m.nameOff))
			atomic.StoreUint32(m.u32(off+slotNameLen), 0)
			if m.blockHolds(b, 0) {
				m.heap.free(b)
			}
		}
	})
}

// namesBlock reports whether the slot at off names a block.
func (m *Memory) namesBlock(off uint64) bool {
	for c := uint64(0); c < 2; c++ {
		if atomic.LoadUint32(m.u32(off+m.cellsOff+c*m.cellSize+bufKind)) == kindBlock {
			return true
		}
	}
	return uint64(atomic.LoadUint32(m.u32(off+slotNameLen))) > m.nameCap
}

// heapRefs lists the blocks every slot names, live or free, and the
// blocks named more than once (damage).
func (m *Memory) heapRefs() (map[uint64]uint8, []error) {
	refs := map[uint64]uint8{}
	var errs []error
	note := func(s uint32, b uint64, st uint8) {
		if _, dup := refs[b]; dup {
			errs = append(errs, fmt.Errorf("%w: slot %d names block %d, which another reference names too", ErrDamaged, s, b))
		}
		refs[b] = st
	}
	for s := uint32(0); s < m.meta.vars; s++ {
		off := m.slotOff(s)
		for c := uint64(0); c < 2; c++ {
			cell := off + m.cellsOff + c*m.cellSize
			if atomic.LoadUint32(m.u32(cell+bufKind)) == kindBlock {
				note(s, atomic.LoadUint64(m.u64(cell+cellData)), blockValue)
			}
		}
		if uint64(atomic.LoadUint32(m.u32(off+slotNameLen))) > m.nameCap {
			note(s, atomic.LoadUint64(m.u64(off+m.nameOff)), blockName)
		}
	}
	return refs, errs
}

// rebuildHeap is the allocator lock's repair: its holder died, maybe in
// the middle of a change; the heap is made anew from the references
// (heap.rebuild). The caller holds the lock.
func (m *Memory) rebuildHeap() {
	refs, _ := m.heapRefs()
	m.heap.rebuild(refs)
}

// checkHeap is Check's part for format 2: the heap against the
// references. The caller holds the index lock; it takes the allocator's.
func (c *checker) checkHeap() {
	m := c.m
	if !m.compact {
		return
	}
	m.withAlloc(func() {
		refs, errs := m.heapRefs()
		for _, err := range append(errs, m.heap.check(refs)...) {
			c.put(kindOf(err), err)
		}
	})
}

// kindOf is the kind of a heap problem: ErrDamaged or ErrIndexDamaged.
func kindOf(err error) error {
	if errors.Is(err, ErrDamaged) {
		return ErrDamaged
	}
	return ErrIndexDamaged
}
