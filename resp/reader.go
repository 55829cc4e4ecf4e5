package resp

import (
	"bufio"
	"io"
	"math"
)

// Sizes that decide what a Reader keeps and how it grows. See doc.go for the
// memory bound they give.
const (
	// keepBuf is the largest payload buffer a Reader keeps between
	// commands; a larger one, grown for a big command, is dropped when the
	// next ReadCommand starts.
	keepBuf = 8 << 10

	// keepArgs is the largest dst capacity ReadCommand reuses; a larger one
	// is cleared and replaced by a fresh, smaller slice.
	keepArgs = 128

	// firstArgs caps the argument slots reserved on the strength of a "*N"
	// header; further slots are added as the arguments arrive.
	firstArgs = 1024

	// minBuf is the first payload buffer size.
	minBuf = 512

	// readStep is the most a Reader allocates ahead of bulk bytes that have
	// not arrived yet.
	readStep = 64 << 10
)

// Reader reads commands, in the multibulk or the inline form, from a
// connection. It is not safe for concurrent use.
//
// Its memory is bounded by its Limits; doc.go states the bound.
type Reader struct {
	br  *bufio.Reader
	lim Limits

	// buf holds the current command's argument bytes, back to back; the
	// slices ReadCommand returns point into it.
	buf []byte

	// err is the first error that left the stream mid-command; every later
	// call returns it.
	err error
}

// NewReader returns a Reader that reads from r through a bufio.Reader of the
// given size (DefaultBufferSize if size <= 0, at least MaxCountLine). If r is
// already a *bufio.Reader at least that large it is used as is, so bytes a
// server peeked at to choose the protocol are not lost. The Reader starts
// with DefaultLimits.
func NewReader(r io.Reader, size int) *Reader {
	if size <= 0 {
		size = DefaultBufferSize
	}
	size = max(size, MaxCountLine)
	return &Reader{br: bufio.NewReaderSize(r, size), lim: DefaultLimits()}
}

// SetLimits sets the limits for the commands read from now on, e.g.
// PreAuthLimits until the client authenticates and DefaultLimits after. Zero
// or negative fields take their default (see Limits).
func (r *Reader) SetLimits(l Limits) { r.lim = l.normalize() }

// Limits returns the limits in force, with defaults filled in.
func (r *Reader) Limits() Limits { return r.lim }

// Buffered returns the number of bytes received but not yet parsed. More than
// zero after ReadCommand means more pipelined commands are waiting, so a
// server may delay flushing its replies.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Held returns the capacity of the buffer that holds the current
// command's arguments: what the Reader holds beyond its fixed bufio buffer.
// It grows as a large command arrives, before each read from the
// connection that brings more of it.
func (r *Reader) Held() int { return cap(r.buf) }

// ReadCommand reads one command, appends its arguments to dst[:0] and returns
// the result, which has at least one argument. The argument slices point into
// a buffer of the Reader and stay valid only until the next call; copy what
// must live longer. The caller owns dst's array, and ReadCommand may overwrite
// all of it, up to its capacity. A dst of more than 128 slots is not reused,
// so pass nil (not the previous result) after a very large command to let
// that array go.
//
// Empty inline lines and the multibulk headers "*0" and "*-N" carry no
// command and are skipped, as in Redis.
//
// Errors: io.EOF when the connection ends between commands;
// io.ErrUnexpectedEOF when it ends inside one; a *ProtocolError (compare it
// with errors.Is against the Err… values) when the input breaks the protocol
// or a limit. After a ProtocolError a server replies "-ERR " + err.Error()
// and closes the connection. An error that leaves the stream inside a
// command, of any kind, is returned again by every later call. An error
// from the connection before any byte of a command arrived (a read deadline
// on an idle client) is returned once, and the Reader can be used again.
func (r *Reader) ReadCommand(dst [][]byte) ([][]byte, error) {
	if r.err != nil {
		return dst[:0], r.err
	}
	dst = r.release(dst)
	for {
		first, err := r.br.Peek(1)
		if err != nil {
			return dst[:0], err
		}
		var args [][]byte
		if first[0] == '*' {
			if args, ok := r.fastMultibulk(dst[:0]); ok {
				return args, nil
			}
			args, err = r.readMultibulk(dst[:0])
		} else {
			args, err = r.readInline(dst[:0])
		}
		if err != nil {
			r.err = err
			return dst[:0], err
		}
		if len(args) > 0 {
			return args, nil
		}
	}
}

// fastArgs is the most arguments fastMultibulk takes on.
const fastArgs = 64

