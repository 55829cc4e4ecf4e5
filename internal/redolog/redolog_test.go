package redolog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/filetest"
	"github.com/dsm-dev/dsm/shm"
)

// frame encodes recs as frame seq.
func frame(seq uint64, recs ...shm.Record) []byte {
	b := make([]byte, frameHeader)
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return sealFrame(b, seq)
}

// segment lays out a segment holding frames, and zeros after them.
func segment(frames ...[]byte) []byte {
	b := slices.Clone(segmentMagic)
	for _, f := range frames {
		b = append(b, f...)
	}
	return append(b, make([]byte, 4096)...)
}

// tear appends to seg, a segment's frames, what a crash in the middle of
// writing fr leaves: fr up to the end of the tear unit it starts in, zeros
// after; fr must reach past that unit.
func tear(seg, fr []byte) []byte {
	keep := tearUnit - len(seg)%tearUnit
	if keep >= len(fr) {
		panic("the frame does not reach past its tear unit")
	}
	seg = append(seg, fr[:keep]...)
	return append(seg, make([]byte, len(fr)-keep+4096)...)
}

// bigRecord is a record whose frame reaches past a tear unit.
func bigRecord(name string) shm.Record {
	return shm.Record{Name: []byte(name), Value: shm.Bytes(bytes.Repeat([]byte("t"), 2*tearUnit)), Version: 1}
}

func flipByte(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

// recString prints a record for comparisons.
func recString(r shm.Record) string {
	kind := "none"
	switch {
	case r.Value.IsInt():
		kind = "int"
	case r.Value.Valid():
		kind = "bytes"
	}
	return fmt.Sprintf("%s %s:%s v%d s%d i%d del=%v", r.Name, kind, r.Value, r.Version, r.Slot, r.Inc, r.Deleted)
}

// newMemFile creates a memory file in a fresh directory, beside which a
// test lays segments, and returns its path.
func newMemFile(t *testing.T, vars int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dsm.mem")
	mem, err := shm.Open(shm.Config{Path: file, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	mem.Close()
	return file
}

// openMem opens the memory file; the test closes it.
func openMem(t *testing.T, file string) *shm.Memory {
	t.Helper()
	mem, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	return mem
}

// frameEnd returns where the whole frames of the segment end, and the
// number of the last one.
func frameEnd(t *testing.T, path string) (int, uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end, last, err := decodeSegment(path, data, 0, true, func(shm.Record) {})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return end, last
}

var discard = slog.New(slog.DiscardHandler)

// TestEncoding round-trips records of every kind through frames, and
// checks where decoding stops at a frame cut short or damaged.
func TestRedoEncoding(t *testing.T) {
	recs := []shm.Record{
		{Name: []byte("a"), Value: shm.Int(-42), Version: 7, Slot: 3, Inc: 1},
		{Name: []byte("b"), Value: shm.Bytes([]byte("hello\x00world")), Version: 1 << 40, Slot: 1 << 20, Inc: 1<<31 - 1},
		{Name: []byte("b2"), Value: shm.Bytes([]byte("42")), Version: 2, Slot: 0, Inc: 5},
		{Name: []byte("c"), Version: 9, Slot: 2, Inc: 3, Deleted: true},
		{Name: []byte("d"), Version: 4, Slot: 4, Inc: 1}, // no value (a group's delete)
		{Name: bytes.Repeat([]byte("n"), 300), Value: shm.Bytes(bytes.Repeat([]byte("v"), 5000)), Version: 1},
	}
	data := append(slices.Clone(segmentMagic), frame(1, recs[:2]...)...)
	first := len(data)
	data = append(data, frame(2, recs[2:]...)...)
	var got []string
	stop, last, err := decodeSegment("seg", data, 0, true, func(r shm.Record) { got = append(got, recString(r)) })
	if err != nil || stop != len(data) || last != 2 {
		t.Fatalf("decode: stopped at %d of %d bytes after frame %d, %v", stop, len(data), last, err)
	}
	var want []string
	for _, r := range recs {
		want = append(want, recString(r))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %q\nwant %q", got, want)
	}

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"cut header", data[:first+5]},
		{"cut payload", data[:len(data)-1]},
		{"bad checksum", flipByte(data, len(data)-3)},
		{"bad length", flipByte(data, first+5)},
		{"bad number", flipByte(data, first+8)},
		{"zeros", append(data[:first:first], make([]byte, 100)...)},
	} {
		n := 0
		stop, last, err := decodeSegment("seg", tc.data, 0, true, func(shm.Record) { n++ })
		if err != nil || stop != first || last != 1 || n != 2 {
			t.Errorf("%s: stopped at %d (want %d) after frame %d (want 1), %d records (want 2), err %v", tc.name, stop, first, last, n, err)
		}
	}
	if _, _, err := decodeSegment("seg", frame(1, recs[0]), 0, true, func(shm.Record) {}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 2") {
		t.Errorf("decode of a segment without its header: %v", err)
	}
}

// TestRefusesCorruptEarlierSegment: a bad frame in a segment that is not
// the last may hide acknowledged writes, so Replay refuses and keeps both.
func TestRedoRefusesCorruptEarlierSegment(t *testing.T) {
	file := newMemFile(t, 16)
	rec := shm.Record{Name: []byte("a"), Value: shm.Int(1), Version: 1}
	bad := frame(1, rec)
	os.WriteFile(segmentPath(file, 1), segment(flipByte(bad, len(bad)-8)), 0o600)
	os.WriteFile(segmentPath(file, 2), segment(frame(2, rec)), 0o600)
	_, err := Replay(openMem(t, file), discard)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "valid frame follows in "+segmentPath(file, 2)) {
		t.Fatalf("Replay with a corrupt first segment: %v", err)
	}
	if left, _, _ := Segments(file); len(left) != 2 {
		t.Errorf("segments after the refusal: %v; want both kept", left)
	}
}

