package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/groupcommit"
	"github.com/dsm-dev/dsm/shm"
)

// The redo log of -sync always. Flushing the mapping for every batch of
// writes costs one random page write per variable written; the journal
// instead appends the batch's records to a segment file beside the memory
// file and makes them durable with one synchronous write (O_DSYNC), and
// the mapping is flushed only at checkpoints. shm calls journal.Append for
// every write the daemon makes (see shm.Journal); a batch's replies wait
// for barrier.
//
// Segment files are named <memory file>.journal.<n>, n increasing. This is
// format 2 of the segments; format 1 (before frames carried a sequence
// number) is refused at start with an error naming the file: a clean stop
// deletes every segment, so only a crash of an older dsmd leaves one, and
// that dsmd must replay it. A segment begins with 8 bytes, "dsmredo" and
// the format number 2, followed by frames and then zeros (see preallocate).
// A frame is:
//
//	u32 magic (the bytes d5 52 65 44), u32 payload length n, u64 sequence
//	number, u32 header check: CRC-32C of the 16 bytes before it
//	n bytes of payload: the records of one or more Append calls
//	u32 payload check: CRC-32C of the payload, continued from the header's
//
// all little-endian; each check has the top bit of each of its bytes set,
// so that it, like the magic, holds no zero byte. Sequence numbers rise by
// one from frame to frame, across segments and across starts. A record is:
// u8 flags (1 = deleted), u64 version, u32 slot, u32 incarnation, u16 name
// length, the name, u8 kind (0 no value, 1 integer, 2 bytes), u32 value
// length, the value (an integer as 8 bytes little-endian).
//
// Replay tells a torn last write from corruption. A frame is acknowledged
// only once its O_DSYNC write returned, and frames are written one at a
// time, so only the last frame can be torn; and a tear leaves what it did
// not write as it was, zeros, in whole 512-byte blocks at the least (a
// power loss loses whole sectors, a kill -9 stops a write between pages),
// or past the end of the file. So a damaged frame is corruption, and the
// start is refused, when any valid frame with a later sequence number lies
// after it, in its segment or a later one; or when its damage is not such
// a tear: its header is whole but for one byte, or every 512-byte block of
// it holds a byte that is not zero. Otherwise it is the torn last write,
// never acknowledged: the frames before it are replayed and the segment is
// cut there. Damage past the last frame, in the zeros, loses nothing and
// is ignored. One limit: a last frame whose payload has 512 zero bytes
// filling a block, damaged elsewhere, is taken for a tear.
//
// Checkpoint: when the segment passes journalSegmentMax, or
// journalCheckpointPeriod after the last checkpoint, a new segment is
// opened and the next flush switches to it; then the mapping is flushed
// (msync), which covers every change recorded in the old segment (each
// change was in the mapping before its record was appended, so before the
// switch), and the old segment is deleted. At a clean stop the mapping is
// flushed and every segment deleted. At start (replayJournal), whatever
// the sync mode, the segments left by a crash are replayed into the
// mapping, which is then flushed, and deleted.

// Journal tuning.
const (
	journalSegmentMax       = 64 << 20
	journalCheckpointPeriod = 10 * time.Second
	journalSegmentHeader    = 8                         // "dsmredo" and the format number
	journalFrameHeader      = 20                        // magic, length, sequence number, header check
	journalFrameTrailer     = 4                         // payload check
	journalRecordFixed      = 1 + 8 + 4 + 4 + 2 + 1 + 4 // a record without its name and value
	journalSuffix           = ".journal."
	// journalTearUnit is the smallest piece a write is torn into: a disk
	// sector. A tear leaves whole units unwritten.
	journalTearUnit = 512
	// journalChunk is how far ahead of the writes a segment is filled with
	// zeros. Writing over allocated blocks spares each synchronous write
	// the metadata update an append makes (a 200-byte O_DSYNC write took
	// about 150 µs against 200 µs appending, on ext4 on this project's
	// 2-core test machine); a zero frame header marks the end of the frames.
	journalChunk = 4 << 20
)

// Value kinds in a record.
const (
	journalKindNone  = 0
	journalKindInt   = 1
	journalKindBytes = 2
)

