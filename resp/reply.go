package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrBadReply is returned by ReplyReader.Read for bytes that are not a
// RESP2 reply, or one beyond the reader's bounds; the stream cannot be
// read further.
var ErrBadReply = errors.New("resp: malformed reply")

// Reply is one RESP2 reply as a client reads it.
type Reply struct {
	// Type is the reply's first byte: '+' simple string, '-' error, ':'
	// integer, '$' bulk string, '*' array.
	Type byte
	// Null marks a null bulk string or array ("$-1", "*-1").
	Null bool
	// Str is a simple string's, an error's or a bulk string's bytes.
	Str []byte
	// Int is an integer's value.
	Int int64
	// Elems are an array's elements.
	Elems []Reply
}

// IsError reports whether r is an error reply.
func (r Reply) IsError() bool { return r.Type == '-' }

// Bounds of a ReplyReader: nesting depth, and the elements announced by
// one array before any is read (the slice grows only as they arrive).
const (
	maxReplyDepth    = 8
	maxReplyPrealloc = 64
	maxReplyElems    = 1 << 20
)

// ReplyReader reads the replies a server sends, for a client (package
// shm's connection to a node's daemon). It checks every length before it
// allocates: a bulk string above its maxBulk, an array of more than 2^20
// elements or nested more than 8 deep, and a line longer than its buffer
// are ErrBadReply. It is not safe for concurrent use.
type ReplyReader struct {
	br      *bufio.Reader
	maxBulk int
}

// NewReplyReader reads replies from r with a buffer of size bytes (which
// bounds a simple string or an error) and bulk strings of at most maxBulk
// bytes.
func NewReplyReader(r io.Reader, size, maxBulk int) *ReplyReader {
	if size <= 0 {
		size = DefaultBufferSize
	}
	return &ReplyReader{br: bufio.NewReaderSize(r, size), maxBulk: maxBulk}
}

// Read returns the next reply. It returns io.EOF if the stream ends
// between replies, io.ErrUnexpectedEOF inside one, an error of the
// connection as is, and ErrBadReply for malformed input.
func (r *ReplyReader) Read() (Reply, error) { return r.read(0) }

func (r *ReplyReader) read(depth int) (Reply, error) {
	line, err := r.line(depth)
	if err != nil {
		return Reply{}, err
	}
	rep := Reply{Type: line[0]}
	body := line[1:]
	switch rep.Type {
	case '+', '-':
		rep.Str = append([]byte(nil), body...)
		return rep, nil
	case ':':
		rep.Int, err = parseReplyInt(body)
		return rep, err
	case '$':
		return r.bulk(rep, body)
	case '*':
		return r.array(rep, body, depth)
	}
	return Reply{}, fmt.Errorf("%w: unknown type %q", ErrBadReply, rep.Type)
}

// line reads one line up to its CRLF and returns it without the CRLF.
func (r *ReplyReader) line(depth int) ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrBadReply, r.br.Size())
	case err == io.EOF && (depth > 0 || len(line) > 0):
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	case len(line) < 3 || line[len(line)-2] != '\r':
		return nil, fmt.Errorf("%w: %q", ErrBadReply, line)
	}
	return line[:len(line)-2], nil
}

func parseReplyInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: integer %q", ErrBadReply, b)
	}
	return n, nil
}

// bulk reads a bulk string's bytes and CRLF, its length checked first.
func (r *ReplyReader) bulk(rep Reply, head []byte) (Reply, error) {
	n, err := parseReplyInt(head)
	switch {
	case err != nil:
		return Reply{}, err
	case n == -1:
		rep.Null = true
		return rep, nil
	case n < 0 || n > int64(r.maxBulk):
		return Reply{}, fmt.Errorf("%w: bulk length %d (at most %d)", ErrBadReply, n, r.maxBulk)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return Reply{}, unexpected(err)
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return Reply{}, fmt.Errorf("%w: bulk string not followed by CRLF", ErrBadReply)
	}
	rep.Str = buf[:n:n]
	return rep, nil
}

// array reads an array's elements, which it allocates as they arrive.
func (r *ReplyReader) array(rep Reply, head []byte, depth int) (Reply, error) {
	n, err := parseReplyInt(head)
	switch {
	case err != nil:
		return Reply{}, err
	case n == -1:
		rep.Null = true
		return rep, nil
	case n < 0 || n > maxReplyElems:
		return Reply{}, fmt.Errorf("%w: array length %d", ErrBadReply, n)
	case depth+1 >= maxReplyDepth:
		return Reply{}, fmt.Errorf("%w: arrays nested more than %d deep", ErrBadReply, maxReplyDepth)
	}
	rep.Elems = make([]Reply, 0, min(n, maxReplyPrealloc))
	for range n {
		e, err := r.read(depth + 1)
		if err != nil {
			return Reply{}, unexpected(err)
		}
		rep.Elems = append(rep.Elems, e)
	}
	return rep, nil
}

// unexpected turns io.EOF inside a reply into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