// fastMultibulk parses a multibulk command straight out of the bufio
// buffer when all of it has arrived, and returns arguments that point into
// that buffer: they stay valid until the next read from the connection,
// which only the next ReadCommand makes. A pipelined batch is parsed this
// way, with no copy and no call per line. ok is false for a command that
// is incomplete, has more than fastArgs arguments, breaks a limit or the
// protocol in any way: nothing is consumed then, and readMultibulk reads
// it and reports its exact error.
func (r *Reader) fastMultibulk(args [][]byte) ([][]byte, bool) {
	buf, _ := r.br.Peek(r.br.Buffered())
	args, n, ok := r.parseComplete(buf, args)
	if ok {
		r.br.Discard(n)
	}
	return args, ok
}

// parseComplete parses the multibulk command at the start of buf if all of
// it is there and it is within fastArgs and the limits, appending its
// arguments (slices of buf) to args; n is its length in buf.
func (r *Reader) parseComplete(buf []byte, args [][]byte) (_ [][]byte, n int, ok bool) {
	count, pos, ok := fastCount(buf, 0, '*')
	if !ok || count <= 0 || count > fastArgs || count > r.lim.MaxArgs {
		return args, 0, false
	}
	room := r.lim.MaxRequest
	for range count {
		size, start, ok := fastCount(buf, pos, '$')
		if !ok || size < 0 || size > r.lim.MaxBulk || size > room-ArgOverhead {
			return args, 0, false
		}
		room -= size + ArgOverhead
		end := start + size
		if end+2 > len(buf) || buf[end] != '\r' || buf[end+1] != '\n' {
			return args, 0, false
		}
		args = append(args, buf[start:end:end])
		pos = end + 2
	}
	return args, pos, true
}

// Pending calls fn, in order, with the arguments of each command that has
// arrived whole behind the last one ReadCommand returned, without consuming
// any: a server that sees a pipelined batch coming can prepare for it (see
// shm.Memory.Prefetch). It stops at the first command that is incomplete,
// inline, or not one ReadCommand would parse in place, or when fn returns
// false. scratch is reused for each command's arguments, which are valid
// only during the call; the last command read stays valid.
func (r *Reader) Pending(scratch [][]byte, fn func(args [][]byte) bool) [][]byte {
	if r.err != nil {
		return scratch
	}
	buf, _ := r.br.Peek(r.br.Buffered())
	for len(buf) > 0 {
		args, n, ok := r.parseComplete(buf, scratch[:0])
		scratch = args
		if !ok || !fn(args) {
			break
		}
		buf = buf[n:]
	}
	return scratch
}

// fastCount parses the "*N\r\n" or "$N\r\n" line (kind is '*' or '$') at
// buf[pos:] as readCountLine and parseCount do, and returns N and where the
// line ends. ok is false if the line is incomplete, too long or invalid.
func fastCount(buf []byte, pos int, kind byte) (n, next int, ok bool) {
	if pos >= len(buf) || buf[pos] != kind {
		return 0, 0, false
	}
	end := min(len(buf), pos+MaxCountLine)
	for i := pos + 1; i < end; i++ {
		if buf[i] != '\n' {
			continue
		}
		v, ok := parseCount(buf[pos : i+1])
		if !ok || v > math.MaxInt32 || v < math.MinInt32 {
			return 0, 0, false
		}
		return int(v), i + 1, true
	}
	return 0, 0, false
}

// release drops the buffers a large command left behind, so that an idle
// connection holds little memory. Entries of a dropped buffer are cleared
// from dst so that they do not keep it alive.
func (r *Reader) release(dst [][]byte) [][]byte {
	if cap(r.buf) > keepBuf {
		clear(dst[:cap(dst)])
		r.buf = nil
	}
	if cap(dst) > keepArgs {
		clear(dst[:cap(dst)])
		dst = nil
	}
	return dst
}

// readMultibulk reads "*N\r\n" and N bulk strings, appending them to args.
func (r *Reader) readMultibulk(args [][]byte) ([][]byte, error) {
	n, err := r.readArrayLen()
	if err != nil || n <= 0 {
		return args, err
	}
	if cap(args) < min(n, firstArgs) {
		args = make([][]byte, 0, min(n, firstArgs))
	}
	r.resetBuf()
	room := r.lim.MaxRequest
	for range n {
		size, err := r.readBulkLen()
		if err != nil {
			return args, err
		}
		if size > room-ArgOverhead {
			return args, ErrTooBigRequest
		}
		room -= size + ArgOverhead
		if args, err = r.readBulk(args, size, n); err != nil {
			return args, err
		}
	}
	return args, nil
}

// resetBuf empties r.buf for a new command. It allocates the buffer after a
// release so that an empty argument is an empty slice, not nil.
func (r *Reader) resetBuf() {
	if r.buf == nil {
		r.buf = make([]byte, 0, min(minBuf, r.lim.MaxRequest))
	}
	r.buf = r.buf[:0]
}