// castagnoli is the CRC-32C table; it is computed once and never written.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The marks of format 2; never written.
var (
	segmentMagic = []byte("dsmredo\x02")
	frameMagic   = []byte{0xd5, 0x52, 0x65, 0x44}
)

// journal is the daemon's redo log. Its Append is called under variables'
// write locks by shm; its barrier by connections before they send the
// replies of a batch that wrote; its preallocate and checkpoint by the
// server's syncLoop (sync.go).
type journal struct {
	base string // the memory file's path; segments are base.journal.<n>
	mem  *shm.Memory

	mu      sync.Mutex // protects the fields below
	buf     []byte     // a frame header and the records not yet written
	spare   []byte     // the other buffer, while no flush holds it
	f       *os.File   // the segment being written
	seq     uint64     // its number
	size    int64      // bytes of its header and frames written to it
	alloc   int64      // bytes of it filled with zeros or frames
	next    *os.File   // the segment the next flush switches to, if any
	nextSeq uint64
	retired []string  // segments switched away from, to delete after a flush of the mapping
	lastCP  time.Time // when the last checkpoint (or the start) was
	err     error     // the first write or sync error: every barrier fails after it

	y      *groupcommit.Committer // barrier's shared synchronous writes
	frames uint64                 // the last frame's sequence number; only flush, one at a time, uses it

	// fillMu is held by preallocate while it writes zeros, and by a flush
	// whose frame reaches past alloc or that switches segments: zeros
	// never land on frames, and no segment is closed under a fill. Other
	// flushes, nearly all, do not wait for a fill.
	fillMu sync.Mutex
	zeros  []byte
	filled func() // if set (by tests, under fillMu), preallocate calls it after each write
}

// openJournal creates the first segment after seq (the last one replayed,
// or 0); its frames are numbered from frames+1 (frames is the last one
// replayed, or 0).
func openJournal(mem *shm.Memory, seq, frames uint64) (*journal, error) {
	j := &journal{base: mem.Path(), mem: mem, zeros: make([]byte, 1<<20), frames: frames}
	f, err := j.create(seq + 1)
	if err != nil {
		return nil, err
	}
	j.f, j.seq, j.size, j.alloc, j.lastCP = f, seq+1, journalSegmentHeader, journalChunk, time.Now()
	j.buf = make([]byte, journalFrameHeader, 64<<10)
	j.y = groupcommit.New(j.flush)
	return j, nil
}

// segmentPath is the path of segment n.
func segmentPath(base string, n uint64) string {
	return base + journalSuffix + strconv.FormatUint(n, 10)
}

// create makes segment n, fills its first journalChunk bytes with zeros,
// writes its header, and makes it and its name durable.
func (j *journal) create(n uint64) (*os.File, error) {
	f, err := os.OpenFile(segmentPath(j.base, n), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_DSYNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	err = j.fill(f, 0, nil)
	if err == nil {
		_, err = f.WriteAt(segmentMagic, 0)
	}
	if err == nil {
		err = syncDir(filepath.Dir(j.base))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("journal: %w", err)
	}
	return f, nil
}

// fill writes journalChunk bytes of zeros into f at off, durably: f is
// opened with O_DSYNC, so each write returns once its data and the file's
// new size are on stable storage. It calls after, if set, after each write.
func (j *journal) fill(f *os.File, off int64, after func()) error {
	for end := off + journalChunk; off < end; off += int64(len(j.zeros)) {
		if _, err := f.WriteAt(j.zeros, off); err != nil {
			return err
		}
		if after != nil {
			after()
		}
	}
	return nil
}

// preallocate fills another chunk of the segment with zeros when the
// frames come within half a chunk of the end of the zeros. The fill takes
// some milliseconds (4 MiB of synchronous writes); flushes go on meanwhile
// in the half chunk of zeros left, so durable replies do not wait for it.
func (j *journal) preallocate() error {
	j.fillMu.Lock()
	defer j.fillMu.Unlock()
	j.mu.Lock()
	f, start := j.f, max(j.alloc, j.size)
	due := j.err == nil && j.alloc-j.size < journalChunk/2
	j.mu.Unlock()
	if !due {
		return nil
	}
	if err := j.fill(f, start, j.filled); err != nil {
		return fmt.Errorf("journal %s: %w", f.Name(), err)
	}
	j.mu.Lock()
	j.alloc = start + journalChunk
	j.mu.Unlock()
	return nil
}

// syncDir makes the directory's entries durable (a new or removed segment).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append encodes recs at the end of the buffer. It implements shm.Journal.
func (j *journal) Append(recs []shm.Record) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range recs {
		j.buf = appendRecord(j.buf, r)
	}
}

