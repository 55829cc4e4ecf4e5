package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dsm-dev/dsm/shm"
)

// openLocal opens the server's file as a local process does (a second
// attachment), closed when the test ends.
func openLocal(t testing.TB, ts *testServer) *shm.Memory {
	t.Helper()
	m, err := shm.Open(shm.Config{Path: ts.cfg.File})
	if err != nil {
		t.Fatalf("open the file locally: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// pushArray is a raw message as RESP2 (an array) or RESP3 (a push) sends it.
func pushArray(resp3 bool, parts ...string) string {
	head := "*"
	if resp3 {
		head = ">"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%d\r\n", head, len(parts))
	for _, p := range parts {
		if p[0] == ':' {
			b.WriteString(p + "\r\n")
		} else {
			b.WriteString(bulk(p))
		}
	}
	return b.String()
}

// TestSubscribeRaw checks the subscription commands byte for byte in RESP2
// and RESP3, and that changes by another client and by a local process
// arrive as messages with the version and the value.
func TestSubscribeRaw(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("resp3=%v", resp3), func(t *testing.T) {
			ts := startServer(t, Config{})
			local := openLocal(t, ts)
			sub := dialRaw(t, ts.addr)
			if resp3 {
				sub.do("HELLO", "3")
			}
			if got, want := sub.do("SUBSCRIBE", "__dsm__:x"), pushArray(resp3, "subscribe", "__dsm__:x", ":1"); got != want {
				t.Fatalf("SUBSCRIBE = %q, want %q", got, want)
			}
			if got, want := sub.do("PSUBSCRIBE", "__dsm__:p*"), pushArray(resp3, "psubscribe", "__dsm__:p*", ":2"); got != want {
				t.Fatalf("PSUBSCRIBE = %q, want %q", got, want)
			}
			other := dialRaw(t, ts.addr)
			other.do("SET", "x", "hello world")
			ver := versionOf(t, other, "x")
			if got, want := sub.reply(), pushArray(resp3, "message", "__dsm__:x", ver+" hello world"); got != want {
				t.Errorf("message after SET = %q, want %q", got, want)
			}
			if _, _, err := local.Add([]byte("p1"), 5); err != nil {
				t.Fatal(err)
			}
			ver = versionOf(t, other, "p1")
			if got, want := sub.reply(), pushArray(resp3, "pmessage", "__dsm__:p*", "__dsm__:p1", ver+" 5"); got != want {
				t.Errorf("message after a local Add = %q, want %q", got, want)
			}
			other.do("DEL", "x")
			if got := sub.reply(); !strings.Contains(got, "__dsm__:x") || strings.Contains(got, " ") {
				t.Errorf("message after DEL = %q, want the version alone", got)
			}
			if resp3 {
				if got := sub.do("GET", "p1"); got != bulk("5") {
					t.Errorf("GET while subscribed in RESP3 = %q", got)
				}
			} else {
				if got := sub.do("GET", "p1"); !strings.HasPrefix(got, "-ERR Can't execute 'get'") {
					t.Errorf("GET while subscribed in RESP2 = %q, want the subscribed-context error", got)
				}
				if got, want := sub.do("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n"; got != want {
					t.Errorf("PING while subscribed = %q, want %q", got, want)
				}
			}
			if got, want := sub.do("UNSUBSCRIBE"), pushArray(resp3, "unsubscribe", "__dsm__:x", ":1"); got != want {
				t.Errorf("UNSUBSCRIBE = %q, want %q", got, want)
			}
			if got, want := sub.do("PUNSUBSCRIBE", "__dsm__:p*"), pushArray(resp3, "punsubscribe", "__dsm__:p*", ":0"); got != want {
				t.Errorf("PUNSUBSCRIBE = %q, want %q", got, want)
			}
			other.do("SET", "x", "after")
			if got := sub.do("PING"); got != simple("PONG") {
				t.Errorf("PING after unsubscribing = %q (a message leaked?)", got)
			}
		})
	}
}

// versionOf reads a variable's version with GETVER.
func versionOf(t testing.TB, c *rawClient, name string) string {
	t.Helper()
	r := c.do("GETVER", name)
	lines := strings.Split(r, "\r\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[3], ":") {
		t.Fatalf("GETVER %s = %q", name, r)
	}
	return lines[3][1:]
}

// TestUnsubscribeWithoutSubscriptions: Redis' replies for a connection
// that subscribes to nothing.
func TestUnsubscribeWithoutSubscriptions(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	if got, want := c.do("UNSUBSCRIBE"), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"; got != want {
		t.Errorf("UNSUBSCRIBE = %q, want %q", got, want)
	}
	if got, want := c.do("PUNSUBSCRIBE", "a"), pushArray(false, "punsubscribe", "a", ":0"); got != want {
		t.Errorf("PUNSUBSCRIBE a = %q, want %q", got, want)
	}
}

// TestSubscribeGoRedisFinalValue: go-redis subscribers (RESP2 and RESP3),
// one of them slow, watch a counter that remote clients and a local process
// increment. Each sees versions rise strictly and ends on the final value.
func TestSubscribeGoRedisFinalValue(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			local := openLocal(t, ts)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			fast := newRedis(t, ts.addr, proto, "").Subscribe(ctx, "__dsm__:ctr")
			slow := newRedis(t, ts.addr, proto, "").PSubscribe(ctx, "__dsm__:c*")
			for _, ps := range []*redis.PubSub{fast, slow} {
				defer ps.Close()
				if _, err := ps.Receive(ctx); err != nil {
					t.Fatalf("subscription confirmation: %v", err)
				}
			}
			const remote, locals = 4 * 50, 100
			writeCounter(t, ctx, newRedis(t, ts.addr, proto, ""), local, remote, locals)
			final := strconv.Itoa(remote + locals)
			for i, ps := range []*redis.PubSub{fast, slow} {
				n := followCounter(t, ctx, ps, final, time.Duration(i)*2*time.Millisecond)
				t.Logf("subscriber %d received %d of %d changes", i, n, remote+locals)
			}
		})
	}
}

