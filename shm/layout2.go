package shm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"

	"github.com/dsm-dev/dsm/lockd"
)

// File format 2 (header version 3); see doc.go for the layout byte by
// byte. Format 2 keeps format 1's first 32 header bytes, control block
// fields and slot header fields, so that what touches them serves both.
const (
	formatCompact = 3 // the header version of file format 2
	heapPage      = 4 // the allocator's page, after the control block

	meta2Size  = 648 // bytes covered by a format-2 meta's checksum
	meta2CRC   = meta2Size
	maxExtents = 32 // slot chunks, and arenas, a header can list

	// A format-2 slot: format 1's header fields, two cells, the name.
	slot2Cells = 48 // cell 0; cell 1 follows
	cell2Size  = 32
	slot2Name  = 112 // the name in place, or its name block's offset
	slot2Min   = 128 // the least slot size: 16 bytes of name in place

	// A cell. Its length and kind sit where format 1's buffer has them
	// (bufLen, bufKind).
	cellChanged  = 8  // int64: Unix nanoseconds of the write that filled it
	cellDeadline = 16 // int64: Unix milliseconds after which it is gone; 0 never
	cellData     = 24 // the integer, the bytes in place, or a block's offset
	inlineMax    = 8  // the longest byte string a cell holds in place

	// Value blocks, in buddy-system arenas.
	blockHeader   = 16
	minClass      = 5  // 32-byte blocks
	minArenaClass = 16 // 64 KiB
	maxArenaClass = 40
	arenaPerVar   = 64 // a new file's arena 0: this many bytes per slot

	maxFileSize    = 1 << 44 // the most a header may let a file grow to
	defaultMaxSize = 1 << 36 // a new file's maxSize, unless it is larger already

	// DefaultValueMax2 is a format-2 file's default value limit: values
	// no longer cost every slot their room.
	DefaultValueMax2 = 65536
)

// kindBlock is a format-2 cell's kind for a byte string in a value block;
// kindBytes there means the bytes are in the cell.
const kindBlock = 3

// blockClass is the class of the block that holds n bytes: the least k
// (at least minClass) with 2^k >= n + blockHeader.
func blockClass(n uint64) uint {
	return max(minClass, uint(bits.Len64(n+blockHeader-1)))
}

// arenaWord packs an arena's offset (page-aligned) and its size's log2.
func arenaWord(off uint64, class uint) uint64 { return off | uint64(class) }

// arenaOf unpacks an arena word.
func arenaOf(w uint64) (off uint64, class uint) { return w &^ 63, uint(w & 63) }

// newMeta2 is the header of a new format-2 file of cfg's capacities,
// which cfg.fill has checked: vars rounded up to a power of two, one slot
// chunk, one arena.
func newMeta2(cfg *Config) meta {
	vars0 := uint32(1) << bits.Len32(uint32(cfg.Vars-1))
	m := meta{
		version: formatCompact, txid: 1,
		vars: vars0, vars0: vars0, nameMax: uint32(cfg.NameMax), valueMax: uint32(cfg.ValueMax),
		procs: uint32(cfg.Procs), lanes: uint32(cfg.Lanes), groupMax: uint32(cfg.GroupMax),
		slotSize: slot2Min, chunks: 1, arenas: 1,
	}
	// Room for two variables' two blocks of the longest value, at least.
	a := blockClass(uint64(cfg.ValueMax)) + 2
	a = max(a, minArenaClass, uint(bits.Len64(uint64(vars0)*arenaPerVar-1)))
	if cfg.ValueArea > 0 {
		a = max(a, uint(bits.Len64(uint64(cfg.ValueArea)-1)))
	}
	m.arena[0] = arenaWord(0, a)
	m.derive()
	m.maxSize = max(defaultMaxSize, m.fileSize)
	return m
}

// derive2 computes a format-2 layout that has not grown (generation 0)
// from its capacities, slot size and arena 0's size: the lock tables,
// then the index, slot chunk 0 and arena 0, each at the next page.
func (m *meta) derive2() {
	_, a := arenaOf(m.arena[0])
	m.vars = m.vars0
	m.indexSize = 1
	for m.indexSize < 2*m.vars {
		m.indexSize <<= 1
	}
	m.procsOff = (heapPage + 1) * pageSize
	m.lanesOff = align(m.procsOff+uint64(m.procs)*lockd.ProcSize, pageSize)
	lanes := uint64(m.procs) * uint64(m.lanes) * lockd.LaneSize(int(m.groupMax)+1)
	m.indexOff = align(m.lanesOff+lanes, pageSize)
	m.chunkOff = [maxExtents]uint64{align(m.indexOff+4*uint64(m.indexSize), pageSize)}
	m.slotsOff = m.chunkOff[0]
	arena := align(m.slotsOff+uint64(m.vars0)*uint64(m.slotSize), pageSize)
	m.arena = [maxExtents]uint64{arenaWord(arena, a)}
	m.chunks, m.arenas = 1, 1
	m.fileSize = arena + 1<<a
}