// TestTornBeforeEmptySegment: a checkpoint creates the next segment, zeros
// only, before writes move to it; a power cut then can leave a torn frame
// at the end of the segment before it. That is the torn last write: the
// replay applies the whole frames and goes on.
func TestRedoTornBeforeEmptySegment(t *testing.T) {
	file := newMemFile(t, 16)
	seg := append(slices.Clone(segmentMagic), frame(1, shm.Record{Name: []byte("a"), Value: shm.Int(7), Version: 1})...)
	os.WriteFile(segmentPath(file, 1), tear(seg, frame(2, bigRecord("b"))), 0o600)
	os.WriteFile(segmentPath(file, 2), segment(), 0o600)
	mem := openMem(t, file)
	end, err := Replay(mem, discard)
	if err != nil || end != (End{Segment: 2, Frame: 1}) {
		t.Fatalf("Replay: %+v, %v", end, err)
	}
	if v, _, err := mem.Get([]byte("a")); err != nil || v.String() != "7" {
		t.Errorf("a = %q, %v; want the replayed 7", v.String(), err)
	}
	if _, _, err := mem.Get([]byte("b")); !errors.Is(err, shm.ErrNotFound) {
		t.Errorf("b: %v; want missing: its frame was torn", err)
	}
}

// TestTornTailIsCut: the torn last write is cut off its segment, durably,
// before anything is applied, so that a start after a failed one does not
// meet it with frames after it.
func TestRedoTornTailIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	seg := append(slices.Clone(segmentMagic), frame(1, shm.Record{Name: []byte("a"), Value: shm.Int(7), Version: 1})...)
	data := tear(slices.Clone(seg), frame(2, bigRecord("b")))
	os.WriteFile(path, data, 0o600)
	stop, last, err := decodeSegment(path, data, 0, true, func(shm.Record) {})
	if err != nil || stop != len(seg) || last != 1 {
		t.Fatalf("decode: %d, %d, %v", stop, last, err)
	}
	torn, err := judgeStop(path, data, stop, last, nil)
	if err != nil || !torn {
		t.Fatalf("judgeStop: torn %v, %v", torn, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, seg) {
		t.Errorf("after the cut the segment holds %d bytes, want its %d bytes of whole frames", len(got), len(seg))
	}
}

