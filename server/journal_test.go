package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dsm-dev/dsm/shm"
)

// frame encodes recs as journal frame seq.
func frame(seq uint64, recs ...shm.Record) []byte {
	b := make([]byte, journalFrameHeader)
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
	keep := journalTearUnit - len(seg)%journalTearUnit
	if keep >= len(fr) {
		panic("the frame does not reach past its tear unit")
	}
	seg = append(seg, fr[:keep]...)
	return append(seg, make([]byte, len(fr)-keep+4096)...)
}

// bigRecord is a record whose frame reaches past a tear unit.
func bigRecord(name string) shm.Record {
	return shm.Record{Name: []byte(name), Value: shm.Bytes(bytes.Repeat([]byte("t"), 2*journalTearUnit)), Version: 1}
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

// TestJournalEncoding round-trips records of every kind through frames, and
// checks that decoding stops at a torn or corrupt frame and says so.
func TestJournalEncoding(t *testing.T) {
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
	stop, last, err := decodeSegment("seg", data, 0, func(r shm.Record) { got = append(got, recString(r)) })
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
		stop, last, err := decodeSegment("seg", tc.data, 0, func(shm.Record) { n++ })
		if err != nil || stop != first || last != 1 || n != 2 {
			t.Errorf("%s: stopped at %d (want %d) after frame %d (want 1), %d records (want 2), err %v", tc.name, stop, first, last, n, err)
		}
	}
	if _, _, err := decodeSegment("seg", frame(1, recs[0]), 0, func(shm.Record) {}); !errors.Is(err, errJournalCorrupt) || !strings.Contains(err.Error(), "format 2") {
		t.Errorf("decode of a segment without its header: %v", err)
	}
}

func flipByte(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

// journalWant is what each key must hold after journalWrites ("" for
// missing).
var journalWant = map[string]string{
	"pre": "again", "doomed": "", "a": "1", "ctr": "5", "m1": "x", "m2": "y",
	"t1": "tx", "t2": "", "big": strings.Repeat("z", 200), "nx": "first",
}

// journalWrites makes acknowledged writes of every kind through go-redis.
func journalWrites(t *testing.T, ctx context.Context, rdb *redis.Client) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.Set(ctx, "a", "1", 0).Err())
	for range 4 {
		must(rdb.Incr(ctx, "ctr").Err())
	}
	must(rdb.MSet(ctx, "m1", "x", "m2", "y").Err())
	must(rdb.Del(ctx, "doomed").Err())
	// Delete and create again: the variable may move to another slot,
	// where its versions count afresh.
	must(rdb.Del(ctx, "pre").Err())
	must(rdb.Set(ctx, "pre", "again", 0).Err())
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "t1", "tx", 0)
		p.Set(ctx, "t2", "tx", 0)
		p.Del(ctx, "t2")
		p.Incr(ctx, "ctr")
		return nil
	})
	must(err)
	must(rdb.Set(ctx, "big", journalWant["big"], 0).Err())
	must(rdb.SetNX(ctx, "nx", "first", 0).Err())
	must(rdb.SetNX(ctx, "nx", "second", 0).Err())
}

