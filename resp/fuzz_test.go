package resp_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dsm-dev/dsm/resp"
)

// tinyLimits make the fuzzer reach every limit with short inputs. MaxInline
// does not exceed MaxBulk, so that every inline command re-encodes as a
// multibulk one within the same limits.
var tinyLimits = resp.Limits{MaxArgs: 8, MaxBulk: 32, MaxInline: 32, MaxRequest: 512}

// FuzzReadCommand feeds arbitrary bytes to a Reader. It must not panic, must
// end with io.EOF, io.ErrUnexpectedEOF or a protocol error, must keep every
// command and its buffer within the limits, must parse the same when the
// bytes arrive one at a time, and every command it returns must read back
// the same after encoding it as multibulk.
func FuzzReadCommand(f *testing.F) {
	for _, c := range append(validCases, hostileCases...) {
		f.Add([]byte(c.in))
	}
	for _, s := range []string{
		"", "\r\n", "*", "$", "*1\r\n$0\r\n\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"SET k \"\\xff\\x00\" 'a\\'b'\n", strings.Repeat("a ", 20) + "\n",
		string(multibulk(make([]string, 9))), string(multibulk([]string{strings.Repeat("v", 40)})),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range []resp.Limits{resp.DefaultLimits(), tinyLimits} {
			got := parseAll(t, bytes.NewReader(data), lim)
			if !isEndOrProtocol(got.err) {
				t.Fatalf("ended with %v", got.err)
			}
			if slow := parseAll(t, iotest.OneByteReader(bytes.NewReader(data)), lim); !slow.equal(got) {
				t.Fatalf("one byte at a time: %v, whole: %v", slow, got)
			}
			again := parseAll(t, bytes.NewReader(multibulk(got.cmds...)), lim)
			if want := (parsed{cmds: got.cmds, err: io.EOF}); !again.equal(want) {
				t.Fatalf("re-encoded: %v, first: %v", again, want)
			}
		}
	})
}