// logWrites opens a redo log on a fresh memory file and makes n SETs
// through it, each made durable before the next, as a daemon's connection
// does. It returns the memory file, a copy of it taken before the writes
// (what a power loss may leave) and the segment's bytes.
func logWrites(t *testing.T, n int) (file, before string, data []byte) {
	t.Helper()
	file = newMemFile(t, 512)
	before = filepath.Join(t.TempDir(), "before.mem")
	filetest.Copy(t, file, before)
	mem := openMem(t, file)
	l, err := Open(mem, End{})
	if err != nil {
		t.Fatal(err)
	}
	mem.SetRedoLog(l)
	for i := range n {
		if _, err := mem.Set(fmt.Appendf(nil, "k%d", i), shm.Bytes(fmt.Appendf(nil, "v%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := l.Barrier(); err != nil {
			t.Fatal(err)
		}
	}
	data, err = os.ReadFile(segmentPath(file, 1))
	if err != nil {
		t.Fatal(err)
	}
	mem.SetRedoLog(nil)
	if err := mem.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return file, before, data
}

// TestDamageEachByte is the case: 300 writes made durable one by
// one, each in a frame of its own, the memory file as it was before them,
// and one byte of the segment damaged. For each byte of the first, a
// middle and the last frame in turn, Replay refuses, naming the segment
// and the damaged frame, and keeps the segment as it was; for a byte of
// the zeros after the last frame, where the next header would go or
// further, it applies every write. A torn frame after the last one is cut
// off, and every write applied.
func TestRedoDamageEachByte(t *testing.T) {
	const writes = 300
	_, before, data := logWrites(t, writes)
	var starts []int
	off := segmentHeader
	for seq := uint64(1); ; seq++ {
		got, _, next, ok := frameAt(data, off)
		if !ok {
			break
		}
		if got != seq {
			t.Fatalf("frame at byte %d is numbered %d, want %d", off, got, seq)
		}
		starts, off = append(starts, off), next
	}
	if len(starts) != writes {
		t.Fatalf("%d frames for %d writes", len(starts), writes)
	}
	data = data[:off+4096] // the zeros after the frames, enough of them
	starts = append(starts, off)

	dir := t.TempDir()
	file := filepath.Join(dir, "dsm.mem")
	seg := segmentPath(file, 1)
	// replay lays the memory file and the segment, replays, and returns
	// the refusal, or checks every write.
	replay := func(what string, segData []byte) error {
		t.Helper()
		filetest.Copy(t, before, file)
		if err := os.WriteFile(seg, segData, 0o600); err != nil {
			t.Fatal(err)
		}
		mem, err := shm.Open(shm.Config{Path: file})
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		if _, err := Replay(mem, discard); err != nil {
			return err
		}
		for i := range writes {
			if v, _, err := mem.Get(fmt.Appendf(nil, "k%d", i)); err != nil || v.String() != fmt.Sprintf("v%d", i) {
				t.Errorf("%s: the replay went on with k%d = %q, %v: an acknowledged write is lost", what, i, v.String(), err)
				break
			}
		}
		return nil
	}
	for _, i := range []int{0, writes / 2, writes - 1} {
		for pos := starts[i]; pos < starts[i+1]; pos++ {
			err := replay(fmt.Sprintf("byte %d damaged", pos), flipByte(data, pos))
			where := fmt.Sprintf("%s at byte %d", seg, starts[i])
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), where) {
				t.Errorf("byte %d of frame %d damaged: Replay returned %v; want a refusal naming %s", pos, i+1, err, where)
			}
			if kept, err := os.ReadFile(seg); err != nil || !bytes.Equal(kept, flipByte(data, pos)) {
				t.Errorf("byte %d of frame %d damaged: the segment was not kept as it was (%v)", pos, i+1, err)
			}
		}
	}
	zeros := []int{}
	for pos := off; pos < off+frameHeader+4; pos++ {
		zeros = append(zeros, pos)
	}
	for _, pos := range append(zeros, off+100, off+tearUnit, off+2000) {
		if err := replay(fmt.Sprintf("byte %d, in the zeros, damaged", pos), flipByte(data, pos)); err != nil {
			t.Errorf("byte %d, in the zeros after the frames, damaged: Replay returned %v", pos, err)
		}
	}
	if err := replay("a torn frame after the last", tear(slices.Clone(data[:off]), frame(writes+1, bigRecord("k0")))); err != nil {
		t.Errorf("a torn frame after the last: Replay returned %v", err)
	}
}

