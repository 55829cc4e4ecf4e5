package shm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// The meta page, as shm/doc.go lays it out.
const (
	pageSize   = 4096
	metaSum    = 136 // bytes covered by the checksum
	metaCRCOff = 136
	versionOff = 8

	// Format 2's (header version 3).
	meta2Sum    = 648
	meta2CRCOff = 648
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// validFile returns the bytes of a small valid file holding x=42 and
// s="hello".
func validFile(t testing.TB) []byte {
	t.Helper()
	return validFileOf(t, small, nil)
}

// validFile2 is validFile in format 2, with a value and a name that live
// in blocks besides.
func validFile2(t testing.TB) []byte {
	t.Helper()
	cfg := small
	cfg.Format = 2
	return validFileOf(t, cfg, func(m *shm.Memory) {
		mustSet(t, m, "a-name-that-needs-a-block", shm.Bytes(bytes.Repeat(b("v"), 300)))
	})
}

func validFileOf(t testing.TB, cfg shm.Config, more func(*shm.Memory)) []byte {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "valid.mem")
	m, err := shm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, m, "x", shm.Int(42))
	mustSet(t, m, "s", shm.Bytes(b("hello")))
	if more != nil {
		more(m)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// openBytes writes data to a new file and opens it. On success it checks
// that the variables of validFile read back intact, and closes.
func openBytes(t testing.TB, data []byte) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return openPath(t, path)
}

func openPath(t testing.TB, path string) error {
	t.Helper()
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		return err
	}
	defer m.Close()
	wantValue(t, m, "x", shm.Int(42), 0)
	wantValue(t, m, "s", shm.Bytes(b("hello")), 0)
	return nil
}

// fixCRC recomputes the checksum of the meta page at off, where the
// page's version puts it.
func fixCRC(data []byte, off int) {
	sum, at := metaSum, metaCRCOff
	if len(data) >= off+versionOff+4 && binary.LittleEndian.Uint32(data[off+versionOff:]) == 3 {
		sum, at = meta2Sum, meta2CRCOff
	}
	if len(data) >= off+at+4 {
		page := data[off:]
		binary.LittleEndian.PutUint32(page[at:], crc32.Checksum(page[:sum], castagnoli))
	}
}

// patchMeta applies edit to the meta pages named (0 = A, 1 = B) and
// recomputes their checksums, as a program writing a real header would.
func patchMeta(data []byte, edit func(page []byte), pages ...int) []byte {
	out := bytes.Clone(data)
	for _, p := range pages {
		edit(out[p*pageSize:])
		fixCRC(out, p*pageSize)
	}
	return out
}

func TestOpenValid(t *testing.T) {
	if err := openBytes(t, validFile(t)); err != nil {
		t.Fatalf("Open of a valid file: %v", err)
	}
}

func TestOpenZeros(t *testing.T) {
	full := len(validFile(t))
	tests := []struct {
		size int
		want error
	}{
		{0, shm.ErrTruncated},
		{100, shm.ErrNotDSM},
		{2 * pageSize, shm.ErrNotDSM},
		{full, shm.ErrNotDSM},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size, " bytes"), func(t *testing.T) {
			wantErr(t, "Open", openBytes(t, make([]byte, tt.size)), tt.want)
		})
	}
}

func TestOpenRandom(t *testing.T) {
	full := len(validFile(t))
	rng := rand.New(rand.NewPCG(7, 7))
	for _, size := range []int{100, 2 * pageSize, full} {
		t.Run(fmt.Sprint(size, " bytes"), func(t *testing.T) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			wantErr(t, "Open", openBytes(t, data), shm.ErrNotDSM)
		})
	}
}

// TestOpenTruncated cuts a valid file at every length short of its own,
// shortening one file step by step (nothing maps it, so that is safe).
func TestOpenTruncated(t *testing.T) {
	data := validFile(t)
	path := filepath.Join(t.TempDir(), "cut.mem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	failures := 0
	for size := len(data) - 1; size >= 0; size-- {
		if err := os.Truncate(path, int64(size)); err != nil {
			t.Fatal(err)
		}
		m, err := shm.Open(shm.Config{Path: path})
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, shm.ErrTruncated) {
			t.Errorf("cut at %d of %d bytes: Open = %v, want ErrTruncated", size, len(data), err)
			if failures++; failures > 10 {
				t.Fatal("too many failures")
			}
		}
	}
}