// readArrayLen reads the "*N\r\n" line. A count of zero or less announces no
// command; Redis skips it too.
func (r *Reader) readArrayLen() (int, error) {
	line, err := r.readCountLine(ErrTooBigMultibulkCount)
	if err != nil {
		return 0, err
	}
	n, ok := parseCount(line)
	switch {
	case !ok || n > math.MaxInt32:
		return 0, ErrInvalidMultibulkLength
	case n > int64(r.lim.MaxArgs) && r.lim.PreAuth:
		return 0, ErrUnauthMultibulkLength
	case n > int64(r.lim.MaxArgs):
		return 0, ErrInvalidMultibulkLength
	}
	return int(n), nil
}

// readBulkLen reads the "$N\r\n" line that announces a bulk string.
func (r *Reader) readBulkLen() (int, error) {
	line, err := r.readCountLine(ErrTooBigBulkCount)
	if err != nil {
		return 0, err
	}
	if line[0] != '$' {
		return 0, expectedBulk(line[0])
	}
	n, ok := parseCount(line)
	switch {
	case !ok || n < 0:
		return 0, ErrInvalidBulkLength
	case n > int64(r.lim.MaxBulk) && r.lim.PreAuth:
		return 0, ErrUnauthBulkLength
	case n > int64(r.lim.MaxBulk):
		return 0, ErrInvalidBulkLength
	}
	return int(n), nil
}

// readCountLine returns the next line, "\n" included, if it is at most
// MaxCountLine bytes long. The line points into the bufio buffer and is
// valid until the next read.
func (r *Reader) readCountLine(tooBig error) ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > MaxCountLine {
		return nil, tooBig
	}
	if err != nil {
		return nil, noEOF(err)
	}
	return line, nil
}

// readBulk reads a bulk string of size bytes and its "\r\n", and appends it
// to args, which holds at most n arguments. The bytes go into r.buf, which
// grows as they arrive, so a peer that announces a large string and sends
// little costs little.
func (r *Reader) readBulk(args [][]byte, size, n int) ([][]byte, error) {
	start := len(r.buf)
	for left := size; left > 0; {
		chunk := min(left, max(cap(r.buf)-len(r.buf), readStep))
		args = r.grow(args, chunk)
		end := len(r.buf) + chunk
		got, err := io.ReadFull(r.br, r.buf[len(r.buf):end])
		r.buf = r.buf[:len(r.buf)+got]
		if err != nil {
			return args, noEOF(err)
		}
		left -= chunk
	}
	if err := r.readCRLF(); err != nil {
		return args, err
	}
	if len(args) == cap(args) {
		args = growArgs(args, n)
	}
	return append(args, r.buf[start:len(r.buf):len(r.buf)]), nil
}

// readCRLF consumes the "\r\n" that ends a bulk string.
func (r *Reader) readCRLF() error {
	b, err := r.br.Peek(2)
	if err != nil {
		return noEOF(err)
	}
	if b[0] != '\r' || b[1] != '\n' {
		return ErrBulkTerminator
	}
	_, err = r.br.Discard(2)
	return err
}

// grow makes room for need more bytes in r.buf, doubling it up to
// MaxRequest. The arguments of the current command, which lie back to back
// from the start of r.buf, are moved to the new array, and stale entries
// beyond len(args) are cleared, so that nothing keeps the old array alive.
func (r *Reader) grow(args [][]byte, need int) [][]byte {
	if cap(r.buf)-len(r.buf) >= need {
		return args
	}
	size := min(max(2*cap(r.buf), minBuf), r.lim.MaxRequest)
	size = max(size, len(r.buf)+need)
	buf := make([]byte, len(r.buf), size)
	copy(buf, r.buf)
	off := 0
	for i, a := range args {
		end := off + len(a)
		args[i] = buf[off:end:end]
		off = end
	}
	clear(args[len(args):cap(args)])
	r.buf = buf
	return args
}

// growArgs doubles the capacity of args, but not beyond n, the number of
// arguments announced, so that the slots never run ahead of the arguments
// that actually arrived by more than a factor of two.
func growArgs(args [][]byte, n int) [][]byte {
	size := min(max(2*cap(args), 16), n)
	grown := make([][]byte, len(args), size)
	copy(grown, args)
	clear(args)
	return grown
}

// parseCount parses the number in a "*N\r\n" or "$N\r\n" line the way Redis'
// string2ll does: an optional "-", then "0" alone or a digit 1-9 and more
// digits, at most 20 characters, within int64. It rejects "+1", "01", " 1",
// "1 " and a line that does not end in "\r\n".
func parseCount(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	s := line[1 : len(line)-2]
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' || v > math.MaxUint64/10 {
			return 0, false
		}
		d := uint64(c - '0')
		if v*10 > math.MaxUint64-d {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// noEOF turns io.EOF, which means the peer closed the connection, into
// io.ErrUnexpectedEOF for callers that are inside a command.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