// TestCheckpoint checks the life of the segments: a checkpoint moves to a
// new segment and deletes the old one once the mapping is flushed; Close
// deletes them all.
func TestRedoCheckpoint(t *testing.T) {
	file := newMemFile(t, 16)
	mem := openMem(t, file)
	l, err := Open(mem, End{Segment: 4, Frame: 9})
	if err != nil {
		t.Fatal(err)
	}
	mem.SetRedoLog(l)
	write := func(v int64) {
		t.Helper()
		if _, err := mem.Set([]byte("a"), shm.Int(v)); err != nil {
			t.Fatal(err)
		}
		if err := l.Barrier(); err != nil {
			t.Fatal(err)
		}
	}
	write(1)
	segs, seqs, _ := Segments(file)
	if len(segs) != 1 || seqs[0] != 5 {
		t.Fatalf("segments: %v", segs)
	}
	if n, last := frameEnd(t, segs[0]); n <= segmentHeader || last != 10 {
		t.Fatalf("segment ends at %d after frame %d, after one durable write", n, last)
	}
	if l.CheckpointDue(time.Now()) {
		t.Error("a checkpoint is due at once")
	}
	if !l.CheckpointDue(time.Now().Add(checkpointPeriod)) {
		t.Error("a checkpoint is not due a period later")
	}
	if err := l.Checkpoint(mem.Sync); err != nil {
		t.Fatal(err)
	}
	if l.CheckpointDue(time.Now()) {
		t.Error("a checkpoint is due just after one")
	}
	after, seqs2, _ := Segments(file)
	if len(after) != 1 || seqs2[0] != 6 {
		t.Fatalf("segments after a checkpoint: %v (before %v)", after, segs)
	}
	write(2)
	if n, last := frameEnd(t, after[0]); n <= segmentHeader || last != 11 {
		t.Fatalf("new segment ends at %d after frame %d, after a durable write", n, last)
	}
	mem.SetRedoLog(nil)
	if err := mem.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _, _ := Segments(file); len(left) != 0 {
		t.Errorf("segments after Close: %v", left)
	}
	if err := l.Barrier(); !errors.Is(err, ErrClosed) {
		t.Errorf("Barrier after Close: %v", err)
	}
}

// TestFlushDuringFill pauses Preallocate's zero fill after its first
// write: a barrier whose frame fits in the zeros already there returns
// meanwhile, one whose frame reaches past them waits for the fill, and no
// zero lands on a frame.
func TestRedoFlushDuringFill(t *testing.T) {
	file := newMemFile(t, 16)
	mem := openMem(t, file)
	l, err := Open(mem, End{})
	if err != nil {
		t.Fatal(err)
	}
	mem.SetRedoLog(l)
	t.Cleanup(func() { mem.SetRedoLog(nil); mem.Sync(); l.Close() })
	// set writes key and returns the barrier's result once it comes.
	set := func(key string, v int64) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := mem.Set([]byte(key), shm.Int(v))
			if err == nil {
				err = l.Barrier()
			}
			done <- err
		}()
		return done
	}
	if err := <-set("a", 0); err != nil {
		t.Fatal(err)
	}

	// pauseFill makes Preallocate due, with room left past the frames for
	// a short frame, and starts it; it returns once the fill has made its
	// first write and waits, and a function that lets it finish. It moves
	// alloc back, which is safe only with no flush running.
	pauseFill := func(room int64) (release func()) {
		paused, resume, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		var once sync.Once
		l.fillMu.Lock()
		l.filled = func() { once.Do(func() { close(paused); <-resume }) }
		l.fillMu.Unlock()
		l.mu.Lock()
		l.alloc = l.size + room
		l.mu.Unlock()
		go func() { done <- l.Preallocate() }()
		select {
		case <-paused:
		case <-time.After(10 * time.Second):
			t.Fatal("Preallocate did not start filling")
		}
		return func() {
			close(resume)
			if err := <-done; err != nil {
				t.Errorf("Preallocate: %v", err)
			}
		}
	}

	release := pauseFill(chunk/2 - 1)
	select {
	case err := <-set("b", 1):
		if err != nil {
			t.Errorf("barrier during the fill: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a barrier with room in the zeros waited for the fill")
	}
	release()
	l.mu.Lock()
	size, alloc := l.size, l.alloc
	l.mu.Unlock()
	if alloc < size+chunk {
		t.Errorf("after the fill, zeros end at %d, frames at %d", alloc, size)
	}

	release = pauseFill(4) // less than any frame
	done := set("c", 2)
	select {
	case err := <-done:
		t.Errorf("a barrier whose frame reaches past the zeros did not wait for the fill: %v", err)
		release()
	case <-time.After(200 * time.Millisecond):
		release()
		if err := <-done; err != nil {
			t.Errorf("barrier after the fill: %v", err)
		}
	}

	l.mu.Lock()
	path, size := l.f.Name(), l.size
	l.mu.Unlock()
	if got, last := frameEnd(t, path); int64(got) != size || last != 3 {
		t.Errorf("segment holds whole frames to byte %d, up to frame %d; the log wrote %d bytes, 3 frames", got, last, size)
	}
}

