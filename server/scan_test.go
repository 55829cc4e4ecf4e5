package server

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fillNames sets n variables, each with a name of the file's longest
// length that ends in its number, over one pipelined connection that it
// closes.
func fillNames(t *testing.T, ts *testServer, n int) {
	t.Helper()
	c := dialRaw(t, ts.addr)
	var b strings.Builder
	for i := range n {
		suffix := strconv.Itoa(i)
		b.WriteString(encode("SET", strings.Repeat("k", ts.nameMax-len(suffix))+suffix, "1"))
	}
	c.send(b.String())
	for range n {
		if got := c.reply(); got != okReply {
			t.Fatalf("SET = %q", got)
		}
	}
	c.c.Close()
	waitFor(t, "the server to drop the filler", func() bool { return ts.clientCount() == 0 })
}

// TestScanPatternBound: KEYS and SCAN MATCH refuse a pattern with more
// elements other than '*' than names have bytes (it can match nothing),
// take one with exactly as many, count a run of '*' as nothing, and match
// with a class spelled in a megabyte as with a short one.
func TestScanPatternBound(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	long := strings.Repeat("n", ts.nameMax)
	c.do("SET", long, "1")
	c.do("SET", "short", "1")
	refused := "-ERR pattern can match no name"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"KEYS", long + "?"}, refused},
		{[]string{"KEYS", strings.Repeat("?", 1<<19)}, refused},
		{[]string{"SCAN", "0", "MATCH", "*" + long + "?*"}, refused},
		{[]string{"KEYS", long}, "*1\r\n" + bulk(long)},
		{[]string{"KEYS", strings.Repeat("*", 1<<19) + "t"}, "*1\r\n" + bulk("short")},
		{[]string{"KEYS", "*[" + strings.Repeat("xyz", 1<<17) + "]t"}, "*0\r\n"},
		{[]string{"KEYS", "s[" + strings.Repeat("xyzh", 1<<17) + "]ort"}, "*1\r\n" + bulk("short")},
		{[]string{"SCAN", "0", "MATCH", long}, "*2\r\n" + bulk("0") + "*1\r\n" + bulk(long)},
	} {
		if got := c.do(tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%.40q... = %.80q, want %q...", tc.args, got, tc.want)
		}
	}
}

// TestKeysStopsWhenClientHangsUp: a KEYS whose client hangs up stops
// scanning (counted by the scan hook) instead of matching every variable
// for nobody; a client that stays gets every name.
func TestKeysStopsWhenClientHangsUp(t *testing.T) {
	ts := startServer(t, Config{})
	const vars = 1500
	fillNames(t, ts, vars)
	var visited atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	hook := func() {
		if visited.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	ts.scanHook.Store(&hook)
	// A pattern of about half the name limit: every visit counts as
	// name x atoms of work, so the scan looks at its client after about
	// hangupCheckWork / (120 x 60) variables, far fewer than vars.
	pattern := strings.Repeat("k", ts.nameMax/2) + "*"

	c := dialRaw(t, ts.addr)
	c.send(encode("KEYS", pattern))
	<-entered
	server := ts.connsByID()[0]
	c.c.Close()
	waitFor(t, "the server's side to see the hang-up", server.hungUp)
	close(release)
	waitFor(t, "the server to drop the client", func() bool { return ts.clientCount() == 0 })
	if n := visited.Load(); n >= vars {
		t.Errorf("the scan visited %d of %d variables after its client hung up", n, vars)
	}

	visited.Store(2) // the hook no longer waits
	stays := dialRaw(t, ts.addr)
	if got := stays.do("KEYS", pattern); !strings.HasPrefix(got, "*"+strconv.Itoa(vars)+"\r\n") {
		t.Errorf("KEYS from a client that stays = %.40q...", got)
	}
}

// TestPSubscribePatternBound: PSUBSCRIBE refuses a pattern with more
// elements other than '*' than the longest channel has bytes, adding none
// of the command's patterns (the connection stays out of the subscribed
// context); a pattern at the bound and one with a class spelled in half a
// megabyte are matched, and leave the hub, compiled form too, with their
// client.
func TestPSubscribePatternBound(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	long := strings.Repeat("n", ts.nameMax)
	if got := c.do("PSUBSCRIBE", "__dsm__:*", channelPrefix+long+"?"); !strings.HasPrefix(got, "-ERR pattern can match no channel") {
		t.Fatalf("PSUBSCRIBE of a pattern too long = %q", got)
	}
	if got := c.do("GET", "x"); got != "$-1\r\n" {
		t.Fatalf("GET after a refused PSUBSCRIBE = %q", got)
	}
	atBound, class := channelPrefix+long, channelPrefix+"s["+strings.Repeat("xyzh", 1<<17)+"]ort"
	c.send(encode("PSUBSCRIBE", atBound, class))
	for i, want := range []string{atBound, class} {
		if got := c.reply(); got != pushArray(false, "psubscribe", want, ":"+strconv.Itoa(i+1)) {
			t.Fatalf("PSUBSCRIBE confirmation %d = %.60q", i, got)
		}
	}
	other := dialRaw(t, ts.addr)
	for _, tc := range []struct{ pattern, name string }{{atBound, long}, {class, "short"}} {
		other.do("SET", tc.name, "1")
		want := pushArray(false, "pmessage", tc.pattern, channelPrefix+tc.name, versionOf(t, other, tc.name)+" 1")
		if got := c.reply(); got != want {
			t.Errorf("message of %s = %.80q", tc.name, got)
		}
	}
	c.c.Close()
	hub := ts.live.hub
	waitFor(t, "the hub to drop the patterns of the client that left", func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return len(hub.patterns) == 0 && len(hub.globs) == 0
	})
}

// BenchmarkHugePattern answers KEYS over 100 variables and CONFIG GET
// with a pattern of one class spelled in (almost) a megabyte, the largest
// argument a request may carry.
func BenchmarkHugePattern(b *testing.B) {
	ts := startServer(b, Config{})
	c := dialRaw(b, ts.addr)
	for i := range 100 {
		c.do("SET", "variable:"+strconv.Itoa(i), "1")
	}
	class := "*[" + strings.Repeat("a", 1<<20-8) + "]b"
	for _, bc := range []struct {
		name string
		args []string
	}{
		{"KEYS", []string{"KEYS", class}},
		{"CONFIG_GET", []string{"CONFIG", "GET", class}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := encode(bc.args...)
			for b.Loop() {
				c.send(req)
				c.c.SetReadDeadline(time.Now().Add(time.Minute)) // the old matcher took seconds
				if got, err := readReply(c.br); got != "*0\r\n" {
					b.Fatalf("reply %q, %v", got, err)
				}
			}
		})
	}
}