// TestOpenMetaFlip flips each byte of the checked part of a meta page: in
// one page only, the other page serves; in both, Open names the problem.
func TestOpenMetaFlip(t *testing.T) {
	data := validFile(t)
	for off := 0; off < metaCRCOff+4; off++ {
		flip := func(pages ...int) []byte {
			out := bytes.Clone(data)
			for _, p := range pages {
				out[p*pageSize+off] ^= 0xff
			}
			return out
		}
		if err := openBytes(t, flip(0)); err != nil {
			t.Errorf("byte %d of meta A flipped: Open = %v, want meta B to serve", off, err)
		}
		if err := openBytes(t, flip(1)); err != nil {
			t.Errorf("byte %d of meta B flipped: Open = %v, want meta A to serve", off, err)
		}
		err := openBytes(t, flip(0, 1))
		switch {
		case off < 8:
			wantErr(t, fmt.Sprintf("byte %d (magic) of both metas flipped", off), err, shm.ErrNotDSM)
		case off < 12 && errors.Is(err, shm.ErrVersion):
			// A damaged version field reads as a newer format (the
			// version is checked before the checksum, as bbolt does).
		default:
			wantErr(t, fmt.Sprintf("byte %d of both metas flipped", off), err, shm.ErrCorrupt)
		}
	}
}

func TestOpenVersion(t *testing.T) {
	data := validFile(t)
	// Version 2 is a replicated file's (replicated_internal_test.go), 3
	// file format 2's; 4 is the first this program does not know.
	newer := func(page []byte) { binary.LittleEndian.PutUint32(page[versionOff:], 4) }
	wantErr(t, "Open of a newer format", openBytes(t, patchMeta(data, newer, 0, 1)), shm.ErrVersion)
	if err := openBytes(t, patchMeta(data, newer, 0)); err != nil {
		t.Errorf("meta A newer, meta B valid: Open = %v, want meta B to serve", err)
	}
	older := func(page []byte) { binary.LittleEndian.PutUint32(page[versionOff:], 0) }
	err := openBytes(t, patchMeta(data, older, 0, 1))
	if err == nil {
		t.Errorf("Open of a file of format version 0 (there is none) succeeded")
	}
}

// TestOpenBadFields patches one header field in both pages, with a correct
// checksum: the capacities must be in range and the layout fields must be
// the ones derived from them.
func TestOpenBadFields(t *testing.T) {
	data := validFile(t)
	le := binary.LittleEndian
	set32 := func(off int, v uint32) func([]byte) { return func(p []byte) { le.PutUint32(p[off:], v) } }
	add32 := func(off int, d uint32) func([]byte) {
		return func(p []byte) { le.PutUint32(p[off:], le.Uint32(p[off:])+d) }
	}
	add64 := func(off int, d uint64) func([]byte) {
		return func(p []byte) { le.PutUint64(p[off:], le.Uint64(p[off:])+d) }
	}
	tests := []struct {
		name string
		edit func([]byte)
	}{
		{"page size", set32(16, 8192)},
		{"no variables", set32(32, 0)},
		{"too many variables", set32(32, 1<<30)},
		{"one more variable", add32(32, 1)},
		{"no name room", set32(36, 0)},
		{"huge names", set32(36, 1<<20)},
		{"tiny values", set32(40, 4)},
		{"huge values", set32(40, 1<<30)},
		{"no process slots", set32(44, 0)},
		{"too many process slots", set32(44, 1<<20)},
		{"no lanes", set32(48, 0)},
		{"no group", set32(52, 0)},
		{"slot size", add32(72, 64)},
		{"index size", set32(76, 1<<20)},
		{"process table offset", add64(80, 8)},
		{"lane table offset", add64(88, 4096)},
		{"index offset", add64(96, 4096)},
		{"slots offset", add64(104, 4096)},
		{"file size", add64(112, 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "Open", openBytes(t, patchMeta(data, tt.edit, 0, 1)), shm.ErrCorrupt)
		})
	}
}