// appendRecord encodes r at the end of b.
func appendRecord(b []byte, r shm.Record) []byte {
	var flags byte
	if r.Deleted {
		flags = 1
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, r.Version)
	b = binary.LittleEndian.AppendUint32(b, r.Slot)
	b = binary.LittleEndian.AppendUint32(b, r.Inc)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Name)))
	b = append(b, r.Name...)
	switch {
	case !r.Value.Valid():
		b = append(b, journalKindNone, 0, 0, 0, 0)
	case r.Value.IsInt():
		n, _ := r.Value.Int()
		b = append(b, journalKindInt, 8, 0, 0, 0)
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	default:
		b = append(b, journalKindBytes, 0, 0, 0, 0)
		at := len(b)
		b = r.Value.AppendText(b)
		binary.LittleEndian.PutUint32(b[at-4:], uint32(len(b)-at))
	}
	return b
}

// barrier returns once every record appended before the call is on stable
// storage. Concurrent callers share one synchronous write.
func (j *journal) barrier() error {
	return j.y.Barrier()
}

// flush writes the buffer as one frame, durably: segments are opened with
// O_DSYNC, so the write returns once its data is on stable storage (one
// system call where write and fdatasync are two; the zeros ahead of the
// frames spare it any metadata update). Then, if a checkpoint asked for
// it, it switches to the next segment. It runs on one goroutine at a time
// (groupcommit).
func (j *journal) flush() error {
	shm.JournalFailpoint(shm.FailBeforeJournalSync)
	j.mu.Lock()
	if j.err != nil {
		defer j.mu.Unlock()
		return j.err
	}
	out, f, off := j.buf, j.f, j.size
	j.buf = j.spare
	if j.buf == nil {
		j.buf = make([]byte, journalFrameHeader, 64<<10)
	}
	j.buf, j.spare = j.buf[:journalFrameHeader], nil
	// Only flush moves size and f, and a fill starts at or after alloc: a
	// frame that ends within alloc cannot meet one. A switch closes f, so
	// it waits for a fill too; a checkpoint asking for one after this
	// point is served by the next flush.
	switching := j.next != nil
	if off+int64(len(out)+journalFrameTrailer) > j.alloc || switching {
		j.mu.Unlock()
		j.fillMu.Lock()
		defer j.fillMu.Unlock()
	} else {
		j.mu.Unlock()
	}

	var err error
	if len(out) > journalFrameHeader {
		j.frames++ // only flush numbers frames
		out = sealFrame(out, j.frames)
		_, err = f.WriteAt(out, off) // O_DSYNC: durable when it returns
		if err == nil {
			err = segmentGone(f)
		}
		if err == nil {
			// As after every flush of the mapping: acknowledge nothing
			// once the memory file is gone or cut.
			err = j.mem.FileError()
		}
	}
	shm.JournalFailpoint(shm.FailAfterJournalSync)

	j.mu.Lock()
	defer j.mu.Unlock()
	if len(out) > journalFrameHeader {
		j.size += int64(len(out))
	}
	j.spare = out[:journalFrameHeader]
	if err != nil {
		j.err = fmt.Errorf("journal %s: %w", f.Name(), err)
		return j.err
	}
	if switching {
		j.retired = append(j.retired, j.f.Name())
		j.f.Close()
		j.f, j.seq, j.size, j.alloc = j.next, j.nextSeq, journalSegmentHeader, journalChunk
		j.next = nil
	}
	return nil
}

// sealFrame fills in the header of frame b, whose payload follows the
// header's room, and appends its payload check.
func sealFrame(b []byte, seq uint64) []byte {
	copy(b, frameMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-journalFrameHeader))
	binary.LittleEndian.PutUint64(b[8:], seq)
	h := crc32.Checksum(b[:16], castagnoli)
	binary.LittleEndian.PutUint32(b[16:], nonZero(h))
	p := crc32.Update(h, castagnoli, b[journalFrameHeader:])
	return binary.LittleEndian.AppendUint32(b, nonZero(p))
}

