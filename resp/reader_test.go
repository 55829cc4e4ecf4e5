package resp_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dsm-dev/dsm/resp"
)

type readCase struct {
	name string
	in   string
	want [][]string
	err  error  // io.EOF, io.ErrUnexpectedEOF or a sentinel matched with errors.Is
	text string // the error text, when it carries details
}

var validCases = []readCase{
	{name: "multibulk", in: "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
		want: [][]string{{"SET", "key", "value"}}},
	{name: "pipelined multibulk", in: "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n",
		want: [][]string{{"PING"}, {"GET", "x"}, {"PING"}}},
	{name: "empty and binary bulks", in: "*3\r\n$0\r\n\r\n$6\r\na\r\n\x00\xffb\r\n$2\r\n\r\n\r\n",
		want: [][]string{{"", "a\r\n\x00\xffb", "\r\n"}}},
	{name: "zero and negative counts are skipped", in: "*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n",
		want: [][]string{{"PING"}}},
	{name: "only a skipped count", in: "*-1\r\n"},
	{name: "inline CRLF", in: "PING\r\n", want: [][]string{{"PING"}}},
	{name: "inline LF", in: "PING\n", want: [][]string{{"PING"}}},
	{name: "inline blanks", in: " \t set   a\tb  \r\n", want: [][]string{{"set", "a", "b"}}},
	{name: "inline CR inside splits", in: "a\rb\r\n", want: [][]string{{"a", "b"}}},
	{name: "inline vertical tab inside a word", in: "a\vb \vc\n", want: [][]string{{"a\vb", "c"}}},
	{name: "empty lines skipped", in: "\r\n\n   \r\n\t\nPING\r\n", want: [][]string{{"PING"}}},
	{name: "double quotes", in: `set "a b" "" "x"` + "\r\n", want: [][]string{{"set", "a b", "", "x"}}},
	{name: "single quotes", in: `set 'a b' '' 'it\'s' 'a\nb'` + "\r\n",
		want: [][]string{{"set", "a b", "", "it's", `a\nb`}}},
	{name: "escapes", in: `"\x41\x4a\x4B\x00" "\n\r\t\b\a" "\"\\" "\q" "\xZZ" "\x4"` + "\n",
		want: [][]string{{"AJK\x00", "\n\r\t\b\a", `"\`, "q", "xZZ", "x4"}}},
	{name: "quote inside a word", in: `foo"bar baz" x'y z'` + "\n", want: [][]string{{"foobar baz", "xy z"}}},
	{name: "quote then blank kinds", in: "\"a\"\t'b'\v\"c\"\r\n", want: [][]string{{"a", "b", "c"}}},
	{name: "raw bytes inline", in: "get \xff\xfe\x01\r\n", want: [][]string{{"get", "\xff\xfe\x01"}}},
	{name: "inline then multibulk pipelined", in: "PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nQUIT\n",
		want: [][]string{{"PING"}, {"ECHO", "hi"}, {"QUIT"}}},
	{name: "dollar starts an inline command", in: "$3\r\nfoo\r\n", want: [][]string{{"$3"}, {"foo"}}},
	{name: "largest allowed count", in: "*1\r\n$0\r\n\r\n*-9223372036854775808\r\n",
		want: [][]string{{""}}},
}

var hostileCases = []readCase{
	// lengths that are negative, overflow, are not numbers or are too large
	{name: "negative bulk", in: "*1\r\n$-1\r\n", err: resp.ErrInvalidBulkLength},
	{name: "negative bulk 10", in: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", err: resp.ErrInvalidBulkLength},
	{name: "max int64 bulk", in: "*1\r\n$9223372036854775807\r\n", err: resp.ErrInvalidBulkLength},
	{name: "overflowing bulk", in: "*1\r\n$9223372036854775808\r\n", err: resp.ErrInvalidBulkLength},
	{name: "overflowing uint64 bulk", in: "*1\r\n$18446744073709551616\r\n", err: resp.ErrInvalidBulkLength},
	{name: "21-digit bulk", in: "*1\r\n$000000000000000000001\r\n", err: resp.ErrInvalidBulkLength},
	{name: "bulk over MaxBulk", in: "*1\r\n$1048577\r\n", err: resp.ErrInvalidBulkLength},
	{name: "bulk 2e9", in: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", err: resp.ErrInvalidBulkLength},
	{name: "plus bulk", in: "*1\r\n$+1\r\na\r\n", err: resp.ErrInvalidBulkLength},
	{name: "leading zero bulk", in: "*1\r\n$01\r\na\r\n", err: resp.ErrInvalidBulkLength},
	{name: "minus zero bulk", in: "*1\r\n$-0\r\n\r\n", err: resp.ErrInvalidBulkLength},
	{name: "blank bulk", in: "*1\r\n$ 1\r\na\r\n", err: resp.ErrInvalidBulkLength},
	{name: "trailing blank bulk", in: "*1\r\n$1 \r\na\r\n", err: resp.ErrInvalidBulkLength},
	{name: "empty bulk length", in: "*1\r\n$\r\n", err: resp.ErrInvalidBulkLength},
	{name: "word bulk", in: "*1\r\n$blabla\r\n", err: resp.ErrInvalidBulkLength},
	{name: "float bulk", in: "*1\r\n$1.5\r\n", err: resp.ErrInvalidBulkLength},
	{name: "LF-only bulk line", in: "*1\r\n$1\na\r\n", err: resp.ErrInvalidBulkLength},
	{name: "negative count", in: "*-2\r\n"}, // skipped, as in Redis
	{name: "huge negative count", in: "*-9223372036854775808\r\n"},
	{name: "overflowing negative count", in: "*-9223372036854775809\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "max int64 count", in: "*9223372036854775807\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "count over int32", in: "*3000000000\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "count over MaxArgs", in: "*1048577\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "plus count", in: "*+1\r\n$1\r\na\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "leading zero count", in: "*01\r\n$1\r\na\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "empty count", in: "*\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "minus count", in: "*-\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "word count", in: "*abc\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "LF-only count", in: "*1\n$1\r\na\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "count line too big", in: "*" + strings.Repeat("1", 70) + "\r\n", err: resp.ErrTooBigMultibulkCount},
	{name: "bulk line too big", in: "*1\r\n$" + strings.Repeat("1", 70) + "\r\n", err: resp.ErrTooBigBulkCount},
	// framing
	{name: "no dollar", in: "*1\r\nfoo\r\n", err: resp.ErrExpectedBulk, text: "Protocol error: expected '$', got 'f'"},
	{name: "no dollar after args", in: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
		err: resp.ErrExpectedBulk, text: "Protocol error: expected '$', got 'f'"},
	{name: "bulk too long for its length", in: "*1\r\n$2\r\nfoo\r\n", err: resp.ErrBulkTerminator},
	{name: "bulk without CRLF", in: "*1\r\n$3\r\nfooXY", err: resp.ErrBulkTerminator},
	{name: "bulk with LF only", in: "*1\r\n$3\r\nfoo\n\n", err: resp.ErrBulkTerminator},
	// inline
	{name: "unbalanced double", in: `set "foo` + "\r\n", err: resp.ErrUnbalancedQuotes},
	{name: "unbalanced single", in: "set 'foo\r\n", err: resp.ErrUnbalancedQuotes},
	{name: "unbalanced triple quotes", in: `set """test-key""" test-value` + "\r\nping\r\n", err: resp.ErrUnbalancedQuotes},
	{name: "closing quote then letter", in: `"foo"bar` + "\n", err: resp.ErrUnbalancedQuotes},
	{name: "backslash at end of quote", in: `"foo\` + "\n", err: resp.ErrUnbalancedQuotes},
	{name: "escaped closing quote", in: `'foo\'` + "\n", err: resp.ErrUnbalancedQuotes},
	// NUL bytes
	{name: "NUL", in: "\x00", err: resp.ErrInlineNUL},
	{name: "NUL line", in: "\x00\r\n", err: resp.ErrInlineNUL},
	{name: "NUL in command", in: "PI\x00NG\r\n", err: resp.ErrInlineNUL},
	{name: "NUL after dollar", in: "$\x00" + strings.Repeat("A", 1024) + "\n", err: resp.ErrInlineNUL},
	{name: "NUL after star", in: "*\x00" + strings.Repeat("A", 1024) + "\n", err: resp.ErrTooBigMultibulkCount},
	{name: "NUL count", in: "*\x00\r\n", err: resp.ErrInvalidMultibulkLength},
	{name: "NUL bulk length", in: "*1\r\n$\x00\r\n", err: resp.ErrInvalidBulkLength},
	// truncated
	{name: "truncated count", in: "*1", err: io.ErrUnexpectedEOF},
	{name: "truncated before bulk", in: "*2\r\n$1\r\na\r\n", err: io.ErrUnexpectedEOF},
	{name: "truncated bulk", in: "*1\r\n$5\r\nab", err: io.ErrUnexpectedEOF},
	{name: "truncated CRLF", in: "*1\r\n$1\r\na\r", err: io.ErrUnexpectedEOF},
	{name: "truncated inline", in: "PING", err: io.ErrUnexpectedEOF},
	{name: "announced, never sent", in: "*1\r\n$1048576\r\n", err: io.ErrUnexpectedEOF},
	{name: "million announced, one sent", in: "*1000000\r\n$1\r\na\r\n", err: io.ErrUnexpectedEOF},
}

func TestReadCommand(t *testing.T) {
	for _, c := range append(validCases, hostileCases...) {
		t.Run(c.name, func(t *testing.T) {
			got := parseAll(t, strings.NewReader(c.in), resp.DefaultLimits())
			checkCase(t, c, got)
		})
	}
}

func checkCase(t *testing.T, c readCase, got parsed) {
	t.Helper()
	wantErr := c.err
	if wantErr == nil {
		wantErr = io.EOF
	}
	if !errors.Is(got.err, wantErr) {
		t.Fatalf("got %v, want error %v", got, wantErr)
	}
	if c.text != "" && got.err.Error() != c.text {
		t.Errorf("error text %q, want %q", got.err, c.text)
	}
	if !(parsed{cmds: c.want, err: got.err}).equal(got) {
		t.Errorf("got %v, want %q", got, c.want)
	}
}

// TestShortReads checks that how the bytes arrive does not change what is
// parsed: whole, one byte at a time, half of each read, or with the final
// data and io.EOF together.
func TestShortReads(t *testing.T) {
	wrappers := map[string]func(io.Reader) io.Reader{
		"OneByteReader": iotest.OneByteReader,
		"HalfReader":    iotest.HalfReader,
		"DataErrReader": iotest.DataErrReader,
	}
	cases := append(validCases, hostileCases...)
	cases = append(cases, readCase{name: "long pipeline", in: strings.Repeat(
		"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$100\r\n"+strings.Repeat("v", 100)+"\r\nPING\r\n", 200)})
	cases = append(cases, readCase{name: "big bulk", in: string(multibulk([]string{"SET", "k", strings.Repeat("x", 300<<10)}))})
	for _, c := range cases {
		want := parseAll(t, strings.NewReader(c.in), resp.DefaultLimits())
		for name, wrap := range wrappers {
			got := parseAll(t, wrap(strings.NewReader(c.in)), resp.DefaultLimits())
			if !got.equal(want) {
				t.Errorf("%s/%s: got %.200v, want %.200v", c.name, name, got, want)
			}
		}
	}
}

// TestTruncated cuts a valid pipeline at every byte: the commands wholly
// before the cut come out, then io.EOF if the cut falls between commands,
// io.ErrUnexpectedEOF if inside one.
func TestTruncated(t *testing.T) {
	cmds := [][]string{{"SET", "key", "value"}, {"PING"}, {"GET", ""}, {"ECHO", "a b"}}
	var full []byte
	var ends []int // where each command ends
	for _, c := range cmds[:3] {
		full = append(full, multibulk(c)...)
		ends = append(ends, len(full))
	}
	full = append(full, "ECHO 'a b'\r\n"...)
	ends = append(ends, len(full))
	for cut := 0; cut <= len(full); cut++ {
		got := parseAll(t, bytes.NewReader(full[:cut]), resp.DefaultLimits())
		want := parsed{err: io.EOF}
		for i, end := range ends {
			if end <= cut {
				want.cmds = append(want.cmds, cmds[i])
			}
		}
		if cut > 0 && !slices.Contains(ends, cut) {
			want.err = io.ErrUnexpectedEOF
		}
		if !got.equal(want) {
			t.Errorf("cut at %d: got %v, want %v", cut, got, want)
		}
	}
}

func TestRandomBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		data := make([]byte, rng.IntN(8<<10))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		if i%2 == 1 && len(data) > 0 {
			data[0] = '*' // steer half of them into the multibulk parser
		}
		got := parseAll(t, bytes.NewReader(data), resp.DefaultLimits())
		if !isEndOrProtocol(got.err) {
			t.Fatalf("input %d: ended with %v", i, got.err)
		}
	}
}

func TestNULAlwaysFails(t *testing.T) {
	for _, in := range []string{"\x00", "\x00\x00\x00\x00", "\x00\r\n", "ab\x00\n", "*1\r\n\x00\r\n"} {
		got := parseAll(t, strings.NewReader(in), resp.DefaultLimits())
		var pe *resp.ProtocolError
		if !errors.As(got.err, &pe) || len(got.cmds) != 0 {
			t.Errorf("%q: got %v, want a protocol error", in, got)
		}
	}
}

// TestLongLineNoNewline sends 1 MiB without a newline and checks that the
// Reader gives up once the line passes its limit, having read little of it.
func TestLongLineNoNewline(t *testing.T) {
	mib := strings.Repeat("A", 1<<20)
	digits := strings.Repeat("1", 1<<20)
	for _, c := range []struct {
		in   string
		err  error
		read int // most bytes the Reader may consume
	}{
		{mib, resp.ErrTooBigInline, 64<<10 + resp.DefaultBufferSize},
		{"*" + digits, resp.ErrTooBigMultibulkCount, resp.DefaultBufferSize},
		{"*1\r\n$" + digits, resp.ErrTooBigBulkCount, 2 * resp.DefaultBufferSize},
		{"set k \"" + mib, resp.ErrTooBigInline, 64<<10 + resp.DefaultBufferSize},
	} {
		src := &countingReader{r: strings.NewReader(c.in)}
		r := resp.NewReader(src, 0)
		_, err := r.ReadCommand(nil)
		if !errors.Is(err, c.err) {
			t.Errorf("%.10q…: got %v, want %v", c.in, err, c.err)
		}
		if src.n > c.read {
			t.Errorf("%.10q…: read %d bytes, want at most %d", c.in, src.n, c.read)
		}
		if r.BufCap() > 64<<10 {
			t.Errorf("%.10q…: buffer grew to %d", c.in, r.BufCap())
		}
	}
}

func TestInlineLimit(t *testing.T) {
	lim := resp.Limits{MaxInline: 16}
	ok := strings.Repeat("a", 14) + "\r\n" // exactly 16 bytes with CRLF
	got := parseAll(t, strings.NewReader(ok+"x"+ok), lim)
	want := parsed{cmds: [][]string{{strings.Repeat("a", 14)}}, err: resp.ErrTooBigInline}
	if !got.equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = parseAll(t, strings.NewReader(strings.Repeat("a ", 9)+"\n"), resp.Limits{MaxArgs: 8})
	if !errors.Is(got.err, resp.ErrTooManyInlineArgs) {
		t.Errorf("9 inline words with MaxArgs 8: got %v", got)
	}
}

// TestMillionHeader checks that an array header announcing 10^6 elements
// reserves slots only for the elements that arrive.
func TestMillionHeader(t *testing.T) {
	in := "*1000000\r\n" + strings.Repeat("$1\r\na\r\n", 10)
	r := resp.NewReader(strings.NewReader(in), 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := r.ReadCommand(nil)
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	// 10^6 slots would be 24 MB; 1024 slots, the bufio buffer and the
	// first payload buffer are about 29 KiB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("allocated %d bytes for 10 of 10^6 announced elements", n)
	}
}

// TestMillionArgs reads a command of 10^6 empty arguments: too big for
// DefaultLimits (MaxRequest counts 48 bytes per argument), accepted with a
// larger MaxRequest.
func TestMillionArgs(t *testing.T) {
	if testing.Short() {
		t.Skip("6 MB of input")
	}
	in := "*1000000\r\n" + strings.Repeat("$0\r\n\r\n", 1000000) + "PING\r\n"
	r := resp.NewReader(strings.NewReader(in), 0)
	if _, err := r.ReadCommand(nil); !errors.Is(err, resp.ErrTooBigRequest) {
		t.Fatalf("default limits: got %v, want ErrTooBigRequest", err)
	}
	r = resp.NewReader(strings.NewReader(in), 0)
	r.SetLimits(resp.Limits{MaxRequest: 48 << 20})
	args, err := r.ReadCommand(nil)
	if err != nil || len(args) != 1000000 {
		t.Fatalf("got %d args, %v", len(args), err)
	}
	// The next command starts with small buffers again.
	args, err = r.ReadCommand(args)
	if err != nil || len(args) != 1 || string(args[0]) != "PING" || cap(args) > 1024 || r.BufCap() > 8<<10 {
		t.Fatalf("after: %q %v cap %d buf %d", args, err, cap(args), r.BufCap())
	}
}

func TestPreAuthLimits(t *testing.T) {
	ten := make([]string, 10)
	for _, c := range []readCase{
		{name: "10 args", in: string(multibulk(ten)), want: [][]string{ten}},
		{name: "16 KiB", in: string(multibulk([]string{strings.Repeat("a", 16<<10)})), want: [][]string{{strings.Repeat("a", 16<<10)}}},
		{name: "11 args", in: "*11\r\n", err: resp.ErrUnauthMultibulkLength},
		{name: "count over int32", in: "*3000000000\r\n", err: resp.ErrInvalidMultibulkLength},
		{name: "16 KiB + 1", in: "*1\r\n$16385\r\n", err: resp.ErrUnauthBulkLength},
		{name: "negative bulk", in: "*1\r\n$-1\r\n", err: resp.ErrInvalidBulkLength},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkCase(t, c, parseAll(t, strings.NewReader(c.in), resp.PreAuthLimits()))
		})
	}
}