// TestJournalReplay is the durability proof without a power cut. dsmd runs
// with -sync always; a copy of the memory file taken before the writes
// stands for the disk if nothing reached it afterwards; the journal
// segments taken once the writes are acknowledged stand for what the
// O_DSYNC writes made durable. dsmd is killed; a server started on the old
// copy with those segments holds every acknowledged write. With a torn
// frame after them (a write that was never acknowledged), the same.
func TestJournalReplay(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "dsm.mem")
			d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "1024", "-sync", "always")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rdb := newRedis(t, d.addr, 2, "")
			if err := rdb.MSet(ctx, "pre", "1", "doomed", "x").Err(); err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(t.TempDir(), "dsm.mem")
			copyFile(t, file, old)
			journalWrites(t, ctx, rdb)
			segs, _, err := journalSegments(file)
			if err != nil || len(segs) == 0 {
				t.Fatalf("no journal segment beside %s: %v", file, err)
			}
			for _, s := range segs {
				copyFile(t, s, filepath.Join(filepath.Dir(old), filepath.Base(s)))
			}
			d.kill()
			<-d.exited

			// The old copy has none of the writes: the journal must bring them.
			checkMem(t, old, map[string]string{"pre": "1", "doomed": "x", "a": "", "ctr": ""})
			oldSegs, _, _ := journalSegments(old)
			if torn {
				// After the last frame, the one a crash cut in the
				// middle of its write.
				last := oldSegs[len(oldSegs)-1]
				end, frames := frameEnd(t, last)
				data, err := os.ReadFile(last)
				if err != nil {
					t.Fatal(err)
				}
				data = tear(data[:end], frame(frames+1, bigRecord("a")))
				if err := os.WriteFile(last, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			logs := &lockedLog{}
			ts := startServer(t, Config{File: old, Sync: SyncInterval, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if !strings.Contains(logs.String(), "journal replayed") || (torn != strings.Contains(logs.String(), "torn frame")) {
				t.Errorf("logs do not tell of the replay (torn=%v):\n%s", torn, logs.String())
			}
			if left, _, _ := journalSegments(old); len(left) != 0 {
				t.Errorf("segments left after the replay: %v", left)
			}
			rdb2 := newRedis(t, ts.addr, 2, "")
			for k, want := range journalWant {
				got, err := rdb2.Get(ctx, k).Result()
				if want == "" {
					if err != redis.Nil {
						t.Errorf("%s = %q, %v; want missing", k, got, err)
					}
					continue
				}
				if err != nil || got != want {
					t.Errorf("%s = %.20q, %v; want %.20q", k, got, err, want)
				}
			}
		})
	}
}

// frameBytes returns where the whole frames of the segment end.
func frameBytes(t *testing.T, path string) int {
	t.Helper()
	end, _ := frameEnd(t, path)
	return end
}

// frameEnd returns where the whole frames of the segment end, and the
// number of the last one.
func frameEnd(t *testing.T, path string) (int, uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end, last, err := decodeSegment(path, data, 0, func(shm.Record) {})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return end, last
}

// copyFile copies src to dst, in the kernel where it can: a memory file
// read into a slice costs the race detector seconds.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// checkMem opens the memory file through shm and checks some values ("" for
// missing).
func checkMem(t *testing.T, file string, want map[string]string) {
	t.Helper()
	mem, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for k, w := range want {
		v, _, err := mem.Get([]byte(k))
		if got := v.String(); (w == "") != errors.Is(err, shm.ErrNotFound) || got != w {
			t.Errorf("%s in %s: %q, %v; want %q", k, filepath.Base(file), got, err, w)
		}
	}
}

// newMemFile creates a small memory file in a fresh directory, beside which
// a test lays journal segments, and returns its path.
func newMemFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dsm.mem")
	mem, err := shm.Open(shm.Config{Path: file, Vars: 16})
	if err != nil {
		t.Fatal(err)
	}
	mem.Close()
	return file
}