// nonZero sets the top bit of each byte of a check, so that no byte of a
// whole frame's header or end is zero and a block of zeros in a frame
// marks what a tear did not write.
func nonZero(c uint32) uint32 { return c | 0x80808080 }

// segmentGone reports, as shm's FileError does for the memory file, that
// the segment f was deleted or replaced while in use: its frames would not
// be found by the replay after a crash.
func segmentGone(f *os.File) error {
	var st, ps unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if st.Nlink == 0 {
		return errSegmentGone
	}
	if err := unix.Stat(f.Name(), &ps); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return errSegmentGone
		}
		return nil // unreadable path (permissions): not proof of a fault
	}
	if ps.Dev != st.Dev || ps.Ino != st.Ino {
		return fmt.Errorf("%w: its name now names another file", errSegmentGone)
	}
	return nil
}

// checkpointDue reports whether the segment is big enough, or the last
// checkpoint old enough, to checkpoint.
func (j *journal) checkpointDue(now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size >= journalSegmentMax || now.Sub(j.lastCP) >= journalCheckpointPeriod
}

// checkpoint moves the journal to a new segment, flushes the mapping, and
// deletes the old segments, whose changes the flush covers. With nothing
// journaled since the last one it only flushes the mapping (which also
// takes local processes' writes to the disk).
func (j *journal) checkpoint(syncMem func() error) error {
	j.mu.Lock()
	n, empty := j.seq+1, j.size == journalSegmentHeader && len(j.buf) == journalFrameHeader
	j.lastCP = time.Now()
	j.mu.Unlock()
	if empty {
		return syncMem()
	}
	f, err := j.create(n)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.next, j.nextSeq = f, n
	j.mu.Unlock()
	// A flush that starts after this call switches (if a running one does
	// not already): once it returns, no change recorded in an old segment
	// is missing from the mapping.
	if err := j.barrier(); err != nil {
		return err
	}
	if err := syncMem(); err != nil {
		return err
	}
	j.mu.Lock()
	old := j.retired
	j.retired = nil
	j.mu.Unlock()
	return removeSegments(old)
}

// removeSegments deletes the named segments and makes that durable.
func removeSegments(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return syncDir(filepath.Dir(paths[0]))
}

// close ends the journal after the mapping was flushed at a clean stop:
// every segment goes. Nothing may append or wait any more.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = errJournalClosed
	}
	paths := append(j.retired, j.f.Name())
	j.f.Close()
	if j.next != nil {
		paths = append(paths, j.next.Name())
		j.next.Close()
	}
	return removeSegments(paths)
}

// journalSegments lists the segments beside the memory file at base, in
// order, with their numbers.
func journalSegments(base string) (paths []string, seqs []uint64, err error) {
	dir, prefix := filepath.Dir(base), filepath.Base(base)+journalSuffix
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	for _, n := range seqs {
		paths = append(paths, segmentPath(base, n))
	}
	return paths, seqs, nil
}

// decodeRecords calls fn with each record of a frame's payload. Names and
// values point into payload.
func decodeRecords(p []byte, fn func(shm.Record)) error {
	for len(p) > 0 {
		if len(p) < journalRecordFixed {
			return errRecord
		}
		r := shm.Record{
			Deleted: p[0]&1 != 0,
			Version: binary.LittleEndian.Uint64(p[1:]),
			Slot:    binary.LittleEndian.Uint32(p[9:]),
			Inc:     binary.LittleEndian.Uint32(p[13:]),
		}
		nameLen := int(binary.LittleEndian.Uint16(p[17:]))
		p = p[19:]
		if len(p) < nameLen+5 {
			return errRecord
		}
		r.Name, p = p[:nameLen], p[nameLen:]
		kind, valLen := p[0], int(binary.LittleEndian.Uint32(p[1:]))
		p = p[5:]
		if valLen > len(p) {
			return errRecord
		}
		val := p[:valLen]
		p = p[valLen:]
		switch {
		case kind == journalKindNone && valLen == 0:
		case kind == journalKindInt && valLen == 8:
			r.Value = shm.Int(int64(binary.LittleEndian.Uint64(val)))
		case kind == journalKindBytes:
			r.Value = shm.Bytes(val)
		default:
			return errRecord
		}
		fn(r)
	}
	return nil
}