func TestMaxRequest(t *testing.T) {
	lim := resp.Limits{MaxRequest: 3*resp.ArgOverhead + 10}
	fits := multibulk([]string{"SET", "k", "123456"})  // 10 bytes of payload
	over := multibulk([]string{"SET", "k", "1234567"}) // 11
	many := multibulk([]string{"a", "b", "c", "d"})    // 4 arguments
	inline := []byte("SET k 12345\n")                  // the line counts: 12
	got := parseAll(t, bytes.NewReader(append(fits, over...)), lim)
	want := parsed{cmds: [][]string{{"SET", "k", "123456"}}, err: resp.ErrTooBigRequest}
	if !got.equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, in := range [][]byte{many, inline} {
		if got := parseAll(t, bytes.NewReader(in), lim); !errors.Is(got.err, resp.ErrTooBigRequest) {
			t.Errorf("%q: got %v, want ErrTooBigRequest", in, got)
		}
	}
}

func TestSetLimitsDefaults(t *testing.T) {
	r := resp.NewReader(strings.NewReader(""), 0)
	if got := r.Limits(); got != resp.DefaultLimits() {
		t.Errorf("new Reader: %+v", got)
	}
	r.SetLimits(resp.Limits{MaxBulk: -1, MaxArgs: 3})
	want := resp.DefaultLimits()
	want.MaxArgs = 3
	if got := r.Limits(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	r.SetLimits(resp.Limits{MaxRequest: 100, MaxInline: 1000})
	if got := r.Limits().MaxInline; got != 100 {
		t.Errorf("MaxInline %d, want it lowered to MaxRequest 100", got)
	}
}

// TestStickyErrors: an error inside a command repeats; an error before a
// command started does not.
func TestStickyErrors(t *testing.T) {
	r := resp.NewReader(iotest.TimeoutReader(strings.NewReader("PING\r\n")), 0)
	for i, want := range []error{nil, iotest.ErrTimeout, io.EOF} {
		if _, err := r.ReadCommand(nil); err != want {
			t.Fatalf("call %d: got %v, want %v", i, err, want)
		}
	}

	broken := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("*1\r\n$3\r\nfo"), iotest.ErrReader(broken), strings.NewReader("o\r\n"))
	r = resp.NewReader(src, 0)
	for i := range 2 {
		if _, err := r.ReadCommand(nil); err != broken {
			t.Fatalf("call %d: got %v, want %v", i, err, broken)
		}
	}

	r = resp.NewReader(strings.NewReader("*x\r\nPING\r\n"), 0)
	for i := range 2 {
		if _, err := r.ReadCommand(nil); err != resp.ErrInvalidMultibulkLength {
			t.Fatalf("call %d: got %v", i, err)
		}
	}
}

