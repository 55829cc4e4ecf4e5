package resp

import (
	"errors"
	"io"
	"math"
	"strconv"
)

// ErrReplyLimit is the sticky error of a Writer whose unflushed replies
// would exceed its limit (SetLimit).
var ErrReplyLimit = errors.New("resp: reply buffer limit reached")

// Writer writes replies in RESP2 or RESP3. It is not safe for concurrent
// use. Replies are appended to one buffer, which grows as needed (up to
// the limit, SetLimit) and goes to the connection only at Flush, in one
// write; a server flushes when the Reader has nothing buffered. A server
// that sends the buffer itself (Bytes, then Reset) needs no io.Writer.
//
// The reply methods do not return errors: the first error (a write, or
// the limit) is kept and reported by Err and Flush, and once there is one,
// later replies are dropped. Writing a reply into a buffer that has room
// allocates nothing; a Writer holds its buffer, which Flush and Reset drop
// when it grew beyond the size given to NewWriter, and a 64-byte scratch
// array.
type Writer struct {
	w       io.Writer
	buf     []byte // replies not yet flushed
	keep    int    // the largest buffer kept after a flush
	limit   int    // the most bytes buf may hold
	proto   int
	err     error
	scratch [64]byte // numbers are formatted here
}

// NewWriter returns a Writer that flushes to w (which may be nil if the
// caller never calls Flush) and keeps a buffer of up to size bytes between
// flushes (DefaultBufferSize if size <= 0). Its limit is unbounded until
// SetLimit. The Writer starts in RESP2, as a Redis connection does before
// HELLO 3.
func NewWriter(w io.Writer, size int) *Writer {
	if size <= 0 {
		size = DefaultBufferSize
	}
	return &Writer{w: w, keep: size, limit: math.MaxInt, proto: 2}
}

// SetLimit bounds the bytes the Writer holds unflushed: a reply that would
// take it beyond n is dropped and the Writer fails with ErrReplyLimit.
// n <= 0 means no limit.
func (w *Writer) SetLimit(n int) {
	if n <= 0 {
		n = math.MaxInt
	}
	w.limit = n
}

// SetProtocol selects the reply protocol: 3 for RESP3, anything else for
// RESP2. It affects the replies written after it.
func (w *Writer) SetProtocol(v int) {
	w.proto = 2
	if v == 3 {
		w.proto = 3
	}
}

// Protocol returns 2 or 3, the protocol replies are written in.
func (w *Writer) Protocol() int { return w.proto }

// Simple writes a simple string, "+s\r\n", e.g. Simple("OK"). A CR or LF in s
// is written as a space, since it would end the reply early.
func (w *Writer) Simple(s string) {
	w.writeByte('+')
	w.writeLine(s)
}

// Error writes an error reply, "-s\r\n". s is the whole text, code first:
// "ERR unknown command 'x'", "WRONGTYPE …", or "ERR " + err.Error() for a
// ProtocolError. A CR or LF in s is written as a space.
func (w *Writer) Error(s string) {
	w.writeByte('-')
	w.writeLine(s)
}

// Int writes an integer reply, ":n\r\n".
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes b as a bulk string, "$len\r\nb\r\n". A nil b is the empty
// string; use Null for a missing value.
func (w *Writer) Bulk(b []byte) {
	w.header('$', int64(len(b)))
	w.write(b)
	w.writeCRLF()
}

// BulkString writes s as a bulk string, like Bulk.
func (w *Writer) BulkString(s string) {
	w.header('$', int64(len(s)))
	w.writeString(s)
	w.writeCRLF()
}

// Null writes a missing value: "$-1\r\n" (the null bulk string) in RESP2,
// "_\r\n" in RESP3.
func (w *Writer) Null() {
	if w.proto == 3 {
		w.writeString("_\r\n")
		return
	}
	w.writeString("$-1\r\n")
}

// NullArray writes a missing array: "*-1\r\n" in RESP2, "_\r\n" in RESP3.
func (w *Writer) NullArray() {
	if w.proto == 3 {
		w.writeString("_\r\n")
		return
	}
	w.writeString("*-1\r\n")
}

// Array writes the header of an array of n elements, "*n\r\n"; the caller
// writes the n elements next. A negative n writes a null array (NullArray).
func (w *Writer) Array(n int) {
	if n < 0 {
		w.NullArray()
		return
	}
	w.header('*', int64(n))
}

// Map writes the header of a map of n key-value pairs: "%n\r\n" in RESP3,
// and in RESP2 "*2n\r\n", an array of keys and values alternating. The
// caller writes the 2n elements next, key first.
func (w *Writer) Map(n int) {
	if w.proto == 3 {
		w.header('%', int64(n))
		return
	}
	w.header('*', 2*int64(n))
}

// Set writes the header of a set of n elements: "~n\r\n" in RESP3, "*n\r\n"
// in RESP2.
func (w *Writer) Set(n int) { w.aggregate('~', n) }