// TestRedoDamagedMagicIsNoTear: the last frame, whole but for two bytes of
// its magic, is damage to an acknowledged write, not a tear (a tear leaves
// zeros): Replay refuses rather than cut it off and lose it.
func TestRedoDamagedMagicIsNoTear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	seg := append(slices.Clone(segmentMagic), frame(1, shm.Record{Name: []byte("a"), Value: shm.Int(7), Version: 1})...)
	stop := len(seg)
	data := segment(seg[segmentHeader:], frame(2, shm.Record{Name: []byte("b"), Value: shm.Int(8), Version: 1}))
	data[stop] ^= 0x40
	data[stop+1] ^= 0x40
	os.WriteFile(path, data, 0o600)
	got, last, err := decodeSegment(path, data, 0, true, func(shm.Record) {})
	if err != nil || got != stop || last != 1 {
		t.Fatalf("decode: %d, %d, %v", got, last, err)
	}
	torn, err := judgeStop(path, data, stop, last, nil)
	if torn || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("judgeStop: torn %v, %v; want a refusal", torn, err)
	}
	if kept, _ := os.ReadFile(path); !bytes.Equal(kept, data) {
		t.Errorf("the segment was cut: %d bytes left of %d", len(kept), len(data))
	}
}

// TestRedoRefusesGapBetweenSegments: the last frames of a segment that is
// not the last became zeros (a damaged disk), and the next segment goes on
// after them. A checkpoint never leaves such a gap, so Replay refuses
// rather than take the zeros for the end and lose those frames' writes.
func TestRedoRefusesGapBetweenSegments(t *testing.T) {
	file := newMemFile(t, 16)
	rec := func(name string, v int64) shm.Record {
		return shm.Record{Name: []byte(name), Value: shm.Int(v), Version: uint64(v)}
	}
	os.WriteFile(segmentPath(file, 1), segment(frame(1, rec("a", 1))), 0o600) // frame 2 lost
	os.WriteFile(segmentPath(file, 2), segment(frame(3, rec("c", 3))), 0o600)
	_, err := Replay(openMem(t, file), discard)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), segmentPath(file, 2)) {
		t.Fatalf("Replay with frame 2 missing between segments: %v; want a refusal naming %s", err, segmentPath(file, 2))
	}
	if left, _, _ := Segments(file); len(left) != 2 {
		t.Errorf("segments after the refusal: %v; want both kept", left)
	}
}

// TestRedoTornFrameHoldingAFrame: the torn last write carried a value that
// holds the bytes of a valid frame numbered after it (a client may store
// any bytes, a copy of a segment among them). Those bytes lie inside the
// torn frame, where no frame of the log can be: the tear is still cut,
// not refused as a damaged frame with a valid one after it.
func TestRedoTornFrameHoldingAFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	seg := append(slices.Clone(segmentMagic), frame(1, shm.Record{Name: []byte("a"), Value: shm.Int(7), Version: 1})...)
	inner := frame(1<<62, shm.Record{Name: []byte("x"), Value: shm.Int(1), Version: 1})
	val := append(slices.Clone(inner), bytes.Repeat([]byte("t"), 2*tearUnit)...)
	data := tear(slices.Clone(seg), frame(2, shm.Record{Name: []byte("b"), Value: shm.Bytes(val), Version: 1}))
	if !bytes.Contains(data, inner) {
		t.Fatal("the tear did not keep the frame inside the value")
	}
	os.WriteFile(path, data, 0o600)
	stop, last, err := decodeSegment(path, data, 0, true, func(shm.Record) {})
	if err != nil || stop != len(seg) || last != 1 {
		t.Fatalf("decode: %d, %d, %v", stop, last, err)
	}
	torn, err := judgeStop(path, data, stop, last, nil)
	if err != nil || !torn {
		t.Fatalf("judgeStop: torn %v, %v; want the torn last write cut", torn, err)
	}
}
