package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// halfMSET returns an MSET of values of 448 KiB, n of them, cut 100
// bytes before its end: a server that has read head holds a command
// buffer of the next power of two above n × 448 KiB.
func halfMSET(prefix string, n int) (head, tail string) {
	args := []string{"MSET"}
	for i := range n {
		args = append(args, fmt.Sprintf("%s%d", prefix, i), strings.Repeat("v", 448<<10))
	}
	cmd := encode(args...)
	cut := len(cmd) - 100
	return cmd[:cut], cmd[cut:]
}

// TestClientMemMax: clients each sending a large half command are bounded
// together: when one more takes the total beyond ClientMemMax, the client
// holding the most is closed (not the newcomer), counted and logged, the
// total stays within the bound, and the others, a small well-behaved
// client among them, go on.
func TestClientMemMax(t *testing.T) {
	const limit = 6 << 20
	logs := &lockedLog{}
	ts := startServer(t, Config{ClientMemMax: limit, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	small := dialRaw(t, ts.addr)
	held := func() int64 { return ts.clientMem.total.Load() }
	step := func(name string, values int, atLeast int64) (*rawClient, string) {
		t.Helper()
		rc := dialRaw(t, ts.addr)
		head, tail := halfMSET(name, values)
		rc.send(head)
		waitFor(t, name+"'s half command to be held", func() bool { return held() >= atLeast || ts.stats.clientMemEvictions.Load() > 0 })
		if got := small.do("PING"); got != simple("PONG") {
			t.Fatalf("small client after %s: %q", name, got)
		}
		return rc, tail
	}
	largest, _ := step("c", 8, 4<<20) // 3.5 MiB: a 4 MiB buffer
	a, aTail := step("a", 2, 5<<20)   // 1 MiB
	b, bTail := step("b", 4, 6<<20)   // 2 MiB: 7 MiB in all, beyond the bound
	waitFor(t, "an eviction", func() bool { return ts.stats.clientMemEvictions.Load() > 0 })

	if _, closed := largest.closed(5 * time.Second); !closed {
		t.Fatalf("the client holding the most is still open")
	}
	if n := ts.stats.clientMemEvictions.Load(); n != 1 {
		t.Errorf("%d clients evicted, want 1", n)
	}
	if h := held(); h > limit || h < 2<<20 {
		t.Errorf("clients hold %d bytes after the eviction, want those of a and b (2 to 3 MiB), within %d", h, limit)
	}
	for _, c := range []struct {
		rc   *rawClient
		tail string
	}{{a, aTail}, {b, bTail}} {
		c.rc.send(c.tail)
		c.rc.reply() // the values are too long for the file: an error, but a reply
		if got := c.rc.do("PING"); got != simple("PONG") {
			t.Errorf("a client within the bound: PING = %q", got)
		}
	}
	info := small.do("INFO", "stats")
	if !strings.Contains(info, "evicted_clients:1\r\n") {
		t.Errorf("INFO stats does not count the eviction:\n%s", info)
	}
	if log := logs.String(); !strings.Contains(log, "client memory limit") {
		t.Errorf("the eviction is not logged:\n%s", log)
	}
	waitFor(t, "the clients' bytes to be released", func() bool { return held() < 1<<20 })
}

// TestClientMemMaxOutput: replies a client leaves unread count too: a
// client whose pipeline asks for more replies than ClientMemMax (but
// within its OutputLimit) is closed for the clients' bound, while a small
// client goes on.
func TestClientMemMaxOutput(t *testing.T) {
	const limit = 1 << 20
	ts := startServer(t, Config{ClientMemMax: limit})
	small := dialRaw(t, ts.addr)
	var mset []string
	for i := range 100 {
		mset = append(mset, fmt.Sprintf("a-name-of-forty-bytes-to-fill-replies%03d", i), "v")
	}
	if got := small.do(append([]string{"MSET"}, mset...)...); got != simple("OK") {
		t.Fatalf("MSET: %q", got)
	}
	// 500 KEYS in one read of 11.5 KB: 2.3 MB of replies, never read.
	reader := dialRaw(t, ts.addr)
	reader.send(strings.Repeat(encode("KEYS", "*"), 500))
	if _, closed := reader.closed(5 * time.Second); !closed {
		t.Fatalf("the client not reading 2.3 MB of replies is still open")
	}
	waitFor(t, "the eviction to be counted", func() bool { return ts.stats.clientMemEvictions.Load() > 0 })
	if n := ts.stats.outputLimit.Load(); n != 0 {
		t.Errorf("%d clients closed for OutputLimit, want none: the clients' bound closes this one", n)
	}
	if got := small.do("DBSIZE"); got != integer(100) {
		t.Errorf("small client: DBSIZE = %q", got)
	}
	if h := ts.clientMem.total.Load(); h > limit {
		t.Errorf("clients hold %d bytes, bound %d", h, limit)
	}
}

// TestIdleClientsFitTheBound: what an idle connection keeps after a large
// reply counts within its share of the default bound, so that under the
// defaults (DefaultMaxClients idle clients) nobody is evicted for having
// once read a large reply. The reply buffer kept between batches
// (keepOutput) decides it: with 64 KiB kept, 10,000 idle clients counted
// 640 MiB against a bound of 512.
func TestIdleClientsFitTheBound(t *testing.T) {
	share := int64(DefaultClientMemMax / DefaultMaxClients)
	ts := startServer(t, Config{Vars: 4096})
	rc := dialRaw(t, ts.addr)
	for i := range 2000 {
		if got := rc.do("SET", fmt.Sprintf("idle-client-%05d", i), "1"); got != "+OK\r\n" {
			t.Fatalf("SET: %q", got)
		}
	}
	if keys := rc.do("KEYS", "*"); len(keys) < 40<<10 {
		t.Fatalf("KEYS reply is %d bytes, want a large one", len(keys))
	}
	var held int64
	waitFor(t, "the connection to count its idle buffers", func() bool {
		rc.do("PING") // a batch after the large reply: its buffer is let go or kept
		held = ts.clientMem.total.Load()
		return held > 0
	})
	if held > share {
		t.Errorf("an idle client counts %d bytes after a large reply; its share of the default bound is %d", held, share)
	}
}
