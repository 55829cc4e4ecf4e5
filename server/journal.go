package server

import (
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
// Segment files are named <memory file>.journal.<n>, n increasing. A
// segment is a sequence of frames: u32 payload length, u32 CRC-32C of the
// payload (both little-endian), then the payload, the records of one or
// more Append calls. A record is: u8 flags (1 = deleted), u64 version, u32
// slot, u32 incarnation, u16 name length, the name, u8 kind (0 no value,
// 1 integer, 2 bytes), u32 value length, the value (an integer as 8 bytes
// little-endian).
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
	journalFrameHeader      = 8
	journalRecordFixed      = 1 + 8 + 4 + 4 + 2 + 1 + 4 // a record without its name and value
	journalSuffix           = ".journal."
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
	size    int64      // bytes of frames written to it
	alloc   int64      // bytes of it filled with zeros or frames
	next    *os.File   // the segment the next flush switches to, if any
	nextSeq uint64
	retired []string  // segments switched away from, to delete after a flush of the mapping
	lastCP  time.Time // when the last checkpoint (or the start) was
	err     error     // the first write or sync error: every barrier fails after it

	y *groupcommit.Committer // barrier's shared synchronous writes

	// fillMu is held by preallocate while it writes zeros, and by a flush
	// whose frame reaches past alloc or that switches segments: zeros
	// never land on frames, and no segment is closed under a fill. Other
	// flushes, nearly all, do not wait for a fill.
	fillMu sync.Mutex
	zeros  []byte
	filled func() // if set (by tests, under fillMu), preallocate calls it after each write
}

// openJournal creates the first segment after seq (the last one replayed,
// or 0).
func openJournal(mem *shm.Memory, seq uint64) (*journal, error) {
	j := &journal{base: mem.Path(), mem: mem, zeros: make([]byte, 1<<20)}
	f, err := j.create(seq + 1)
	if err != nil {
		return nil, err
	}
	j.f, j.seq, j.alloc, j.lastCP = f, seq+1, journalChunk, time.Now()
	j.buf = make([]byte, journalFrameHeader, 64<<10)
	j.y = groupcommit.New(j.flush)
	return j, nil
}

// segmentPath is the path of segment n.
func segmentPath(base string, n uint64) string {
	return base + journalSuffix + strconv.FormatUint(n, 10)
}

// create makes segment n, fills its first journalChunk bytes with zeros,
// and makes it and its name durable.
func (j *journal) create(n uint64) (*os.File, error) {
	f, err := os.OpenFile(segmentPath(j.base, n), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_DSYNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	err = j.fill(f, 0, nil)
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
	if off+int64(len(out)) > j.alloc || switching {
		j.mu.Unlock()
		j.fillMu.Lock()
		defer j.fillMu.Unlock()
	} else {
		j.mu.Unlock()
	}

	var err error
	if len(out) > journalFrameHeader {
		payload := out[journalFrameHeader:]
		binary.LittleEndian.PutUint32(out[0:], uint32(len(payload)))
		binary.LittleEndian.PutUint32(out[4:], crc32.Checksum(payload, castagnoli))
		_, err = f.WriteAt(out, off) // O_DSYNC: durable when it returns
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
		j.f, j.seq, j.size, j.alloc = j.next, j.nextSeq, 0, journalChunk
		j.next = nil
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
	n, empty := j.seq+1, j.size == 0 && len(j.buf) == journalFrameHeader
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

// decodeSegment calls fn with the records of every whole frame of data. It
// stops at the first frame that is cut short or fails its checksum and
// returns how many bytes of whole frames came before it; err says why it
// stopped, nil at the clean end of data (its end, or a zero frame header:
// frames are never empty).
func decodeSegment(data []byte, fn func(shm.Record)) (good int, err error) {
	for off := 0; off < len(data); {
		if len(data)-off < journalFrameHeader {
			return off, fmt.Errorf("%w: frame header cut short at byte %d", errJournalCorrupt, off)
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n == 0 && sum == 0 {
			return off, nil // the zeros after the last frame
		}
		if n > len(data)-off-journalFrameHeader {
			return off, fmt.Errorf("%w: frame at byte %d cut short", errJournalCorrupt, off)
		}
		payload := data[off+journalFrameHeader : off+journalFrameHeader+n]
		if crc32.Checksum(payload, castagnoli) != sum {
			return off, fmt.Errorf("%w: frame at byte %d fails its checksum", errJournalCorrupt, off)
		}
		if err := decodeRecords(payload, fn); err != nil {
			return off, fmt.Errorf("%w: frame at byte %d: %w", errJournalCorrupt, off, err)
		}
		off += journalFrameHeader + n
	}
	return len(data), nil
}

// framesIn reports whether any of the segments holds a frame, whole or not:
// anything but zeros where the first frame header goes.
func framesIn(paths []string) (bool, error) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return false, fmt.Errorf("journal: %w", err)
		}
		if good, err := decodeSegment(data, func(shm.Record) {}); good > 0 || err != nil {
			return true, nil
		}
	}
	return false, nil
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

// replayJournal applies the segments a crash left beside the memory file:
// the last record of each name, through shm's Restore; then it flushes the
// mapping and deletes the segments. A torn or corrupt tail with no frame
// after it in any segment is the write a crash interrupted, whose replies
// were never sent, and is ignored; a bad frame with frames after it is
// refused. It returns the number of the last segment (0 if none).
func replayJournal(mem *shm.Memory, log *slog.Logger) (uint64, error) {
	paths, seqs, err := journalSegments(mem.Path())
	if err != nil || len(paths) == 0 {
		return 0, err
	}
	last := map[string]int{} // name -> index in recs
	var recs []shm.Record
	records := 0
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, fmt.Errorf("journal: %w", err)
		}
		good, err := decodeSegment(data, func(r shm.Record) {
			records++
			if k, ok := last[string(r.Name)]; ok {
				recs[k] = r
				return
			}
			last[string(r.Name)] = len(recs)
			recs = append(recs, r)
		})
		if err != nil {
			// A bad frame followed by frames in a later segment is
			// corruption; with none after it, it is the torn last write
			// (a checkpoint creates the next segment before writes move
			// to it, so that one may hold nothing yet).
			later, lerr := framesIn(paths[i+1:])
			if lerr != nil {
				return 0, lerr
			}
			if later {
				return 0, fmt.Errorf("journal %s: %w; later segments hold frames, so acknowledged writes may be in it: refusing to start (move the journal files away to start without them)", p, err)
			}
			log.Warn("journal ends with a torn frame, ignored", "segment", p, "bytes", len(data)-good, "err", err)
			break
		}
	}
	applied, err := mem.Restore(recs)
	if err != nil {
		return 0, fmt.Errorf("journal replay: %w", err)
	}
	if err := mem.Sync(); err != nil {
		return 0, fmt.Errorf("journal replay: flush: %w", err)
	}
	if err := removeSegments(paths); err != nil {
		return 0, err
	}
	log.Info("journal replayed", "segments", len(paths), "records", records, "variables", len(recs), "applied", applied)
	return seqs[len(seqs)-1], nil
}
