package resp_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/dsm-dev/dsm/resp"
)

// parsed is what a Reader made of a stream: the commands it returned, then
// the error that ended it.
type parsed struct {
	cmds [][]string
	err  error
}

func (p parsed) String() string {
	return fmt.Sprintf("%q then %v", p.cmds, p.err)
}

// equal compares two outcomes; errors compare by text, since some protocol
// errors carry details and are built fresh.
func (p parsed) equal(q parsed) bool {
	return slices.EqualFunc(p.cmds, q.cmds, slices.Equal[[]string]) && errText(p.err) == errText(q.err)
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// parseAll reads commands from src until an error, checking after each one
// that the Reader stayed within lim.
func parseAll(tb testing.TB, src io.Reader, lim resp.Limits) parsed {
	tb.Helper()
	r := resp.NewReader(src, 0)
	r.SetLimits(lim)
	lim = r.Limits()
	var p parsed
	var args [][]byte
	for {
		var err error
		args, err = r.ReadCommand(args)
		if err != nil {
			p.err = err
			return p
		}
		checkLimits(tb, r, lim, args)
		p.cmds = append(p.cmds, strs(args))
	}
}

// checkLimits fails tb if a command broke the limits or the Reader's payload
// buffer outgrew MaxRequest.
func checkLimits(tb testing.TB, r *resp.Reader, lim resp.Limits, args [][]byte) {
	tb.Helper()
	if len(args) == 0 || len(args) > lim.MaxArgs {
		tb.Fatalf("%d args, limit %d", len(args), lim.MaxArgs)
	}
	cost := 0
	for _, a := range args {
		if len(a) > max(lim.MaxBulk, lim.MaxInline) {
			tb.Fatalf("arg of %d bytes, limits %d/%d", len(a), lim.MaxBulk, lim.MaxInline)
		}
		cost += len(a) + resp.ArgOverhead
	}
	if cost > lim.MaxRequest {
		tb.Fatalf("command costs %d, MaxRequest %d", cost, lim.MaxRequest)
	}
	if r.BufCap() > lim.MaxRequest {
		tb.Fatalf("payload buffer %d bytes, MaxRequest %d", r.BufCap(), lim.MaxRequest)
	}
}

func strs(args [][]byte) []string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = string(a)
	}
	return s
}

// multibulk encodes commands as a client library would send them.
func multibulk(cmds ...[]string) []byte {
	var b []byte
	for _, c := range cmds {
		b = append(b, '*')
		b = strconv.AppendInt(b, int64(len(c)), 10)
		b = append(b, "\r\n"...)
		for _, a := range c {
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(len(a)), 10)
			b = append(b, "\r\n"...)
			b = append(b, a...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// isEndOrProtocol reports whether err is one a hostile stream may end with:
// the end of the input or a protocol error.
func isEndOrProtocol(err error) bool {
	var pe *resp.ProtocolError
	return err == io.EOF || err == io.ErrUnexpectedEOF || errors.As(err, &pe)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// repeatReader returns data over and over, for benchmarks and allocation
// tests that need an endless stream.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}