// TestJournalRefusesCorruptEarlierSegment: a bad frame in a segment that is
// not the last may hide acknowledged writes, so the server does not start.
func TestJournalRefusesCorruptEarlierSegment(t *testing.T) {
	file := newMemFile(t)
	rec := shm.Record{Name: []byte("a"), Value: shm.Int(1), Version: 1}
	bad := frame(1, rec)
	os.WriteFile(segmentPath(file, 1), segment(flipByte(bad, len(bad)-8)), 0o600)
	os.WriteFile(segmentPath(file, 2), segment(frame(2, rec)), 0o600)
	_, err := New(Config{File: file, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, errJournalCorrupt) || !strings.Contains(err.Error(), "valid frame follows in "+segmentPath(file, 2)) {
		t.Fatalf("New with a corrupt first segment: %v", err)
	}
	if left, _, _ := journalSegments(file); len(left) != 2 {
		t.Errorf("segments after the refusal: %v; want both kept", left)
	}
}

// TestJournalTornBeforeEmptySegment: a checkpoint creates the next
// segment, zeros only, before writes move to it; a power cut then can
// leave a torn frame at the end of the segment before it. That is the torn
// last write: the start replays the whole frames and goes on.
func TestJournalTornBeforeEmptySegment(t *testing.T) {
	file := newMemFile(t)
	seg := append(slices.Clone(segmentMagic), frame(1, shm.Record{Name: []byte("a"), Value: shm.Int(7), Version: 1})...)
	os.WriteFile(segmentPath(file, 1), tear(seg, frame(2, bigRecord("b"))), 0o600)
	os.WriteFile(segmentPath(file, 2), segment(), 0o600)
	logs := &lockedLog{}
	ts := startServer(t, Config{File: file, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if !strings.Contains(logs.String(), "torn frame") {
		t.Errorf("logs do not tell of the torn frame:\n%s", logs.String())
	}
	c := dialRaw(t, ts.addr)
	if got := c.do("GET", "a"); got != bulk("7") {
		t.Errorf("GET a = %q, want the replayed 7", got)
	}
	if got := c.do("GET", "b"); got != null2 {
		t.Errorf("GET b = %q, want nil: its frame was torn", got)
	}
}

// TestJournalCheckpoint checks the life of the segments: a checkpoint
// moves to a new segment and deletes the old one once the mapping is
// flushed; a clean stop deletes them all; writes stay readable.
func TestJournalCheckpoint(t *testing.T) {
	ts := startServer(t, Config{Sync: SyncAlways})
	file := ts.cfg.File
	c := dialRaw(t, ts.addr)
	c.do("SET", "a", "1")
	segs, seqs, _ := journalSegments(file)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	if n := frameBytes(t, segs[0]); n <= journalSegmentHeader {
		t.Fatalf("segment has no frame after an acknowledged SET")
	}
	if ts.journal.checkpointDue(time.Now()) {
		t.Error("a checkpoint is due at once")
	}
	if !ts.journal.checkpointDue(time.Now().Add(journalCheckpointPeriod)) {
		t.Error("a checkpoint is not due a period later")
	}
	if err := ts.journal.checkpoint(ts.mem.Sync); err != nil {
		t.Fatal(err)
	}
	if ts.journal.checkpointDue(time.Now()) {
		t.Error("a checkpoint is due just after one")
	}
	after, seqs2, _ := journalSegments(file)
	if len(after) != 1 || seqs2[0] != seqs[0]+1 {
		t.Fatalf("segments after a checkpoint: %v (before %v)", after, segs)
	}
	c.do("SET", "a", "2")
	if n := frameBytes(t, after[0]); n <= journalSegmentHeader {
		t.Fatalf("new segment has no frame after a SET")
	}
	if got := c.do("GET", "a"); got != bulk("2") {
		t.Fatalf("GET a = %q", got)
	}
	ts.stop(t)
	if left, _, _ := journalSegments(file); len(left) != 0 {
		t.Errorf("segments after a clean stop: %v", left)
	}
}

// TestJournalWriteFailureStopsServer breaks the journal under a load of
// acknowledged SETs: the server stops as on any storage failure, sends no
// reply it could not make durable, and every acknowledged write is kept.
func TestJournalWriteFailureStopsServer(t *testing.T) {
	s, file, addr, served := faultServer(t, Config{Sync: SyncAlways})
	ackers, err := loadAndBreak(t, s, addr, served, func() {
		s.journal.mu.Lock()
		s.journal.f.Close() // the next write fails
		s.journal.mu.Unlock()
	})
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "journal") {
		t.Fatalf("Serve returned %v, want ErrStorage from the journal", err)
	}
	checkAcked(t, file, ackers)
}

// TestJournalFlushDuringFill pauses preallocate's zero fill after its first
// write: a durable SET whose frame fits in the zeros already there is
// acknowledged meanwhile, one whose frame reaches past them waits for the
// fill, and no zero lands on a frame.
func TestJournalFlushDuringFill(t *testing.T) {
	ts := startServer(t, Config{Sync: SyncAlways})
	j := ts.journal
	c := dialRaw(t, ts.addr)
	c.do("SET", "a", "0")

	// pauseFill makes preallocate due, with room left past the frames for
	// a short frame, and starts it; it returns once the fill has made its
	// first write and waits, and a function that lets it finish. It moves
	// alloc back, which is safe only with no flush running: every SET
	// before it has been answered.
	pauseFill := func(room int64) (release func()) {
		paused, resume, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		var once sync.Once
		j.fillMu.Lock()
		j.filled = func() { once.Do(func() { close(paused); <-resume }) }
		j.fillMu.Unlock()
		j.mu.Lock()
		j.alloc = j.size + room
		j.mu.Unlock()
		go func() { done <- j.preallocate() }()
		select {
		case <-paused:
		case <-time.After(10 * time.Second):
			t.Fatal("preallocate did not start filling")
		}
		return func() {
			close(resume)
			if err := <-done; err != nil {
				t.Errorf("preallocate: %v", err)
			}
		}
	}
	// set sends SET key value and returns its reply, or the error.
	rdb := newRedis(t, ts.addr, 2, "")
	set := func(key, value string) <-chan string {
		reply := make(chan string, 1)
		go func() {
			got, err := rdb.Set(context.Background(), key, value, 0).Result()
			if err != nil {
				got = err.Error()
			}
			reply <- got
		}()
		return reply
	}

	release := pauseFill(journalChunk/2 - 1)
	select {
	case got := <-set("b", "1"):
		if got != "OK" {
			t.Errorf("SET b during the fill = %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("a durable SET with room in the zeros waited for the fill")
	}
	release()
	j.mu.Lock()
	size, alloc := j.size, j.alloc
	j.mu.Unlock()
	if alloc < size+journalChunk {
		t.Errorf("after the fill, zeros end at %d, frames at %d", alloc, size)
	}

	release = pauseFill(4) // less than any frame
	reply := set("c", "2")
	select {
	case got := <-reply:
		t.Errorf("a SET whose frame reaches past the zeros did not wait for the fill: %q", got)
		release()
	case <-time.After(200 * time.Millisecond):
		release()
		if got := <-reply; got != "OK" {
			t.Errorf("SET c after the fill = %q", got)
		}
	}

	j.mu.Lock()
	path, size := j.f.Name(), j.size
	j.mu.Unlock()
	if got := frameBytes(t, path); int64(got) != size {
		t.Errorf("segment holds %d bytes of whole frames, the journal wrote %d", got, size)
	}
	for k, v := range map[string]string{"a": "0", "b": "1", "c": "2"} {
		if got := c.do("GET", k); got != bulk(v) {
			t.Errorf("GET %s = %q, want %q", k, got, v)
		}
	}
}

// TestJournalDamageEachByte is the case: 300 SETs acknowledged
// under -sync always, each in a frame of its own, the memory file as it
// was before them (as a power loss may leave it), and one byte of the
// segment damaged. For each byte of the first, a middle and the last
// frame in turn, the start refuses, naming the segment and the damaged
// frame, and keeps the segment; for a byte of the zeros after the last
// frame, where the next header would go or further, it starts with every
// acknowledged write.
func TestJournalDamageEachByte(t *testing.T) {
	const writes = 300
	ts := startServer(t, Config{Vars: 512, Sync: SyncAlways})
	before := filepath.Join(t.TempDir(), "before.mem")
	copyFile(t, ts.cfg.File, before)
	c := dialRaw(t, ts.addr)
	for i := range writes {
		if got := c.do("SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)); got != "+OK\r\n" {
			t.Fatalf("SET k%d: %q", i, got)
		}
	}
	segs, _, err := journalSegments(ts.cfg.File)
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments: %v, %v", segs, err)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	var starts []int
	off := journalSegmentHeader
	for seq := uint64(1); ; seq++ {
		got, _, next, ok := frameAt(data, off)
		if !ok {
			break
		}
		if got != seq {
			t.Fatalf("frame at byte %d is numbered %d, want %d (a checkpoint came between the SETs?)", off, got, seq)
		}
		starts, off = append(starts, off), next
	}
	if len(starts) != writes {
		t.Fatalf("%d frames for %d SETs", len(starts), writes)
	}
	data = data[:off+4096] // the zeros after the frames, enough of them
	starts = append(starts, off)

	dir := t.TempDir()
	file, seg := filepath.Join(dir, "dsm.mem"), segmentPath(filepath.Join(dir, "dsm.mem"), 1)
	// start lays the memory file and the segment with the byte at pos
	// damaged, replays, and reports the refusal, or checks every write.
	start := func(pos int) error {
		t.Helper()
		copyFile(t, before, file)
		if err := os.WriteFile(seg, flipByte(data, pos), 0o600); err != nil {
			t.Fatal(err)
		}
		mem, err := shm.Open(shm.Config{Path: file})
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		if _, _, err := replayJournal(mem, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
		for i := range writes {
			if v, _, err := mem.Get(fmt.Appendf(nil, "k%d", i)); err != nil || v.String() != fmt.Sprintf("v%d", i) {
				t.Errorf("byte %d damaged: the start went on with k%d = %q, %v: an acknowledged write is lost", pos, i, v.String(), err)
				break
			}
		}
		return nil
	}
	for _, i := range []int{0, writes / 2, writes - 1} {
		for pos := starts[i]; pos < starts[i+1]; pos++ {
			err := start(pos)
			where := fmt.Sprintf("%s at byte %d", seg, starts[i])
			if !errors.Is(err, errJournalCorrupt) || !strings.Contains(err.Error(), where) {
				t.Errorf("byte %d of frame %d damaged: start returned %v; want a refusal naming %s", pos, i+1, err, where)
			}
			if kept, err := os.ReadFile(seg); err != nil || !bytes.Equal(kept, flipByte(data, pos)) {
				t.Errorf("byte %d of frame %d damaged: the segment was not kept as it was (%v)", pos, i+1, err)
			}
		}
	}
	// Where the next frame's header would go, and some way into the zeros.
	zeros := []int{}
	for pos := off; pos < off+journalFrameHeader+4; pos++ {
		zeros = append(zeros, pos)
	}
	for _, pos := range append(zeros, off+100, off+journalTearUnit, off+2000) {
		if err := start(pos); err != nil {
			t.Errorf("byte %d, in the zeros after the frames, damaged: start returned %v", pos, err)
		}
	}
}

// TestJournalSegmentGoneStopsServer deletes, or replaces, the segment in
// use: the next write is not acknowledged, and the server stops as on a
// truncated memory file, saying why.
func TestJournalSegmentGoneStopsServer(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			s, _, addr, served := faultServer(t, Config{Sync: SyncAlways})
			c := dialRaw(t, addr)
			if got := c.do("SET", "a", "1"); got != "+OK\r\n" {
				t.Fatalf("SET a: %q", got)
			}
			s.journal.mu.Lock()
			seg := s.journal.f.Name()
			s.journal.mu.Unlock()
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
			if how == "replaced" {
				if err := os.WriteFile(seg, segment(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c.send(encode("SET", "b", "2"))
			if got, closed := c.closed(10 * time.Second); !closed || got != "" {
				t.Errorf("SET b after the segment was %s: got %q, closed %v; want no reply and the connection closed", how, got, closed)
			}
			select {
			case err := <-served:
				if !errors.Is(err, ErrStorage) || !errors.Is(err, errSegmentGone) || !strings.Contains(err.Error(), seg) {
					t.Errorf("Serve returned %v, want ErrStorage naming %s", err, seg)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server kept serving")
			}
		})
	}
}
