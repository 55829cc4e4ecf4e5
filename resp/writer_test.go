package resp_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/resp"
)

var writerCases = []struct {
	name         string
	write        func(w *resp.Writer)
	resp2, resp3 string
}{
	{"Simple", func(w *resp.Writer) { w.Simple("OK") }, "+OK\r\n", "+OK\r\n"},
	{"Simple CRLF", func(w *resp.Writer) { w.Simple("a\r\nb") }, "+a  b\r\n", "+a  b\r\n"},
	{"Error", func(w *resp.Writer) { w.Error("ERR unknown command 'x'") },
		"-ERR unknown command 'x'\r\n", "-ERR unknown command 'x'\r\n"},
	{"Error CRLF", func(w *resp.Writer) { w.Error("ERR a\nb\rc\r\n") }, "-ERR a b c  \r\n", "-ERR a b c  \r\n"},
	{"Error protocol", func(w *resp.Writer) { w.Error("ERR " + resp.ErrInvalidBulkLength.Error()) },
		"-ERR Protocol error: invalid bulk length\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
	{"Int", func(w *resp.Writer) { w.Int(42) }, ":42\r\n", ":42\r\n"},
	{"Int min", func(w *resp.Writer) { w.Int(math.MinInt64) }, ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
	{"Bulk", func(w *resp.Writer) { w.Bulk([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n"},
	{"Bulk nil", func(w *resp.Writer) { w.Bulk(nil) }, "$0\r\n\r\n", "$0\r\n\r\n"},
	{"BulkString", func(w *resp.Writer) { w.BulkString("hello") }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
	{"Null", func(w *resp.Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
	{"NullArray", func(w *resp.Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
	{"Array", func(w *resp.Writer) { w.Array(2); w.Int(1); w.Null() }, "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"},
	{"Array empty", func(w *resp.Writer) { w.Array(0) }, "*0\r\n", "*0\r\n"},
	{"Array negative", func(w *resp.Writer) { w.Array(-1) }, "*-1\r\n", "_\r\n"},
	{"Map", func(w *resp.Writer) { w.Map(1); w.BulkString("k"); w.Int(1) }, "*2\r\n$1\r\nk\r\n:1\r\n", "%1\r\n$1\r\nk\r\n:1\r\n"},
	{"Set", func(w *resp.Writer) { w.Set(3) }, "*3\r\n", "~3\r\n"},
	{"Push", func(w *resp.Writer) { w.Push(2) }, "*2\r\n", ">2\r\n"},
	{"Double", func(w *resp.Writer) { w.Double(3.14) }, "$4\r\n3.14\r\n", ",3.14\r\n"},
	{"Double whole", func(w *resp.Writer) { w.Double(1e6) }, "$7\r\n1000000\r\n", ",1000000\r\n"},
	{"Double negative zero", func(w *resp.Writer) { w.Double(math.Copysign(0, -1)) }, "$2\r\n-0\r\n", ",-0\r\n"},
	{"Double large", func(w *resp.Writer) { w.Double(1e300) }, "$6\r\n1e+300\r\n", ",1e+300\r\n"},
	{"Double small", func(w *resp.Writer) { w.Double(-1.5e-7) }, "$8\r\n-1.5e-07\r\n", ",-1.5e-07\r\n"},
	{"Double longest", func(w *resp.Writer) { w.Double(-math.MaxFloat64) },
		"$24\r\n-1.7976931348623157e+308\r\n", ",-1.7976931348623157e+308\r\n"},
	{"Double inf", func(w *resp.Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
	{"Double -inf", func(w *resp.Writer) { w.Double(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
	{"Double nan", func(w *resp.Writer) { w.Double(math.NaN()) }, "$3\r\nnan\r\n", ",nan\r\n"},
	{"Bool true", func(w *resp.Writer) { w.Bool(true) }, ":1\r\n", "#t\r\n"},
	{"Bool false", func(w *resp.Writer) { w.Bool(false) }, ":0\r\n", "#f\r\n"},
	{"Verbatim", func(w *resp.Writer) { w.Verbatim("txt", "Some string") }, "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"},
	{"Verbatim bad format", func(w *resp.Writer) { w.Verbatim("markdown", "x") }, "$1\r\nx\r\n", "=5\r\ntxt:x\r\n"},
}

func TestWriter(t *testing.T) {
	for _, c := range writerCases {
		for _, proto := range []int{2, 3} {
			var out bytes.Buffer
			w := resp.NewWriter(&out, 0)
			w.SetProtocol(proto)
			c.write(w)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			want := c.resp2
			if proto == 3 {
				want = c.resp3
			}
			if out.String() != want {
				t.Errorf("%s RESP%d: got %q, want %q", c.name, proto, out.String(), want)
			}
		}
	}
}

func TestWriterProtocol(t *testing.T) {
	w := resp.NewWriter(&bytes.Buffer{}, 0)
	for _, c := range []struct{ set, want int }{{0, 2}, {3, 3}, {2, 2}, {4, 2}} {
		if w.SetProtocol(c.set); w.Protocol() != c.want {
			t.Errorf("SetProtocol(%d): Protocol() = %d, want %d", c.set, w.Protocol(), c.want)
		}
	}
}

// TestWriterRoundTrip checks that a reply of bulk strings reads back as a
// command: the Writer's framing is the Reader's.
func TestWriterRoundTrip(t *testing.T) {
	var out bytes.Buffer
	w := resp.NewWriter(&out, 16)
	args := []string{"SET", "", strings.Repeat("x", 100), "\r\n\x00"}
	w.Array(len(args))
	for _, a := range args {
		w.BulkString(a)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := parseAll(t, &out, resp.DefaultLimits())
	if want := (parsed{cmds: [][]string{args}, err: io.EOF}); !got.equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type failWriter struct{ n int }

var errBroken = errors.New("broken pipe")

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errBroken
}

func TestWriterStickyError(t *testing.T) {
	fw := &failWriter{}
	w := resp.NewWriter(fw, 16)
	w.Simple("OK")
	w.BulkString(strings.Repeat("x", 100)) // beyond 16 bytes: the buffer grows, nothing is written
	if w.Err() != nil || w.Buffered() != 5+108 || fw.n != 0 {
		t.Fatalf("before a flush: Err %v, Buffered %d, %d writes", w.Err(), w.Buffered(), fw.n)
	}
	if err := w.Flush(); err != errBroken || fw.n != 1 {
		t.Fatalf("Flush = %v after %d writes, want %v after 1", err, fw.n, errBroken)
	}
	w.Int(1)
	if err := w.Flush(); err != errBroken || fw.n != 1 || w.Buffered() != 0 {
		t.Errorf("Flush again = %v after %d writes, %d buffered; want %v after 1, none buffered", err, fw.n, w.Buffered(), errBroken)
	}
}

// TestWriterLimit: a reply that would take the buffer beyond the limit is
// refused before it is copied, and the error sticks until the end.
func TestWriterLimit(t *testing.T) {
	var out bytes.Buffer
	w := resp.NewWriter(&out, 0)
	w.SetLimit(16)
	w.Simple("OK")
	w.Bulk(make([]byte, 1000))
	if w.Err() != resp.ErrReplyLimit || w.Buffered() > 16 {
		t.Fatalf("Err %v, Buffered %d; want %v, at most 16", w.Err(), w.Buffered(), resp.ErrReplyLimit)
	}
	w.Int(1)
	if err := w.Flush(); err != resp.ErrReplyLimit || out.Len() != 0 {
		t.Errorf("Flush = %v, %d bytes written; want %v, none", err, out.Len(), resp.ErrReplyLimit)
	}
}

// TestWriterKeep: one write per flush, and a buffer grown beyond the size
// given to NewWriter is let go after it.
func TestWriterKeep(t *testing.T) {
	var out countWriter
	w := resp.NewWriter(&out, 64)
	w.Simple("OK")
	w.Bulk(make([]byte, 1000))
	if err := w.Flush(); err != nil || out.writes != 1 || out.n != 5+1000+9 {
		t.Fatalf("Flush = %v: %d writes of %d bytes, want 1 of %d", err, out.writes, out.n, 5+1000+9)
	}
	if w.Cap() != 0 {
		t.Errorf("after the flush the Writer holds %d bytes, want 0", w.Cap())
	}
	w.Simple("OK")
	w.Flush()
	if w.Cap() == 0 || w.Cap() > 64 {
		t.Errorf("a small buffer: capacity %d after the flush, want kept, at most 64", w.Cap())
	}
}

type countWriter struct{ writes, n int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.writes++
	c.n += len(p)
	return len(p), nil
}

// TestWriterAllocs: replies allocate nothing.
func TestWriterAllocs(t *testing.T) {
	for _, proto := range []int{2, 3} {
		w := resp.NewWriter(discard{}, 0)
		w.SetProtocol(proto)
		value := []byte("value")
		allocs := testing.AllocsPerRun(1000, func() {
			writeMix(w, value)
			flushBatch(w) // else the buffer grows for ever, allocating now and then
		})
		if allocs != 0 {
			t.Errorf("RESP%d: %v allocations per reply batch, want 0", proto, allocs)
		}
	}
}

// writeMix writes one of each common reply.
func writeMix(w *resp.Writer, value []byte) {
	w.Simple("OK")
	w.Error("ERR wrong")
	w.Int(123456789)
	w.Bulk(value)
	w.BulkString("hello")
	w.Null()
	w.Array(2)
	w.Map(1)
	w.Double(2.5)
	w.Bool(true)
	w.Verbatim("txt", "s")
}

// discard is an io.Writer that keeps nothing and, unlike io.Discard, is not
// an io.StringWriter or io.ReaderFrom, like a net.Conn.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