// Push writes the header of an out-of-band push message of n elements (such
// as a change notification): ">n\r\n" in RESP3, "*n\r\n" in RESP2.
func (w *Writer) Push(n int) { w.aggregate('>', n) }

// Double writes a floating-point number: ",f\r\n" in RESP3, a bulk string in
// RESP2. The text is the shortest that reads back as f; a whole number below
// 1e17 has no exponent ("3", "-0"), and infinities and NaN are "inf", "-inf"
// and "nan", as Redis writes them.
func (w *Writer) Double(f float64) {
	// The number goes in the upper half of scratch (at most 24 bytes), so
	// that the RESP2 header can be formatted in the lower half.
	num := appendDouble(w.scratch[32:32], f)
	if w.proto == 3 {
		w.writeByte(',')
		w.write(num)
		w.writeCRLF()
		return
	}
	h := append(w.scratch[:0:32], '$')
	h = strconv.AppendInt(h, int64(len(num)), 10)
	h = append(h, '\r', '\n')
	w.write(h)
	w.write(num)
	w.writeCRLF()
}

// Bool writes a boolean: "#t\r\n" or "#f\r\n" in RESP3, ":1\r\n" or ":0\r\n"
// in RESP2.
func (w *Writer) Bool(b bool) {
	switch {
	case w.proto == 3 && b:
		w.writeString("#t\r\n")
	case w.proto == 3:
		w.writeString("#f\r\n")
	case b:
		w.writeString(":1\r\n")
	default:
		w.writeString(":0\r\n")
	}
}

// Verbatim writes a verbatim string: in RESP3 "=len\r\nfmt:s\r\n", where
// format is a three-byte type such as "txt" or "mkd" (any other format is
// written as "txt"); in RESP2 s as a bulk string.
func (w *Writer) Verbatim(format, s string) {
	if w.proto != 3 {
		w.BulkString(s)
		return
	}
	if len(format) != 3 {
		format = "txt"
	}
	w.header('=', int64(len(s)+4))
	w.writeString(format)
	w.writeByte(':')
	w.writeString(s)
	w.writeCRLF()
}

// Raw appends b as it is, for a protocol other than RESP (the seed's
// replies share the buffer and its limit).
func (w *Writer) Raw(b []byte) { w.write(b) }

// Buffered returns the number of bytes written but not yet flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Cap returns the capacity of the Writer's buffer: the memory it holds.
func (w *Writer) Cap() int { return cap(w.buf) }

// Bytes returns the replies not yet flushed. The slice is valid until the
// next reply, Flush or Reset.
func (w *Writer) Bytes() []byte { return w.buf }

// Reset drops the replies not yet flushed (and the buffer, if it grew
// beyond the size given to NewWriter). A sticky error stays.
func (w *Writer) Reset() {
	if cap(w.buf) > w.keep {
		w.buf = nil
		return
	}
	w.buf = w.buf[:0]
}

// Flush writes the buffered replies to the connection in one write and
// empties the buffer. It returns the first error the Writer met, now or
// earlier; after an error nothing more is written.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	_, w.err = w.w.Write(w.buf)
	w.Reset()
	return w.err
}

// Err returns the first error the Writer met, or nil. The error is sticky:
// after it, replies are dropped.
func (w *Writer) Err() error { return w.err }

// aggregate writes the header of a RESP3 aggregate of type t, which is a
// plain array in RESP2.
func (w *Writer) aggregate(t byte, n int) {
	if w.proto != 3 {
		t = '*'
	}
	w.header(t, int64(n))
}

// header writes a type byte, a number and "\r\n" in one write.
func (w *Writer) header(t byte, n int64) {
	b := append(w.scratch[:0], t)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, '\r', '\n')
	w.write(b)
}

// writeLine writes s with CR and LF replaced by spaces, then "\r\n".
func (w *Writer) writeLine(s string) {
	for len(s) > 0 {
		i := indexCRLF(s)
		if i < 0 {
			w.writeString(s)
			break
		}
		w.writeString(s[:i])
		w.writeByte(' ')
		s = s[i+1:]
	}
	w.writeCRLF()
}

func indexCRLF(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}

// appendDouble appends f in the form Double documents.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		return append(b, "nan"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e17:
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// write appends b, unless that would take the buffer beyond the limit.
// The check comes first so that a large reply is refused before it is
// copied.
func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if len(b) > w.limit-len(w.buf) {
		w.err = ErrReplyLimit
		return
	}
	w.buf = append(w.buf, b...)
}

func (w *Writer) writeString(s string) {
	if w.err != nil {
		return
	}
	if len(s) > w.limit-len(w.buf) {
		w.err = ErrReplyLimit
		return
	}
	w.buf = append(w.buf, s...)
}

func (w *Writer) writeByte(c byte) {
	if w.err != nil {
		return
	}
	if len(w.buf) >= w.limit {
		w.err = ErrReplyLimit
		return
	}
	w.buf = append(w.buf, c)
}

func (w *Writer) writeCRLF() { w.writeString("\r\n") }
