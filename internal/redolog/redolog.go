package redolog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/durable"
	"github.com/dsm-dev/dsm/internal/failpoint"
	"github.com/dsm-dev/dsm/internal/groupcommit"
	"github.com/dsm-dev/dsm/shm"
)

// Failure points of the redo log (internal/failpoint; shm's SetFailHook and
// ArmFailpoint reach them in dsmfail builds). Their names are older than
// this package.
const (
	// FailBeforeSync: about to write the buffer to stable storage.
	FailBeforeSync = "before-journal-sync"
	// FailAfterSync: that write returned.
	FailAfterSync = "after-journal-sync"
)

// Tuning and format constants.
const (
	segmentMax       = 64 << 20
	checkpointPeriod = 10 * time.Second
	segmentHeader    = 8                         // "dsmredo" and the format number
	frameHeader      = 20                        // magic, length, sequence number, header check
	frameTrailer     = 4                         // payload check
	recordFixed      = 1 + 8 + 4 + 4 + 2 + 1 + 4 // a record without its name and value
	suffix           = ".journal."               // segments are <memory file>.journal.<n>
	// tearUnit is the smallest piece a write is torn into: a disk
	// sector. A tear leaves whole units unwritten.
	tearUnit = 512
	// chunk is how far ahead of the writes a segment is filled with
	// zeros. Writing over allocated blocks spares each synchronous write
	// the metadata update an append makes (a 200-byte O_DSYNC write took
	// about 150 µs against 200 µs appending, on ext4 on this project's
	// 2-core test machine); a zero frame header marks the end of the frames.
	chunk = 4 << 20
)

// Value kinds in a record.
const (
	kindNone  = 0
	kindInt   = 1
	kindBytes = 2
)

// castagnoli is the CRC-32C table; it is computed once and never written.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The marks of format 2; never written.
var (
	segmentMagic = []byte("dsmredo\x02")
	frameMagic   = []byte{0xd5, 0x52, 0x65, 0x44}
)

// Log is a redo log. Its Append is called under variables' write locks by
// shm (it is the Memory's shm.RedoLog); its Barrier by the daemon's
// connections before they send the replies of a batch that wrote; its
// Preallocate, CheckpointDue and Checkpoint by the daemon's sync loop,
// one at a time. A Log must be closed (Close) only after the mapping was
// flushed, and not used after.
type Log struct {
	base string // the memory file's path; segments are base.journal.<n>
	mem  *shm.Memory

	mu      sync.Mutex // protects the fields below
	buf     []byte     // a frame header and the records not yet written
	spare   []byte     // the other buffer, while no flush holds it
	f       *os.File   // the segment being written
	id      fileID     // its identity, to tell it from a file put in its place
	seq     uint64     // its number
	size    int64      // bytes of its header and frames written to it
	alloc   int64      // bytes of it filled with zeros or frames
	next    *os.File   // the segment the next flush switches to, if any
	nextID  fileID
	nextSeq uint64
	retired []string  // segments switched away from, to delete after a flush of the mapping
	lastCP  time.Time // when the last checkpoint (or the start) was
	err     error     // the first write or sync error: every Barrier fails after it

	y      *groupcommit.Committer // Barrier's shared synchronous writes
	frames uint64                 // the last frame's sequence number; only flush, one at a time, uses it

	// fillMu is held by Preallocate while it writes zeros, and by a flush
	// whose frame reaches past alloc or that switches segments: zeros
	// never land on frames, and no segment is closed under a fill. Other
	// flushes, nearly all, do not wait for a fill.
	fillMu sync.Mutex
	zeros  []byte
	filled func() // if set (by tests, under fillMu), Preallocate calls it after each write
}

// End is where a replayed redo log ended: the numbers of its last segment
// and of its last frame, zero if there was none. Open goes on after it.
type End struct{ Segment, Frame uint64 }

// Open starts the redo log of mem after end (what Replay returned): it
// creates the next segment. Hand the Log to mem.SetRedoLog for it to
// receive the writes.
func Open(mem *shm.Memory, end End) (*Log, error) {
	seq := end.Segment
	l := &Log{base: mem.Path(), mem: mem, zeros: make([]byte, 1<<20), frames: end.Frame}
	f, id, err := l.create(seq + 1)
	if err != nil {
		return nil, err
	}
	l.f, l.id, l.seq, l.size, l.alloc, l.lastCP = f, id, seq+1, segmentHeader, chunk, time.Now()
	l.buf = make([]byte, frameHeader, 64<<10)
	l.y = groupcommit.New(l.flush)
	return l, nil
}