// writeCounter runs 4 clients INCRing "ctr" remote/4 times each and a local
// process adding locals times, at once.
func writeCounter(t *testing.T, ctx context.Context, rdb *redis.Client, local *shm.Memory, remote, locals int) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range remote / 4 {
				if err := rdb.Incr(ctx, "ctr").Err(); err != nil {
					t.Errorf("INCR: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range locals {
			if _, _, err := local.Add([]byte("ctr"), 1); err != nil {
				t.Errorf("local Add: %v", err)
				return
			}
		}
	})
	wg.Wait()
}

// followCounter reads messages (pausing between them) until the final
// value arrives, checking that versions rise and values never go down.
func followCounter(t *testing.T, ctx context.Context, ps *redis.PubSub, final string, pause time.Duration) int {
	t.Helper()
	var lastVer, lastVal int64
	for n := 1; ; n++ {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("after %d messages (last value %d): %v; never got the final value %s", n-1, lastVal, err, final)
		}
		verText, val, ok := strings.Cut(msg.Payload, " ")
		ver, err1 := strconv.ParseInt(verText, 10, 64)
		v, err2 := strconv.ParseInt(val, 10, 64)
		if !ok || err1 != nil || err2 != nil || msg.Channel != "__dsm__:ctr" {
			t.Fatalf("message %+v: not a change of ctr", msg)
		}
		if ver <= lastVer || v < lastVal {
			t.Fatalf("message %q after version %d value %d: out of order", msg.Payload, lastVer, lastVal)
		}
		lastVer, lastVal = ver, v
		if val == final {
			return n
		}
		time.Sleep(pause)
	}
}

// TestSlowSubscriberCutOff: a subscriber that never reads, while many
// variables change, is cut off by the message that takes what is pending
// for it past Config.OutputLimit: the server never buffers more for it than
// the limit and that one message. Other clients are not disturbed.
func TestSlowSubscriberCutOff(t *testing.T) {
	const limit = 32 << 10
	ts := startServer(t, Config{OutputLimit: limit, WriteTimeout: 10 * time.Second})
	local := openLocal(t, ts)
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4096)
	sub := &rawClient{t: t, c: nc}
	sub.send(encode("PSUBSCRIBE", "__dsm__:*"))
	waitFor(t, "the subscription", func() bool { return ts.live.hub.subscribed() })
	value := []byte(strings.Repeat("v", 200))
	cut := false
	for round := 0; round < 200 && !cut; round++ {
		for i := range 200 {
			if _, err := local.Set(fmt.Appendf(nil, "k%d", i), shm.Bytes(value)); err != nil {
				t.Fatal(err)
			}
		}
		cut = ts.clientCount() == 0
	}
	waitFor(t, "the subscriber to be cut off", func() bool { return ts.clientCount() == 0 })
	// The peak counts the message that crossed the limit: the cut comes
	// with it, never later.
	const msgMax = pushOverhead + len("__dsm__:*") + len("__dsm__:k199") + len("18446744073709551615 ") + 200
	if peak := int(ts.live.hub.peak.Load()); peak <= limit || peak > limit+msgMax {
		t.Errorf("%d bytes were pending for the subscriber at most, want over the limit %d by at most one message (%d bytes)", peak, limit, msgMax)
	}
	if got := ts.stats.outputLimit.Load(); got != 1 {
		t.Errorf("output limit disconnections = %d, want 1", got)
	}
	if got := dialRaw(t, ts.addr).do("PING"); got != simple("PONG") {
		t.Errorf("PING from another client = %q", got)
	}
}

// TestSubscriberGetsEveryFinalValue: a local process changes many
// variables faster than the feed's ring holds (so the feed overflows and
// rescans); a pattern subscriber still ends with every variable's final
// value.
func TestSubscriberGetsEveryFinalValue(t *testing.T) {
	ts := startServer(t, Config{})
	local := openLocal(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps := newRedis(t, ts.addr, 3, "").PSubscribe(ctx, "__dsm__:v*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	const vars, rounds = 600, 3
	for r := 1; r <= rounds; r++ {
		for i := range vars {
			if _, err := local.Set(fmt.Appendf(nil, "v%d", i), shm.Int(int64(r))); err != nil {
				t.Fatal(err)
			}
		}
	}
	final := strconv.Itoa(rounds)
	missing := map[string]bool{}
	for i := range vars {
		missing[fmt.Sprintf("__dsm__:v%d", i)] = true
	}
	for n := 0; len(missing) > 0; n++ {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("after %d messages, %d variables still lack their final value: %v", n, len(missing), err)
		}
		if _, val, _ := strings.Cut(msg.Payload, " "); val == final {
			delete(missing, msg.Channel)
		}
	}
}