func TestBuffered(t *testing.T) {
	r := resp.NewReader(strings.NewReader("PING\r\nPING\r\n"), 0)
	if _, err := r.ReadCommand(nil); err != nil || r.Buffered() != 6 {
		t.Fatalf("after the first of two: err %v, Buffered %d, want 6", err, r.Buffered())
	}
	if _, err := r.ReadCommand(nil); err != nil || r.Buffered() != 0 {
		t.Fatalf("after the second: err %v, Buffered %d, want 0", err, r.Buffered())
	}
}

// TestArgsAlias checks the documented lifetime: arguments stay intact until
// the next call, also across buffer growth inside one command.
func TestArgsAlias(t *testing.T) {
	big := strings.Repeat("b", 200<<10)
	in := multibulk([]string{"a", "bb", big, "ccc"}, []string{"x"})
	r := resp.NewReader(iotest.HalfReader(bytes.NewReader(in)), 0)
	args, err := r.ReadCommand(nil)
	if err != nil || !equalStrs(args, "a", "bb", big, "ccc") {
		t.Fatalf("got %.40q, %v", args, err)
	}
	if args, err = r.ReadCommand(args); err != nil || !equalStrs(args, "x") {
		t.Fatalf("got %q, %v", args, err)
	}
}

func equalStrs(args [][]byte, want ...string) bool {
	if len(args) != len(want) {
		return false
	}
	for i := range args {
		if string(args[i]) != want[i] {
			return false
		}
	}
	return true
}