func TestOpenForeign(t *testing.T) {
	self, err := os.ReadFile(os.Args[0]) // this test binary, an ELF file
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"executable", self},
		{"text", bytes.Repeat(b("not a dsm file\n"), 1000)},
		{"short text", b("hello\n")},
		{"one byte", b("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "Open", openBytes(t, tt.data), shm.ErrNotDSM)
		})
	}
	t.Run("directory", func(t *testing.T) {
		if err := openPath(t, t.TempDir()); err == nil {
			t.Fatal("Open of a directory succeeded")
		}
	})
}

// fileErrors are the errors Open may give for a file it refuses.
var fileErrors = []error{shm.ErrNotDSM, shm.ErrVersion, shm.ErrCorrupt, shm.ErrTruncated}

// FuzzOpen writes arbitrary bytes to a file and opens it: Open must refuse
// it with an error that names the problem, or give a Memory on which every
// operation returns without panicking, faulting or hanging, and none meets
// damage (ErrDamaged) that Check, run first, did not report; Repair then
// leaves no damage it could rebuild. With fixCRC the
// meta checksums are recomputed first, so that the fuzzer also reaches the
// checks after the checksum and, past them, damage in the body of the file
// (index, free list, slots, lock records, lanes).
func FuzzOpen(f *testing.F) {
	data := validFile(f)
	f.Add(data, false)
	f.Add(data, true)
	for _, n := range []int{0, 7, 8, 100, pageSize, 2 * pageSize, 2*pageSize + 1, len(data) / 2, len(data) - 1} {
		f.Add(data[:n], false)
	}
	f.Add(make([]byte, len(data)), false)
	f.Add(make([]byte, 2*pageSize), true)
	// Damage to the body behind a sound header: slots, index, free list.
	for _, d := range bodyDamage {
		body := bytes.Clone(data)
		d.edit(f, layoutOf(body), body)
		f.Add(body, false)
	}
	// Format 2: whole, cut short, and with the header's checksums fixed
	// after the fuzzer's changes.
	data2 := validFile2(f)
	f.Add(data2, false)
	f.Add(data2, true)
	for _, n := range []int{2 * pageSize, len(data2) / 2, len(data2) - 1} {
		f.Add(data2[:n], false)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		data = bytes.Clone(data)
		if fix {
			fixCRC(data, 0)
			fixCRC(data, pageSize)
		}
		path := filepath.Join(fuzzDir(t), "fuzz.mem")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// Open and the operations run under a watchdog: a hang anywhere,
		// Open's recovery of the file's process slots included, fails
		// with every goroutine's stack.
		done := make(chan error, 1)
		go func() { done <- openAndExercise(path) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("Open or operations on the opened file hung:\n%s", buf[:runtime.Stack(buf, true)])
		}
	})
}

// fuzzDir is a new directory for one fuzz input, in /dev/shm where the
// machine has it: Close flushes the file, and on tmpfs that costs nothing,
// so the fuzzer runs several times more inputs than on a disk (3 to 4
// times with one worker: go test -fuzz FuzzOpen -fuzztime 3000x -parallel 1).
func fuzzDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "dsm-fuzz-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// openAndExercise opens path and, if Open accepts the file, exercises and
// closes it. A refusal must name a file problem.
func openAndExercise(path string) error {
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		for _, e := range fileErrors {
			if errors.Is(err, e) {
				return nil
			}
		}
		return fmt.Errorf("Open refused the file with an error that names no file problem: %w", err)
	}
	checked := m.Check()
	if err := exercise(m); err != nil && checked == nil {
		return fmt.Errorf("Check found nothing, then an operation met %w", err)
	}
	if _, remains := m.Repair(); remains != nil && !errors.Is(remains, shm.ErrDamaged) {
		return fmt.Errorf("Repair left damage it rebuilds: %w", remains)
	}
	if err := m.Close(); err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	return nil
}

