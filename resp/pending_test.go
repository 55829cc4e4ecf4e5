package resp_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/dsm-dev/dsm/resp"
)

// pendingNow returns what Pending reports, as strings.
func pendingNow(r *resp.Reader, stopAfter int) [][]string {
	var got [][]string
	r.Pending(nil, func(args [][]byte) bool {
		got = append(got, strs(args))
		return len(got) < stopAfter
	})
	return got
}

// TestPending: Pending reports the whole multibulk commands buffered
// behind the last one read, in order, stops at an inline or incomplete
// one, consumes nothing, and leaves the last command's arguments intact.
func TestPending(t *testing.T) {
	in := slices.Concat(
		multibulk([]string{"GET", "a"}, []string{"SET", "b", "1"}, []string{"MSET", "c", "1", "d", "2"}),
		[]byte("PING\r\n"),
		multibulk([]string{"GET", "z"}),
		[]byte("*2\r\n$3\r\nGET\r\n$1\r\n"), // incomplete
	)
	r := resp.NewReader(bytes.NewReader(in), 0)
	first, err := r.ReadCommand(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"SET", "b", "1"}, {"MSET", "c", "1", "d", "2"}}
	if got := pendingNow(r, 100); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Pending after GET a = %q, want %q", got, want)
	}
	if got := pendingNow(r, 1); len(got) != 1 {
		t.Fatalf("Pending with fn returning false at once reported %d commands, want 1", len(got))
	}
	if got := strs(first); !slices.Equal(got, []string{"GET", "a"}) {
		t.Fatalf("the command read before Pending became %q", got)
	}
	// Nothing was consumed: ReadCommand returns every command in order.
	for _, w := range [][]string{{"SET", "b", "1"}, {"MSET", "c", "1", "d", "2"}, {"PING"}} {
		args, err := r.ReadCommand(nil)
		if err != nil || !slices.Equal(strs(args), w) {
			t.Fatalf("ReadCommand = %q, %v; want %q", strs(args), err, w)
		}
	}
	// Behind the inline PING: GET z, then the incomplete command is not
	// reported.
	if got := pendingNow(r, 100); len(got) != 1 || !slices.Equal(got[0], []string{"GET", "z"}) {
		t.Fatalf("Pending after PING = %q, want [[GET z]]", got)
	}
	if args, err := r.ReadCommand(nil); err != nil || !slices.Equal(strs(args), []string{"GET", "z"}) {
		t.Fatalf("ReadCommand = %q, %v; want [GET z]", strs(args), err)
	}
	if got := pendingNow(r, 100); len(got) != 0 {
		t.Fatalf("Pending reported the incomplete command: %q", got)
	}
	if _, err := r.ReadCommand(nil); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadCommand of the incomplete command: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestPendingLimits: a command that breaks a limit is not reported (ReadCommand
// will report the error), nor is anything behind it.
func TestPendingLimits(t *testing.T) {
	in := multibulk([]string{"GET", "a"}, []string{"MGET", "a", "b", "c", "d"}, []string{"GET", "b"})
	r := resp.NewReader(bytes.NewReader(in), 0)
	r.SetLimits(resp.Limits{MaxArgs: 3})
	if _, err := r.ReadCommand(nil); err != nil {
		t.Fatal(err)
	}
	if got := pendingNow(r, 100); len(got) != 0 {
		t.Fatalf("Pending reported %q past a command over MaxArgs", got)
	}
}

// TestPendingRandom: over random pipelines delivered in random pieces,
// what Pending reports after each ReadCommand is always exactly the next
// commands ReadCommand returns.
func TestPendingRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 200 {
		var cmds [][]string
		for range 1 + rng.IntN(40) {
			cmd := []string{"SET"}
			for range rng.IntN(5) {
				cmd = append(cmd, strconv.Itoa(rng.IntN(1000000)))
			}
			cmds = append(cmds, cmd)
		}
		var src io.Reader = bytes.NewReader(multibulk(cmds...))
		switch round % 3 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = iotest.HalfReader(src)
		}
		r := resp.NewReader(src, 64+rng.IntN(512))
		for i, want := range cmds {
			args, err := r.ReadCommand(nil)
			if err != nil || !slices.Equal(strs(args), want) {
				t.Fatalf("round %d: command %d = %q, %v; want %q", round, i, strs(args), err, want)
			}
			ahead := pendingNow(r, 1000)
			if len(ahead) > len(cmds)-i-1 || !slices.EqualFunc(ahead, cmds[i+1:i+1+len(ahead)], slices.Equal) {
				t.Fatalf("round %d: after command %d Pending = %q, want a prefix of %q", round, i, ahead, cmds[i+1:])
			}
			if !slices.Equal(strs(args), want) {
				t.Fatalf("round %d: Pending changed command %d to %q", round, i, strs(args))
			}
		}
	}
}
