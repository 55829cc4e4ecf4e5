package redolog

import (
	"slices"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// FuzzRedoSegment decodes arbitrary segment bytes and judges where their
// frames stop, as Replay does (without its file writes): nothing panics or
// reads out of bounds, and the frames decoded are numbered in order.
func FuzzRedoSegment(f *testing.F) {
	rec := shm.Record{Name: []byte("a"), Value: shm.Int(1), Version: 1}
	f.Add(segment(frame(1, rec), frame(2, rec)))
	f.Add(tear(append(slices.Clone(segmentMagic), frame(1, rec)...), frame(2, bigRecord("b"))))
	f.Add(flipByte(segment(frame(1, rec), frame(2, rec)), segmentHeader+5))
	f.Add(frame(1, rec))
	f.Fuzz(func(t *testing.T, data []byte) {
		stop, last, err := decodeSegment("seg", data, 0, true, func(shm.Record) {})
		if err != nil {
			return
		}
		if stop > len(data) {
			t.Fatalf("stopped at %d of %d bytes", stop, len(data))
		}
		if stop < len(data) {
			if at := validFrameAfter(data, stop+1, last); at >= 0 && at <= stop {
				t.Fatalf("a valid frame at %d, before %d", at, stop)
			}
			tornAt(data, stop)
		}
	})
}