// frameAt reports whether a whole frame with both checks right starts at
// off in data, and returns its sequence number, its payload and where the
// next frame starts.
func frameAt(data []byte, off int) (seq uint64, payload []byte, next int, ok bool) {
	h := data[off:]
	if len(h) < journalFrameHeader+journalFrameTrailer || !bytes.Equal(h[:4], frameMagic) {
		return 0, nil, 0, false
	}
	sum := crc32.Checksum(h[:16], castagnoli)
	if nonZero(sum) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, nil, 0, false
	}
	n := int64(binary.LittleEndian.Uint32(h[4:]))
	if n > int64(len(h)-journalFrameHeader-journalFrameTrailer) {
		return 0, nil, 0, false
	}
	end := journalFrameHeader + int(n)
	payload = h[journalFrameHeader:end]
	if nonZero(crc32.Update(sum, castagnoli, payload)) != binary.LittleEndian.Uint32(h[end:]) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(h[8:]), payload, off + end + journalFrameTrailer, true
}

// framesStart checks a segment's header and returns where its frames
// start. A header of zeros is a segment whose creation a crash cut short:
// it holds no frame, and reads as one that ends at once.
func framesStart(path string, data []byte) (int, error) {
	h := data[:min(len(data), journalSegmentHeader)]
	if bytes.Equal(h, segmentMagic) || allZero(h) {
		return len(h), nil
	}
	return 0, fmt.Errorf("%w: %s is not a format 2 redo log segment: if an older dsmd left it, start that dsmd once to replay it, or move the file away to start without it", errJournalCorrupt, path)
}

// decodeSegment calls fn with the records of each valid frame of the
// segment, in order, and returns where the frames stop and the sequence
// number of the last one (prev, that of the last frame before the
// segment, if it has none). The caller judges what lies at stop
// (judgeStop). A valid frame out of order, or one whose records do not
// parse, is an error.
func decodeSegment(path string, data []byte, prev uint64, fn func(shm.Record)) (stop int, last uint64, err error) {
	off, err := framesStart(path, data)
	if err != nil {
		return 0, prev, err
	}
	last = prev
	for first := true; ; first = false {
		seq, payload, next, ok := frameAt(data, off)
		if !ok {
			return off, last, nil
		}
		if seq <= last || (!first && seq != last+1) {
			return off, last, refusal(path, off, fmt.Sprintf("frame %d follows frame %d", seq, last))
		}
		if err := decodeRecords(payload, fn); err != nil {
			return off, last, refusal(path, off, err.Error())
		}
		off, last = next, seq
	}
}

// judgeStop tells what lies at stop, where the frames of the segment at
// path end (last is the last frame's number): nothing (the end of the
// file, or zeros: damage in those loses no frame), the torn last write,
// which it cuts off the segment so that no later start meets it, or
// damage to acknowledged frames, an error that refuses the start. later
// are the segments after this one.
func judgeStop(path string, data []byte, stop int, last uint64, later []string) (torn bool, err error) {
	if stop == len(data) {
		return false, nil
	}
	if allZero(data[stop:min(len(data), stop+journalFrameHeader)]) {
		if at := validFrameAfter(data, stop, last); at >= 0 {
			return false, refusal(path, stop, fmt.Sprintf("zeros stand where a frame should, and a valid frame follows at byte %d", at))
		}
		return false, nil
	}
	if at := validFrameAfter(data, stop+1, last); at >= 0 {
		return false, refusal(path, stop, fmt.Sprintf("a damaged frame, and a valid frame follows at byte %d", at))
	}
	for _, p := range later {
		d, err := os.ReadFile(p)
		if err != nil {
			return false, fmt.Errorf("journal: %w", err)
		}
		if at := validFrameAfter(d, 0, last); at >= 0 {
			return false, refusal(path, stop, fmt.Sprintf("a damaged frame, and a valid frame follows in %s at byte %d", p, at))
		}
	}
	if !tornAt(data, stop) {
		return false, refusal(path, stop, "a damaged frame that no torn write leaves")
	}
	return true, cutSegment(path, stop)
}

