package redolog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// decodeRecords calls fn with each record of a frame's payload. Names and
// values point into payload.
func decodeRecords(p []byte, fn func(shm.Record)) error {
	for len(p) > 0 {
		if len(p) < recordFixed {
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
		case kind == kindNone && valLen == 0:
		case kind == kindInt && valLen == 8:
			r.Value = shm.Int(int64(binary.LittleEndian.Uint64(val)))
		case kind == kindBytes:
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
	if len(h) < frameHeader+frameTrailer || !bytes.Equal(h[:4], frameMagic) {
		return 0, nil, 0, false
	}
	sum := crc32.Checksum(h[:16], castagnoli)
	if nonZero(sum) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, nil, 0, false
	}
	n := int64(binary.LittleEndian.Uint32(h[4:]))
	if n > int64(len(h)-frameHeader-frameTrailer) {
		return 0, nil, 0, false
	}
	end := frameHeader + int(n)
	payload = h[frameHeader:end]
	if nonZero(crc32.Update(sum, castagnoli, payload)) != binary.LittleEndian.Uint32(h[end:]) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(h[8:]), payload, off + end + frameTrailer, true
}

// framesStart checks a segment's header and returns where its frames
// start. A header of zeros is a segment whose creation a crash cut short:
// it holds no frame, and reads as one that ends at once.
func framesStart(path string, data []byte) (int, error) {
	h := data[:min(len(data), segmentHeader)]
	if bytes.Equal(h, segmentMagic) || allZero(h) {
		return len(h), nil
	}
	return 0, fmt.Errorf("%w: %s is not a format 2 redo log segment: if an older dsmd left it, start that dsmd once to replay it, or move the file away to start without it", ErrCorrupt, path)
}

// decodeSegment calls fn with the records of each valid frame of the
// segment, in order, and returns where the frames stop and the sequence
// number of the last one (prev, that of the last frame before the
// segment, if it has none). The caller judges what lies at stop
// (judgeStop). A valid frame out of order, or one whose records do not
// parse, is an error. Only the first segment left may start after a gap
// (gap), where a checkpoint deleted the segments before it: a checkpoint
// deletes no segment after one it keeps, so a gap between two segments
// left is frames lost from the end of the earlier one, or a segment lost.
func decodeSegment(path string, data []byte, prev uint64, gap bool, fn func(shm.Record)) (stop int, last uint64, err error) {
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
		if seq <= last || ((!first || !gap) && seq != last+1) {
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
	if allZero(data[stop:min(len(data), stop+frameHeader)]) {
		if at := validFrameAfter(data, stop, last); at >= 0 {
			return false, refusal(path, stop, fmt.Sprintf("zeros stand where a frame should, and a valid frame follows at byte %d", at))
		}
		return false, nil
	}
	// A frame whose header is whole ends where its length says: the bytes
	// before that are its payload, which may hold any bytes a client
	// stored, a valid frame's among them, and never a frame of the log.
	from := stop + 1
	if end, ok := claimedEnd(data, stop); ok {
		from = min(end, len(data))
	}
	if at := validFrameAfter(data, from, last); at >= 0 {
		return false, refusal(path, stop, fmt.Sprintf("a damaged frame, and a valid frame follows at byte %d", at))
	}
	for _, p := range later {
		d, err := os.ReadFile(p)
		if err != nil {
			return false, fmt.Errorf("redo log: %w", err)
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
// the last write leaves (see doc.go): a frame cut short by
// the end of the file, or one with a block of zeros where a whole frame
// has none; or no frame at all, as after damage in the zeros past the
// frames, but never a frame header whole but for one byte.
func tornAt(data []byte, off int) bool {
	h := data[off:]
	if len(h) < frameHeader {
		return true
	}
	same := 0
	for i, b := range frameMagic {
		same += b2i(h[i] == b)
	}
	// A header whose check holds once the magic is restored is a frame
	// whose magic alone was damaged, not stray bytes in the zeros.
	end, whole := claimedEnd(data, off)
	if same < len(frameMagic)-1 && !whole {
		return true
	}
	if !whole {
		end = off + frameHeader
	} else if end > len(data) {
		return true
	}
	for b := off - off%tearUnit; b < end; b += tearUnit {
		if allZero(data[max(b, off):min(b+tearUnit, end)]) {
			return true
		}
	}
	return false
}

// claimedEnd returns where the frame at off ends by the length in its
// header, if the header's check holds once its magic is restored (so the
// length is the one written, whether the magic is damaged or not).
func claimedEnd(data []byte, off int) (int, bool) {
	h := data[off:]
	if len(h) < frameHeader {
		return 0, false
	}
	fixed := slices.Concat(frameMagic, h[4:16])
	if nonZero(crc32.Checksum(fixed, castagnoli)) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, false
	}
	return off + frameHeader + int(binary.LittleEndian.Uint32(h[4:])) + frameTrailer, true
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
	return fmt.Errorf("%w: %s at byte %d: %s; acknowledged writes may be lost with it, so dsmd refuses to start: to start without the redo log (and so without the writes since its last checkpoint), move %s* away", ErrCorrupt, path, off, why, base)
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
		return fmt.Errorf("redo log: cut the torn write: %w", err)
	}
	return nil
}

// Replay applies the segments a crash left beside the memory file:
// the last record of each name, through shm's Restore; then it flushes the
// mapping and deletes the segments. A torn last write, never acknowledged,
// is cut off its segment first; damage that may hide acknowledged writes
// refuses the start and leaves every segment in place (see the top of
// doc.go). It returns where the log ended, for Open. Run it before the
// Memory serves anything, whatever the sync mode of this start.
func Replay(mem *shm.Memory, log *slog.Logger) (End, error) {
	var frames uint64
	paths, seqs, err := Segments(mem.Path())
	if err != nil || len(paths) == 0 {
		return End{}, err
	}
	last := map[string]int{} // name -> index in recs
	var recs []shm.Record
	records := 0
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return End{}, fmt.Errorf("redo log: %w", err)
		}
		stop, end, err := decodeSegment(p, data, frames, i == 0, func(r shm.Record) {
			records++
			if k, ok := last[string(r.Name)]; ok {
				recs[k] = r
				return
			}
			last[string(r.Name)] = len(recs)
			recs = append(recs, r)
		})
		if err != nil {
			return End{}, err
		}
		frames = end
		torn, err := judgeStop(p, data, stop, frames, paths[i+1:])
		if err != nil {
			return End{}, err
		}
		if torn {
			log.Warn("redo log ends with a torn frame, the write a crash cut: cut off", "segment", p, "at", stop, "bytes", len(data)-stop)
			break // judgeStop found no frame after it
		}
	}
	applied, err := mem.Restore(recs)
	if err != nil {
		return End{}, fmt.Errorf("redo log replay: %w", err)
	}
	if err := mem.Sync(); err != nil {
		return End{}, fmt.Errorf("redo log replay: flush: %w", err)
	}
	if err := removeSegments(paths); err != nil {
		return End{}, err
	}
	log.Info("redo log replayed", "segments", len(paths), "records", records, "variables", len(recs), "applied", applied)
	return End{Segment: seqs[len(seqs)-1], Frame: frames}, nil
}