// segmentPath is the path of segment n.
func segmentPath(base string, n uint64) string {
	return base + suffix + strconv.FormatUint(n, 10)
}

// create makes segment n, fills its first chunk bytes with zeros,
// writes its header, and makes it and its name durable.
func (l *Log) create(n uint64) (*os.File, fileID, error) {
	f, err := os.OpenFile(segmentPath(l.base, n), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_DSYNC, 0o600)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("redo log: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(int(f.Fd()), &st)
	if err == nil {
		err = l.fill(f, 0, nil)
	}
	if err == nil {
		_, err = f.WriteAt(segmentMagic, 0)
	}
	if err == nil {
		err = durable.SyncDir(filepath.Dir(l.base))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fileID{}, fmt.Errorf("redo log: %w", err)
	}
	return f, fileID{dev: st.Dev, ino: st.Ino}, nil
}

// fill writes chunk bytes of zeros into f at off, durably: f is
// opened with O_DSYNC, so each write returns once its data and the file's
// new size are on stable storage. It calls after, if set, after each write.
func (l *Log) fill(f *os.File, off int64, after func()) error {
	for end := off + chunk; off < end; off += int64(len(l.zeros)) {
		if _, err := f.WriteAt(l.zeros, off); err != nil {
			return err
		}
		if after != nil {
			after()
		}
	}
	return nil
}

// Preallocate fills another chunk of the segment with zeros when the
// frames come within half a chunk of the end of the zeros. The fill takes
// some milliseconds (4 MiB of synchronous writes); flushes go on meanwhile
// in the half chunk of zeros left, so durable replies do not wait for it.
func (l *Log) Preallocate() error {
	l.fillMu.Lock()
	defer l.fillMu.Unlock()
	l.mu.Lock()
	f, start := l.f, max(l.alloc, l.size)
	due := l.err == nil && l.alloc-l.size < chunk/2
	l.mu.Unlock()
	if !due {
		return nil
	}
	if err := l.fill(f, start, l.filled); err != nil {
		return fmt.Errorf("redo log %s: %w", f.Name(), err)
	}
	l.mu.Lock()
	l.alloc = start + chunk
	l.mu.Unlock()
	return nil
}

// Append encodes recs at the end of the buffer, for the next flush. It
// implements shm.RedoLog.
func (l *Log) Append(recs []shm.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.buf = appendRecord(l.buf, r)
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
		b = append(b, kindNone, 0, 0, 0, 0)
	case r.Value.IsInt():
		n, _ := r.Value.Int()
		b = append(b, kindInt, 8, 0, 0, 0)
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	default:
		b = append(b, kindBytes, 0, 0, 0, 0)
		at := len(b)
		b = r.Value.AppendText(b)
		binary.LittleEndian.PutUint32(b[at-4:], uint32(len(b)-at))
	}
	return b
}

// Barrier returns once every record appended before the call is on stable
// storage. Concurrent callers share one synchronous write. After an error
// every Barrier fails: the log is broken, and its owner must stop.
func (l *Log) Barrier() error {
	return l.y.Barrier()
}

// flush writes the buffer as one frame, durably: segments are opened with
// O_DSYNC, so the write returns once its data is on stable storage (one
// system call where write and fdatasync are two; the zeros ahead of the
// frames spare it any metadata update). Then, if a checkpoint asked for
// it, it switches to the next segment. It runs on one goroutine at a time
// (groupcommit).
func (l *Log) flush() error {
	failpoint.Pass(FailBeforeSync)
	l.mu.Lock()
	if l.err != nil {
		defer l.mu.Unlock()
		return l.err
	}
	out, f, id, off := l.buf, l.f, l.id, l.size
	l.buf = l.spare
	if l.buf == nil {
		l.buf = make([]byte, frameHeader, 64<<10)
	}
	l.buf, l.spare = l.buf[:frameHeader], nil
	// Only flush moves size and f, and a fill starts at or after alloc: a
	// frame that ends within alloc cannot meet one. A switch closes f, so
	// it waits for a fill too; a checkpoint asking for one after this
	// point is served by the next flush.
	switching := l.next != nil
	if off+int64(len(out)+frameTrailer) > l.alloc || switching {
		l.mu.Unlock()
		l.fillMu.Lock()
		defer l.fillMu.Unlock()
	} else {
		l.mu.Unlock()
	}

	var err error
	if len(out) > frameHeader {
		l.frames++ // only flush numbers frames
		out = sealFrame(out, l.frames)
		_, err = f.WriteAt(out, off) // O_DSYNC: durable when it returns
		if err == nil {
			err = segmentGone(f.Name(), id)
		}
		if err == nil {
			// As after every flush of the mapping: acknowledge nothing
			// once the memory file is gone or cut.
			err = l.mem.FileError()
		}
	}
	failpoint.Pass(FailAfterSync)

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(out) > frameHeader {
		l.size += int64(len(out))
	}
	l.spare = out[:frameHeader]
	if err != nil {
		l.err = fmt.Errorf("redo log %s: %w", f.Name(), err)
		return l.err
	}
	if switching {
		l.retired = append(l.retired, l.f.Name())
		l.f.Close()
		l.f, l.id, l.seq, l.size, l.alloc = l.next, l.nextID, l.nextSeq, segmentHeader, chunk
		l.next = nil
	}
	return nil
}

