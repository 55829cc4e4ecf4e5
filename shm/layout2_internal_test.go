package shm

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/dsm-dev/dsm/lockd"
)

// meta2Page is the first meta page of a new format-2 file of cfg's
// capacities (defaults filled in, the format-2 value limit by default).
func meta2Page(t testing.TB, cfg Config) (meta, []byte) {
	t.Helper()
	cfg.Path = "unused"
	if cfg.ValueMax == 0 {
		cfg.ValueMax = DefaultValueMax2
	}
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	m := newMeta2(&cfg)
	m.seed, m.created = 0x5eed, 1
	page := make([]byte, pageSize)
	m.encode(page)
	return m, page
}

// TestMeta2Defaults: at the defaults a slot is 128 bytes, the value limit
// 64 KiB, and the extents follow the lane table page by page, as doc.go
// lays them out.
func TestMeta2Defaults(t *testing.T) {
	m, page := meta2Page(t, Config{})
	got, err := decodeMeta(page, formatCompact)
	if err != nil {
		t.Fatal(err)
	}
	if got != m {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, m)
	}
	lanes := uint64(DefaultProcs) * DefaultLanes * lockd.LaneSize(DefaultGroupMax+1)
	arenaOff, a := arenaOf(m.arena[0])
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"slot size", uint64(m.slotSize), 128},
		{"value limit", uint64(m.valueMax), 65536},
		{"vars", uint64(m.vars), DefaultVars},
		{"index size", uint64(m.indexSize), 2 * DefaultVars},
		{"index offset", m.indexOff, align(m.lanesOff+lanes, pageSize)},
		{"chunk 0", m.chunkOff[0], align(m.indexOff+4*2*DefaultVars, pageSize)},
		{"arena 0", arenaOff, m.chunkOff[0] + DefaultVars*128},
		{"arena size", 1 << a, DefaultVars * arenaPerVar},
		{"file size", m.fileSize, arenaOff + DefaultVars*arenaPerVar},
		{"largest size", m.maxSize, defaultMaxSize},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	t.Logf("format 2 at the defaults: %d bytes (slots %d KiB, arena %d KiB)", m.fileSize, DefaultVars*128>>10, DefaultVars*arenaPerVar>>10)
}