// TestIdleMemory checks that buffers grown for a big command are let go
// when the next one is read.
func TestIdleMemory(t *testing.T) {
	in := append(multibulk([]string{"SET", "k", strings.Repeat("v", 500<<10)}), "PING\r\n"...)
	r := resp.NewReader(bytes.NewReader(in), 0)
	args, _ := r.ReadCommand(nil)
	if r.BufCap() < 500<<10 {
		t.Fatalf("buffer %d after a 500 KiB argument", r.BufCap())
	}
	if _, err := r.ReadCommand(args); err != nil || r.BufCap() > 8<<10 {
		t.Fatalf("buffer %d after a small command, err %v", r.BufCap(), err)
	}
}

// TestReadCommandAllocs: reading a pipelined SET allocates nothing once the
// Reader's buffers exist.
func TestReadCommandAllocs(t *testing.T) {
	r := resp.NewReader(&repeatReader{data: multibulk([]string{"SET", "key:000001", "value"})}, 0)
	args, _ := r.ReadCommand(nil)
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		if args, err = r.ReadCommand(args); err != nil || len(args) != 3 {
			t.Fatalf("%q %v", args, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per command, want 0", allocs)
	}
}

// TestIdleConnectionMemory measures what a connection's Reader and Writer
// keep once a command, even a large one, has been served: the package
// promises under 20 KiB with 4 KiB bufio buffers.
func TestIdleConnectionMemory(t *testing.T) {
	const conns = 200
	in := append(multibulk([]string{"SET", "k", strings.Repeat("v", 100<<10)}), multibulk([]string{"GET", "k"})...)
	readers := make([]*resp.Reader, conns)
	writers := make([]*resp.Writer, conns)
	args := make([][][]byte, conns)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range conns {
		readers[i] = resp.NewReader(bytes.NewReader(in), 0)
		writers[i] = resp.NewWriter(discard{}, 0)
		for {
			var err error
			if args[i], err = readers[i].ReadCommand(args[i]); err != nil {
				break // io.EOF, after the buffers were released
			}
			writers[i].Bulk(args[i][len(args[i])-1])
		}
		writers[i].Flush()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	t.Logf("%d bytes per idle connection", per)
	if per > 20<<10 {
		t.Errorf("%d bytes per idle connection, want under 20 KiB", per)
	}
	runtime.KeepAlive(readers)
	runtime.KeepAlive(writers)
	runtime.KeepAlive(args)
}
