package resp_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dsm-dev/dsm/resp"
)

// TestReadReplyWriterOutput reads back what a RESP2 Writer wrote.
func TestReadReplyWriterOutput(t *testing.T) {
	var buf bytes.Buffer
	w := resp.NewWriter(&buf, 0)
	w.Simple("OK")
	w.Error("ERR shm: no such variable")
	w.Int(-42)
	w.Bulk([]byte("a\r\nb"))
	w.Null()
	w.Array(3)
	w.Int(1)
	w.NullArray()
	w.Array(1)
	w.BulkString("x")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, src := range []io.Reader{bytes.NewReader(buf.Bytes()), iotest.OneByteReader(bytes.NewReader(buf.Bytes()))} {
		r := resp.NewReplyReader(src, 0, 64)
		var got []string
		for {
			rep, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, show(rep))
		}
		want := `+OK -ERR shm: no such variable :-42 $"a\r\nb" $nil *[:1 *nil *[$"x"]]`
		if s := strings.Join(got, " "); s != want {
			t.Fatalf("read %s\nwant %s", s, want)
		}
	}
}

func show(r resp.Reply) string {
	switch {
	case r.Null:
		return string(r.Type) + "nil"
	case r.Type == ':':
		return ":" + strconv.FormatInt(r.Int, 10)
	case r.Type == '$':
		return "$" + strings.ReplaceAll(strings.ReplaceAll(`"`+string(r.Str)+`"`, "\r", `\r`), "\n", `\n`)
	case r.Type == '*':
		parts := make([]string, len(r.Elems))
		for i, e := range r.Elems {
			parts[i] = show(e)
		}
		return "*[" + strings.Join(parts, " ") + "]"
	}
	return string(r.Type) + string(r.Str)
}

// TestReadReplyRefuses checks the bounds and the malformed forms.
func TestReadReplyRefuses(t *testing.T) {
	for _, in := range []string{
		"$65\r\n", "$-2\r\n", "*-2\r\n", ":12x\r\n", "+OK\n", "?x\r\n",
		"$1\r\nab\r\n", strings.Repeat("*1\r\n", 9) + ":1\r\n", "*2000000\r\n",
	} {
		_, err := resp.NewReplyReader(strings.NewReader(in), 0, 64).Read()
		if !errors.Is(err, resp.ErrBadReply) {
			t.Errorf("%q: %v, want ErrBadReply", in, err)
		}
	}
	for _, in := range []string{"$3\r\nab", "*2\r\n:1\r\n", "+OK"} {
		_, err := resp.NewReplyReader(strings.NewReader(in), 0, 64).Read()
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%q: %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
}

// FuzzReadReply feeds arbitrary bytes to a ReplyReader: it must not panic
// and must end with io.EOF, io.ErrUnexpectedEOF or ErrBadReply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$1\r\na\r\n", "$-1\r\n", "*2\r\n:1\r\n$0\r\n\r\n", "*-1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := resp.NewReplyReader(bytes.NewReader(data), 64, 32)
		for {
			_, err := r.Read()
			if err == nil {
				continue
			}
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, resp.ErrBadReply) {
				t.Fatalf("ended with %v", err)
			}
			return
		}
	})
}