// sealFrame fills in the header of frame b, whose payload follows the
// header's room, and appends its payload check.
func sealFrame(b []byte, seq uint64) []byte {
	copy(b, frameMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-frameHeader))
	binary.LittleEndian.PutUint64(b[8:], seq)
	h := crc32.Checksum(b[:16], castagnoli)
	binary.LittleEndian.PutUint32(b[16:], nonZero(h))
	p := crc32.Update(h, castagnoli, b[frameHeader:])
	return binary.LittleEndian.AppendUint32(b, nonZero(p))
}

// nonZero sets the top bit of each byte of a check, so that no byte of a
// whole frame's header or end is zero and a block of zeros in a frame
// marks what a tear did not write.
func nonZero(c uint32) uint32 { return c | 0x80808080 }

// fileID identifies a file: a segment is still the file of its name if
// the name leads to the same device and inode.
type fileID struct{ dev, ino uint64 }

// segmentGone reports, as shm's FileError does for the memory file, that
// the segment at path, the file id, was deleted or replaced while in use:
// its frames would not be found by the replay after a crash. One stat per
// write: the identity was taken when the segment was created.
func segmentGone(path string, id fileID) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ErrSegmentGone
		}
		return nil // unreadable path (permissions): not proof of a fault
	}
	if (fileID{dev: st.Dev, ino: st.Ino}) != id {
		return fmt.Errorf("%w: its name now names another file", ErrSegmentGone)
	}
	return nil
}

// CheckpointDue reports whether the segment is big enough, or the last
// checkpoint old enough, to checkpoint.
func (l *Log) CheckpointDue(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size >= segmentMax || now.Sub(l.lastCP) >= checkpointPeriod
}

// Checkpoint moves the redo log to a new segment, flushes the mapping with
// syncMem, and deletes the old segments, whose changes the flush covers.
// With nothing logged since the last one it only flushes the mapping
// (which also takes local processes' writes to the disk).
func (l *Log) Checkpoint(syncMem func() error) error {
	l.mu.Lock()
	n, empty := l.seq+1, l.size == segmentHeader && len(l.buf) == frameHeader
	l.lastCP = time.Now()
	l.mu.Unlock()
	if empty {
		return syncMem()
	}
	f, id, err := l.create(n)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.next, l.nextID, l.nextSeq = f, id, n
	l.mu.Unlock()
	// A flush that starts after this call switches (if a running one does
	// not already): once it returns, no change recorded in an old segment
	// is missing from the mapping.
	if err := l.Barrier(); err != nil {
		return err
	}
	if err := syncMem(); err != nil {
		return err
	}
	l.mu.Lock()
	old := l.retired
	l.retired = nil
	l.mu.Unlock()
	return removeSegments(old)
}

// removeSegments deletes the named segments and makes that durable.
func removeSegments(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("redo log: %w", err)
		}
	}
	return durable.SyncDir(filepath.Dir(paths[0]))
}

// Close ends the redo log after the mapping was flushed at a clean stop:
// every segment goes. Nothing may append or wait any more: stop the
// Memory's redo log (mem.SetRedoLog(nil)) first.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = ErrClosed
	}
	paths := append(l.retired, l.f.Name())
	l.f.Close()
	if l.next != nil {
		paths = append(paths, l.next.Name())
		l.next.Close()
	}
	return removeSegments(paths)
}

// Segments lists the segments of the redo log of the memory file at base,
// in order, with their numbers.
func Segments(base string) (paths []string, seqs []uint64, err error) {
	dir, prefix := filepath.Dir(base), filepath.Base(base)+suffix
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