func (m *meta) encode2(b []byte) {
	m.putShared(b)
	le := binary.LittleEndian
	le.PutUint32(b[20:], m.slotSize)
	le.PutUint32(b[72:], m.vars0)
	le.PutUint32(b[76:], m.indexSize)
	le.PutUint64(b[80:], m.procsOff)
	le.PutUint64(b[88:], m.lanesOff)
	le.PutUint64(b[96:], m.indexOff)
	le.PutUint32(b[104:], m.chunks)
	le.PutUint32(b[108:], m.arenas)
	le.PutUint64(b[112:], m.fileSize)
	le.PutUint64(b[120:], m.maxSize)
	le.PutUint64(b[128:], m.generation)
	for i := range maxExtents {
		le.PutUint64(b[136+8*i:], m.chunkOff[i])
		le.PutUint64(b[392+8*i:], m.arena[i])
	}
	le.PutUint32(b[meta2CRC:], crc32.Checksum(b[:meta2Size], crcTable))
}

// decodeMeta2 is decodeMeta for a format-2 page, whose magic and version
// the caller has read: checksum, flags, page size, the capacities'
// ranges, the slot size, the arena's size, and that the stored layout is
// the one derived from them. A header that has grown (generation above 0)
// is refused: no program grows files yet.
func decodeMeta2(b []byte) (meta, error) {
	m := meta{version: formatCompact}
	if len(b) < meta2Size+4 {
		return m, ErrNotDSM
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[meta2CRC:]), crc32.Checksum(b[:meta2Size], crcTable); got != want {
		return m, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	m.getShared(b)
	m.slotSize = le.Uint32(b[20:])
	m.vars0, m.indexSize = le.Uint32(b[72:]), le.Uint32(b[76:])
	m.procsOff, m.lanesOff, m.indexOff = le.Uint64(b[80:]), le.Uint64(b[88:]), le.Uint64(b[96:])
	m.chunks, m.arenas = le.Uint32(b[104:]), le.Uint32(b[108:])
	m.fileSize, m.maxSize, m.generation = le.Uint64(b[112:]), le.Uint64(b[120:]), le.Uint64(b[128:])
	for i := range maxExtents {
		m.chunkOff[i], m.arena[i] = le.Uint64(b[136+8*i:]), le.Uint64(b[392+8*i:])
	}
	m.slotsOff = m.chunkOff[0]
	if err := m.check2(le.Uint32(b[16:])); err != nil {
		return m, err
	}
	stored := m
	m.derive()
	if stored != m {
		return m, fmt.Errorf("%w: layout fields disagree with capacities", ErrCorrupt)
	}
	return m, nil
}

// check2 checks a format-2 header's fields before its layout is derived
// from them, so that the derivation stays in range.
func (m *meta) check2(page uint32) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	_, a := arenaOf(m.arena[0])
	switch {
	case m.flags&^(flagInstalling|flagReplicated) != 0:
		return bad("format %d with flags %#x", m.version, m.flags)
	case page != pageSize:
		return bad("page size %d", page)
	case m.generation != 0 || m.chunks != 1 || m.arenas != 1:
		return bad("grown %d times to %d slot chunks and %d arenas: this program does not grow files", m.generation, m.chunks, m.arenas)
	}
	if err := m.checkRanges(); err != nil {
		return err
	}
	switch {
	case m.vars0 == 0 || m.vars0&(m.vars0-1) != 0 || m.vars0 > maxVars:
		return bad("chunk 0 of %d slots, not a power of two", m.vars0)
	case m.slotSize%64 != 0 || m.slotSize < slot2Min || m.slotSize > max(slot2Min, uint32(align(slot2Name+uint64(m.nameMax), 64))):
		return bad("slot size %d for names of %d bytes", m.slotSize, m.nameMax)
	case a < max(minArenaClass, blockClass(uint64(m.valueMax))) || a > maxArenaClass:
		return bad("arena of 2^%d bytes for values of %d bytes", a, m.valueMax)
	case m.maxSize%pageSize != 0 || m.maxSize > maxFileSize:
		return bad("largest size %d", m.maxSize)
	case m.fileSize > m.maxSize:
		return bad("file size %d above its largest size %d", m.fileSize, m.maxSize)
	}
	return nil
}