// validFrameAfter returns where the first valid frame numbered after last
// starts in data at or after from, or -1.
func validFrameAfter(data []byte, from int, last uint64) int {
	for from < len(data) {
		k := bytes.Index(data[from:], frameMagic)
		if k < 0 {
			return -1
		}
		if seq, _, _, ok := frameAt(data, from+k); ok && seq > last {
			return from + k
		}
		from += k + 1
	}
	return -1
}

// tornAt reports whether the damaged bytes at off could be what a tear of
// the last write leaves (see the top of this file): a frame cut short by
// the end of the file, or one with a block of zeros where a whole frame
// has none; or no frame at all, as after damage in the zeros past the
// frames, but never a frame header whole but for one byte.
func tornAt(data []byte, off int) bool {
	h := data[off:]
	if len(h) < journalFrameHeader {
		return true
	}
	same := 0
	for i, b := range frameMagic {
		same += b2i(h[i] == b)
	}
	if same < len(frameMagic)-1 {
		return true
	}
	end := off + journalFrameHeader
	if nonZero(crc32.Checksum(h[:16], castagnoli)) == binary.LittleEndian.Uint32(h[16:]) {
		end += int(binary.LittleEndian.Uint32(h[4:])) + journalFrameTrailer
		if end > len(data) {
			return true
		}
	}
	for b := off - off%journalTearUnit; b < end; b += journalTearUnit {
		if allZero(data[max(b, off):min(b+journalTearUnit, end)]) {
			return true
		}
	}
	return false
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// allZero reports whether b holds only zeros.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// refusal is replay's error for damage at byte off of a segment.
func refusal(path string, off int, why string) error {
	base := strings.TrimRight(path, "0123456789")
	return fmt.Errorf("%w: %s at byte %d: %s; acknowledged writes may be lost with it, so dsmd refuses to start: to start without the redo log (and so without the writes since its last checkpoint), move %s* away", errJournalCorrupt, path, off, why, base)
}

// cutSegment truncates the segment at path to off bytes, durably.
func cutSegment(path string, off int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		err = f.Truncate(int64(off))
		if err == nil {
			err = f.Sync()
		}
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("journal: cut the torn write: %w", err)
	}
	return nil
}

// replayJournal applies the segments a crash left beside the memory file:
// the last record of each name, through shm's Restore; then it flushes the
// mapping and deletes the segments. A torn last write, never acknowledged,
// is cut off its segment first; damage that may hide acknowledged writes
// refuses the start and leaves every segment in place (see the top of
// this file). It returns the number of the last segment and of the last
// frame (0 if none).
func replayJournal(mem *shm.Memory, log *slog.Logger) (seq, frames uint64, err error) {
	paths, seqs, err := journalSegments(mem.Path())
	if err != nil || len(paths) == 0 {
		return 0, 0, err
	}
	last := map[string]int{} // name -> index in recs
	var recs []shm.Record
	records := 0
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, 0, fmt.Errorf("journal: %w", err)
		}
		stop, end, err := decodeSegment(p, data, frames, func(r shm.Record) {
			records++
			if k, ok := last[string(r.Name)]; ok {
				recs[k] = r
				return
			}
			last[string(r.Name)] = len(recs)
			recs = append(recs, r)
		})
		if err != nil {
			return 0, 0, err
		}
		frames = end
		torn, err := judgeStop(p, data, stop, frames, paths[i+1:])
		if err != nil {
			return 0, 0, err
		}
		if torn {
			log.Warn("journal ends with a torn frame, the write a crash cut: cut off", "segment", p, "at", stop, "bytes", len(data)-stop)
			break // judgeStop found no frame after it
		}
	}
	applied, err := mem.Restore(recs)
	if err != nil {
		return 0, 0, fmt.Errorf("journal replay: %w", err)
	}
	if err := mem.Sync(); err != nil {
		return 0, 0, fmt.Errorf("journal replay: flush: %w", err)
	}
	if err := removeSegments(paths); err != nil {
		return 0, 0, err
	}
	log.Info("journal replayed", "segments", len(paths), "records", records, "variables", len(recs), "applied", applied)
	return seqs[len(seqs)-1], frames, nil
}
