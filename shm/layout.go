package shm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/dsm-dev/dsm/lockd"
)

// File format constants; see doc.go for the layout byte by byte.
const (
	magic = "DSMMEM\x00\x01"
	// A file's format version is the lowest that describes it: 1 for a
	// file of one host, 2 for a replicated one (MarkReplicated), which has
	// format 1's layout and sets flagReplicated. Programs that read only
	// format 1 refuse a replicated file (ErrVersion), so that no older
	// dsm writes around the cluster's log. Version 3 is file format 2
	// (layout2.go), which marks a replicated file by the flag alone.
	// formatVersion is the newest this program reads.
	formatPlain      = 1
	formatReplicated = 2
	formatVersion    = formatCompact
	pageSize         = 4096
	metaSize         = 136 // bytes covered by the meta checksum
	metaCRC          = metaSize

	livenessPage = 2 // file page whose bytes are OFD-locked, never written
	daemonByte   = 0 // the one-daemon-per-file lock
	procByteBase = 64

	controlPage = 3
)

// Meta flags.
const (
	// flagInstalling: a whole-file write (Install, Flush) has begun and not
	// ended; see whole.go.
	flagInstalling = 1 << 0
	// flagReplicated: the file is a cluster node's (format 2); only its
	// daemon writes it, local processes write through the daemon (see
	// replicated.go). Set with format 2 and only with it.
	flagReplicated = 1 << 1
)

// Limits on what a file may declare; a header outside them is corrupt.
const (
	maxVars     = 1 << 28
	maxNameMax  = 4096
	maxValueMax = 1 << 24
	maxGroup    = 1 << 16 // Redis takes an MSET of 10,001 pairs
)

// Defaults for a new file.
const (
	DefaultVars     = 65536
	DefaultNameMax  = 120
	DefaultValueMax = 256
	DefaultProcs    = 64
	DefaultLanes    = 16
	DefaultGroupMax = 256
)

// meta is the decoded header of a file; two copies live in pages 0 and 1.
type meta struct {
	version  uint32
	flags    uint32
	txid     uint64
	vars     uint32
	nameMax  uint32
	valueMax uint32
	procs    uint32
	lanes    uint32
	groupMax uint32
	seed     uint64
	created  int64
	// Derived, stored for validation and for readers in other languages.
	slotSize  uint32
	indexSize uint32
	procsOff  uint64
	lanesOff  uint64
	indexOff  uint64
	slotsOff  uint64
	fileSize  uint64
	// page is the meta page (0 or 1) this copy was read from; not stored.
	page uint64

	// Format 2 only (layout2.go): slot chunk 0's slots, the extents, the
	// most the file may grow to, and how often it grew. slotsOff is
	// chunkOff[0] there, for the code both formats share.
	vars0, chunks, arenas uint32
	maxSize, generation   uint64
	chunkOff, arena       [maxExtents]uint64
}

func align(n, a uint64) uint64 { return (n + a - 1) / a * a }

// derive computes the layout from the capacities.
func (m *meta) derive() {
	if m.version == formatCompact {
		m.derive2()
		return
	}
	nameCap := align(uint64(m.nameMax), 8)
	bufSize := 8 + align(uint64(m.valueMax), 8)
	m.slotSize = uint32(align(slotHeader+nameCap+2*bufSize, 64))
	m.indexSize = 1
	for m.indexSize < 2*m.vars {
		m.indexSize <<= 1
	}
	m.procsOff = (controlPage + 1) * pageSize
	m.lanesOff = align(m.procsOff+uint64(m.procs)*lockd.ProcSize, pageSize)
	lanes := uint64(m.procs) * uint64(m.lanes) * lockd.LaneSize(int(m.groupMax)+1)
	m.indexOff = align(m.lanesOff+lanes, pageSize)
	m.slotsOff = align(m.indexOff+4*uint64(m.indexSize), pageSize)
	m.fileSize = align(m.slotsOff+uint64(m.vars)*uint64(m.slotSize), pageSize)
}

func (m *meta) encode(b []byte) {
	if m.version == formatCompact {
		m.encode2(b)
		return
	}
	m.putShared(b)
	le := binary.LittleEndian
	le.PutUint32(b[72:], m.slotSize)
	le.PutUint32(b[76:], m.indexSize)
	le.PutUint64(b[80:], m.procsOff)
	le.PutUint64(b[88:], m.lanesOff)
	le.PutUint64(b[96:], m.indexOff)
	le.PutUint64(b[104:], m.slotsOff)
	le.PutUint64(b[112:], m.fileSize)
	le.PutUint32(b[metaCRC:], crc32.Checksum(b[:metaSize], crcTable))
}