// TestMeta2Rounding: capacities round up to a power of two, and the arena
// holds at least four blocks of the longest value.
func TestMeta2Rounding(t *testing.T) {
	m, _ := meta2Page(t, Config{Vars: 5, ValueMax: 1 << 20})
	_, a := arenaOf(m.arena[0])
	if m.vars != 8 || m.vars0 != 8 {
		t.Errorf("5 vars became %d (chunk 0: %d), want 8", m.vars, m.vars0)
	}
	if a != 23 {
		t.Errorf("arena of 2^%d bytes for values of 1 MiB, want 2^23 (four blocks of 1 MiB + a header)", a)
	}
	for n, want := range map[uint64]uint{0: 5, 16: 5, 17: 6, 48: 6, 49: 7, 65536: 17} {
		if got := blockClass(n); got != want {
			t.Errorf("blockClass(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestMeta2Refused: each field out of its range or out of step with the
// others is refused with ErrCorrupt, checksum or not; a program that
// reads only format 1 refuses format 2 with ErrVersion.
func TestMeta2Refused(t *testing.T) {
	m, good := meta2Page(t, Config{Vars: 16, NameMax: 16})
	le := binary.LittleEndian
	arenaOff, a := arenaOf(m.arena[0])
	for _, c := range []struct {
		what string
		off  int
		val  uint64
		size int
	}{
		{"unknown flag", 12, 4, 4},
		{"page size", 16, 8192, 4},
		{"slot size not a multiple of 64", 20, 160, 4},
		{"slot size below 128", 20, 64, 4},
		{"slot size above what names need", 20, 192, 4},
		{"vars apart from chunk 0", 32, 32, 4},
		{"value limit too large", 40, maxValueMax + 1, 4},
		{"no procs", 44, 0, 4},
		{"chunk 0 not a power of two", 72, 12, 4},
		{"chunk 0 too large", 72, 1 << 31, 4},
		{"index size", 76, 64, 4},
		{"procs offset", 80, 16384, 8},
		{"lanes offset", 88, m.lanesOff + pageSize, 8},
		{"index offset", 96, m.indexOff + pageSize, 8},
		{"two chunks", 104, 2, 4},
		{"two arenas", 108, 2, 4},
		{"file size", 112, m.fileSize - pageSize, 8},
		{"largest size not page-aligned", 120, m.maxSize + 1, 8},
		{"largest size below the file", 120, m.fileSize - pageSize, 8},
		{"largest size too large", 120, 2 * maxFileSize, 8},
		{"grown", 128, 1, 8},
		{"chunk 0 offset", 136, m.chunkOff[0] + pageSize, 8},
		{"second chunk listed", 144, m.fileSize, 8},
		{"arena offset", 392, arenaWord(arenaOff+pageSize, a), 8},
		{"arena below 64 KiB", 392, arenaWord(arenaOff, 15), 8},
		{"arena larger than the file allows", 392, arenaWord(arenaOff, 41), 8},
		{"second arena listed", 400, arenaWord(m.fileSize, 16), 8},
	} {
		for _, fix := range []bool{true, false} {
			page := append([]byte(nil), good...)
			if c.size == 4 {
				le.PutUint32(page[c.off:], uint32(c.val))
			} else {
				le.PutUint64(page[c.off:], c.val)
			}
			if fix {
				le.PutUint32(page[meta2CRC:], crc32.Checksum(page[:meta2Size], crcTable))
			}
			if _, err := decodeMeta(page, formatCompact); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s (checksum fixed: %v): %v, want ErrCorrupt", c.what, fix, err)
			}
		}
	}
	small, _ := meta2Page(t, Config{Vars: 16, ValueMax: 65536})
	page := append([]byte(nil), good...)
	small.arena[0] = arenaWord(arenaOff, minArenaClass) // a 64 KiB value needs a 128 KiB block
	small.encode(page)
	if _, err := decodeMeta(page, formatCompact); !errors.Is(err, ErrCorrupt) {
		t.Errorf("arena smaller than the longest value's block: %v, want ErrCorrupt", err)
	}
	if _, err := decodeMeta(good, formatReplicated); !errors.Is(err, ErrVersion) {
		t.Errorf("format 2 read by a format-1 program: %v, want ErrVersion", err)
	}
}

// FuzzMeta2 decodes format-2 meta pages with their checksum fixed: a page
// it accepts must lay the file out as Open relies on (extents in order,
// page-aligned, within the file, the file within its largest size) and
// encode back to the same page.
func FuzzMeta2(f *testing.F) {
	_, page := meta2Page(f, Config{})
	f.Add(page[:meta2Size])
	_, page = meta2Page(f, Config{Vars: 3, NameMax: 200, ValueMax: 100, Procs: 1, Lanes: 1, GroupMax: 1})
	f.Add(page[:meta2Size])
	f.Fuzz(func(t *testing.T, head []byte) {
		page := make([]byte, pageSize)
		copy(page, head)
		copy(page, magic)
		binary.LittleEndian.PutUint32(page[8:], formatCompact)
		binary.LittleEndian.PutUint32(page[meta2CRC:], crc32.Checksum(page[:meta2Size], crcTable))
		m, err := decodeMeta(page, formatCompact)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("refused with %v, want ErrCorrupt", err)
			}
			return
		}
		checkLayout2(t, m)
		again := make([]byte, pageSize)
		m.encode(again)
		if string(again[:meta2Size+4]) != string(page[:meta2Size+4]) {
			t.Fatalf("accepted page does not encode back to itself")
		}
	})
}

// checkLayout2 fails t unless m's extents lie in order, page-aligned,
// without overlap, inside the file, and the file inside its largest size.
func checkLayout2(t *testing.T, m meta) {
	t.Helper()
	arenaOff, a := arenaOf(m.arena[0])
	lanesEnd := m.lanesOff + uint64(m.procs)*uint64(m.lanes)*lockd.LaneSize(int(m.groupMax)+1)
	steps := []struct {
		what       string
		start, end uint64
	}{
		{"process table", m.procsOff, m.procsOff + uint64(m.procs)*lockd.ProcSize},
		{"lane table", m.lanesOff, lanesEnd},
		{"index", m.indexOff, m.indexOff + 4*uint64(m.indexSize)},
		{"chunk 0", m.chunkOff[0], m.chunkOff[0] + uint64(m.vars)*uint64(m.slotSize)},
		{"arena 0", arenaOff, arenaOff + 1<<a},
	}
	prev := uint64((controlPage + 1) * pageSize)
	for _, s := range steps {
		if s.start%pageSize != 0 || s.start < prev || s.end < s.start {
			t.Fatalf("%s at [%d, %d) after %d: %+v", s.what, s.start, s.end, prev, m)
		}
		prev = s.end
	}
	if prev != m.fileSize || m.fileSize > m.maxSize || m.slotSize < slot2Min || blockClass(uint64(m.valueMax)) > a {
		t.Fatalf("file of %d bytes (largest %d), extents end at %d, slots of %d, arena 2^%d for values of %d: %+v",
			m.fileSize, m.maxSize, prev, m.slotSize, a, m.valueMax, m)
	}
}
