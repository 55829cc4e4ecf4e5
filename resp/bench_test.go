package resp_test

import (
	"fmt"
	"testing"

	"github.com/dsm-dev/dsm/resp"
)

// BenchmarkReadCommand reads pipelined "SET key value" commands, as
// redis-benchmark sends them with -P.
func BenchmarkReadCommand(b *testing.B) {
	for _, size := range []int{3, 256} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			value := make([]byte, size)
			for i := range value {
				value[i] = 'v'
			}
			cmd := multibulk([]string{"SET", "key:000000000042", string(value)})
			r := resp.NewReader(&repeatReader{data: cmd}, 0)
			b.SetBytes(int64(len(cmd)))
			b.ReportAllocs()
			var args [][]byte
			for b.Loop() {
				var err error
				if args, err = r.ReadCommand(args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriter writes a mix of common replies.
func BenchmarkWriter(b *testing.B) {
	for _, proto := range []int{2, 3} {
		b.Run(fmt.Sprintf("RESP%d", proto), func(b *testing.B) {
			w := resp.NewWriter(discard{}, 0)
			w.SetProtocol(proto)
			value := []byte("value")
			b.ReportAllocs()
			for b.Loop() {
				writeMix(w, value)
				flushBatch(w)
			}
		})
	}
	b.Run("GET reply", func(b *testing.B) {
		w := resp.NewWriter(discard{}, 0)
		value := []byte("some value of moderate size")
		b.ReportAllocs()
		for b.Loop() {
			w.Bulk(value)
			flushBatch(w)
		}
	})
}

// flushBatch flushes every 2 KiB of replies, as a server flushes a batch
// (one that fits the buffer the Writer keeps).
func flushBatch(w *resp.Writer) {
	if w.Buffered() >= 2048 {
		w.Flush()
	}
}