// exercise calls every operation on m; results do not matter, only that
// each returns, except that it returns the first damage (ErrDamaged) an
// operation met.
func exercise(m *shm.Memory) error {
	var met error
	note := func(err error) {
		if met == nil && errors.Is(err, shm.ErrDamaged) {
			met = err
		}
	}
	names := [][]byte{b("x"), b("s"), b("new"), b("value")}
	for _, n := range names {
		_, _, err := m.Get(n)
		note(err)
		_, _, err = m.AppendText(nil, n)
		note(err)
	}
	_, err := m.Scan(0, func(name []byte, _ uint64) bool {
		_, _, err := m.Get(name)
		note(err)
		return true
	})
	note(err)
	_, err = m.MGet(names)
	note(err)
	m.Prefetch(names)
	m.Len()
	m.Stats()
	_, _, err = m.Add(b("s"), 1)
	note(err)
	_, _, err = m.CompareAndSwap(b("x"), shm.Int(42), shm.Bytes(b("y")))
	note(err)
	m.Set(b("x"), shm.Int(1))
	m.MSet(names[:2], []shm.Value{shm.Int(1), shm.Int(2)})
	m.Set(b("new"), shm.Bytes(b("v")))
	m.Set(b("a-name-that-needs-a-block"), shm.Bytes(bytes.Repeat(b("w"), 200)))
	m.Delete(b("s"), b("new"), b("a-name-that-needs-a-block"))
	return met
}

// TestOpenDamagedIndex: a file whose header is intact but whose index is
// damaged (every bucket taken by an entry that names no slot) must not hang
// the first creation of a variable: a full probe sequence with no free
// bucket has to end in an error or a rebuild. (Found by FuzzOpen; the
// input is kept in testdata/fuzz/FuzzOpen.)
func TestOpenDamagedIndex(t *testing.T) {
	data := validFile(t)
	le := binary.LittleEndian
	indexSize := le.Uint32(data[76:])
	indexOff := le.Uint64(data[96:])
	for i := uint64(0); i < 4*uint64(indexSize); i++ {
		data[indexOff+i] = 0xff
	}
	path := filepath.Join(t.TempDir(), "damaged.mem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Set(b("new"), shm.Int(1))
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("Set on a damaged index: %v; Check: %v", err, m.Check())
		m.Close()
	case <-time.After(5 * time.Second):
		// m stays open: the hung goroutine still uses the mapping.
		buf := make([]byte, 1<<16)
		t.Fatalf("Set on a file whose index has no free bucket hung:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// TestOpenNewerMetaWins: when both meta pages are valid, the one with the
// higher txid is used, whichever page it is in. The pages here differ in
// capacity (a smaller file than the one on disk, which is allowed), so the
// one in use shows in Stats.
func TestOpenNewerMetaWins(t *testing.T) {
	data := validFile(t)
	le := binary.LittleEndian
	orig := int(le.Uint32(data[32:]))
	fewer := func(page []byte) {
		le.PutUint64(page[24:], le.Uint64(page[24:])+1) // txid
		le.PutUint32(page[32:], 2)                      // vars
		// The layout fields follow from the capacities (shm/doc.go); the
		// smaller index still fits its page, so slotsOff stays.
		slotsOff := le.Uint64(page[104:])
		slotSize := uint64(le.Uint32(page[72:]))
		le.PutUint32(page[76:], 4) // index size: least power of two >= 2*vars
		le.PutUint64(page[112:], (slotsOff+2*slotSize+pageSize-1)/pageSize*pageSize)
	}
	for _, page := range []int{0, 1} {
		t.Run(fmt.Sprint("newer in page ", page), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m")
			if err := os.WriteFile(path, patchMeta(data, fewer, page), 0o600); err != nil {
				t.Fatal(err)
			}
			m := openMem(t, shm.Config{Path: path})
			if got := m.Stats().Capacity; got != 2 {
				t.Fatalf("Capacity = %d, want 2 (the newer meta's; the older says %d)", got, orig)
			}
		})
	}
}

// Files created with the same seed keep it, and so place the same writes
// in the same slots; without one each file gets its own.
func TestOpenSeed(t *testing.T) {
	dir := t.TempDir()
	open := func(name string, seed uint64) *shm.Memory {
		m, err := shm.Open(shm.Config{Path: filepath.Join(dir, name), Vars: 64, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	a, b := open("a", 42), open("b", 42)
	if a.Seed() != 42 || b.Seed() != 42 {
		t.Fatalf("seeds %d and %d, want 42", a.Seed(), b.Seed())
	}
	if r1, r2 := open("r1", 0), open("r2", 0); r1.Seed() == r2.Seed() {
		t.Errorf("two files without a seed share %d", r1.Seed())
	}
	a.Close()
	if again := open("a", 7); again.Seed() != 42 {
		t.Errorf("reopened file has seed %d, want its own 42", again.Seed())
	}
}