// putShared writes the fields both formats keep at the same offsets:
// magic, version, flags, page size, txid, the capacities, seed, created.
func (m *meta) putShared(b []byte) {
	copy(b[0:8], magic)
	le := binary.LittleEndian
	le.PutUint32(b[8:], m.version)
	le.PutUint32(b[12:], m.flags)
	le.PutUint32(b[16:], pageSize)
	le.PutUint64(b[24:], m.txid)
	le.PutUint32(b[32:], m.vars)
	le.PutUint32(b[36:], m.nameMax)
	le.PutUint32(b[40:], m.valueMax)
	le.PutUint32(b[44:], m.procs)
	le.PutUint32(b[48:], m.lanes)
	le.PutUint32(b[52:], m.groupMax)
	le.PutUint64(b[56:], m.seed)
	le.PutUint64(b[64:], uint64(m.created))
}

// getShared reads what putShared writes, but for the magic, the version
// and the page size, which the decoders check themselves.
func (m *meta) getShared(b []byte) {
	le := binary.LittleEndian
	m.flags, m.txid = le.Uint32(b[12:]), le.Uint64(b[24:])
	m.vars, m.nameMax, m.valueMax = le.Uint32(b[32:]), le.Uint32(b[36:]), le.Uint32(b[40:])
	m.procs, m.lanes, m.groupMax = le.Uint32(b[44:]), le.Uint32(b[48:]), le.Uint32(b[52:])
	m.seed, m.created = le.Uint64(b[56:]), int64(le.Uint64(b[64:]))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// decodeMeta checks one meta page: magic, then format version (up to
// newest, formatVersion but in tests that play an older program), then
// checksum, then that every field is in range, that the flags agree with
// the version and the stored layout is the derived one.
func decodeMeta(b []byte, newest uint32) (meta, error) {
	var m meta
	if len(b) < metaSize+4 || string(b[0:8]) != magic {
		return m, ErrNotDSM
	}
	le := binary.LittleEndian
	m.version = le.Uint32(b[8:])
	if m.version == 0 {
		return m, fmt.Errorf("%w: format version 0", ErrCorrupt)
	}
	if m.version > newest {
		return m, fmt.Errorf("%w: format %d, this program reads up to %d%s", ErrVersion, m.version, newest, formatNote(m.version))
	}
	if m.version == formatCompact {
		m, err := decodeMeta2(b)
		return m, err
	}
	if got, want := le.Uint32(b[metaCRC:]), crc32.Checksum(b[:metaSize], crcTable); got != want {
		return m, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	m.getShared(b)
	if replicated := m.flags&flagReplicated != 0; replicated != (m.version == formatReplicated) {
		return m, fmt.Errorf("%w: format %d with flags %#x", ErrCorrupt, m.version, m.flags)
	}
	if ps := le.Uint32(b[16:]); ps != pageSize {
		return m, fmt.Errorf("%w: page size %d", ErrCorrupt, ps)
	}
	if err := m.checkRanges(); err != nil {
		return m, err
	}
	stored := m
	stored.slotSize, stored.indexSize = le.Uint32(b[72:]), le.Uint32(b[76:])
	stored.procsOff, stored.lanesOff = le.Uint64(b[80:]), le.Uint64(b[88:])
	stored.indexOff, stored.slotsOff, stored.fileSize = le.Uint64(b[96:]), le.Uint64(b[104:]), le.Uint64(b[112:])
	m.derive()
	if stored != m {
		return m, fmt.Errorf("%w: layout fields disagree with capacities", ErrCorrupt)
	}
	return m, nil
}

// formatNote says what a format newer than a program's is for.
func formatNote(version uint32) string {
	if version == formatReplicated {
		return " (a cluster node's file: its writes go through the node's daemon)"
	}
	return ""
}

// checkRanges checks the stored capacities (see checkCapacities).
func (m *meta) checkRanges() error {
	return checkCapacities(ErrCorrupt, int(m.vars), int(m.nameMax), int(m.valueMax), int(m.procs), int(m.lanes), int(m.groupMax))
}

// checkCapacities is the one statement of the capacities' ranges, for a
// new file's Config (bad wraps ErrConfig) and a stored header (ErrCorrupt):
// it returns bad, with the first capacity out of its range, or nil.
func checkCapacities(bad error, vars, nameMax, valueMax, procs, lanes, groupMax int) error {
	for _, c := range [...]struct {
		what      string
		n, lo, hi int
	}{
		{"vars", vars, 1, maxVars},
		{"name limit", nameMax, 1, maxNameMax},
		{"value limit", valueMax, 8, maxValueMax},
		{"procs", procs, 1, lockd.MaxProcs - procByteBase},
		{"lanes", lanes, 1, 1024},
		{"group limit", groupMax, 1, maxGroup},
	} {
		if c.n < c.lo || c.n > c.hi {
			return fmt.Errorf("%w: %s %d not in %d..%d", bad, c.what, c.n, c.lo, c.hi)
		}
	}
	return nil
}
