package server

import (
	"strings"
	"testing"
	"time"
)

// clientField returns a field of the client's CLIENT INFO line.
func clientField(t *testing.T, c *rawClient, field string) string {
	t.Helper()
	for _, f := range strings.Fields(c.do("CLIENT", "INFO")) {
		if v, ok := strings.CutPrefix(f, field+"="); ok {
			return v
		}
	}
	t.Fatalf("CLIENT INFO has no %s", field)
	return ""
}

// TestClientKillMatchesRedis: CLIENT KILL's forms, filters, replies and
// errors are Redis 7's, and the clients it names are closed, those it
// does not name left alone.
func TestClientKillMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	type side struct {
		name                   string
		addr                   string
		me, byID, byAddr, keep *rawClient
		sub, other             *rawClient
		replies                []string
	}
	sides := []*side{{name: "redis", addr: redisAddr}, {name: "dsm", addr: ts.addr}}
	for _, s := range sides {
		s.me, s.byID, s.byAddr, s.keep = dialRaw(t, s.addr), dialRaw(t, s.addr), dialRaw(t, s.addr), dialRaw(t, s.addr)
		s.sub, s.other = dialRaw(t, s.addr), dialRaw(t, s.addr)
		s.sub.do("SUBSCRIBE", "news")
		s.other.do("PING")
		do := func(args ...string) { s.replies = append(s.replies, s.me.do(args...)) }
		for _, args := range [][]string{
			{"CLIENT", "KILL", "1.2.3.4:5"}, {"CLIENT", "KILL", "ID", "abc"}, {"CLIENT", "KILL", "ID", "0"},
			{"CLIENT", "KILL", "TYPE", "bogus"}, {"CLIENT", "KILL", "USER", "nobody"}, {"CLIENT", "KILL", "SKIPME", "maybe"},
			{"CLIENT", "KILL", "ID"}, {"CLIENT", "KILL", "ID", "1", "ADDR"}, {"CLIENT", "KILL", "BOGUS", "1"},
			{"CLIENT", "KILL", "MAXAGE", "x"}, {"CLIENT", "KILL", "ADDR", "1.2.3.4:5"}, {"CLIENT", "KILL", "TYPE", "master"},
			{"CLIENT", "KILL", "MAXAGE", "1000"}, {"CLIENT", "LIST", "TYPE", "master"},
		} {
			do(args...)
		}
		do("CLIENT", "KILL", "ID", clientField(t, s.byID, "id"))
		do("CLIENT", "KILL", "ADDR", clientField(t, s.byAddr, "addr"), "USER", "default")
		do("CLIENT", "KILL", "TYPE", "pubsub")
		if got := s.me.do("CLIENT", "LIST", "TYPE", "pubsub"); strings.Contains(got, "id=") {
			t.Errorf("%s: CLIENT LIST TYPE pubsub after the kill = %q", s.name, got)
		}
		do("CLIENT", "KILL", clientField(t, s.other, "addr"))
		for _, gone := range []*rawClient{s.byID, s.byAddr, s.sub, s.other} {
			if _, closed := gone.closed(2 * time.Second); !closed {
				t.Errorf("%s: a killed client's connection is still open", s.name)
			}
		}
		do("PING")
		do("CLIENT", "KILL", "LADDR", clientField(t, s.me, "laddr"), "SKIPME", "yes") // keep
		if _, closed := s.keep.closed(2 * time.Second); !closed {
			t.Errorf("%s: CLIENT KILL LADDR left a client open", s.name)
		}
		do("CLIENT", "KILL", clientField(t, s.me, "addr")) // itself: OK, then closed
		if _, closed := s.me.closed(2 * time.Second); !closed {
			t.Errorf("%s: a client that killed itself is still open", s.name)
		}
	}
	want, got := sides[0].replies, sides[1].replies
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d:\n dsm   %q\n redis %q", i, got[i], want[i])
		}
	}
}

// TestClientKillEndsLockWait: CLIENT KILL of a client waiting for a lock
// ends its wait and its connection; the lock then goes to the next taker.
func TestClientKillEndsLockWait(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter, admin := dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "v")
	id := clientField(t, waiter, "id")
	waiter.send(encode("LOCK", "WAIT", "60000", "v"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(admin.do("CLIENT", "LIST", "ID", id), "cmd=lock") {
		if time.Now().After(deadline) {
			t.Fatal("the waiter's LOCK never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := admin.do("CLIENT", "KILL", "ID", id); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID %s = %q", id, got)
	}
	if _, closed := waiter.closed(5 * time.Second); !closed {
		t.Fatal("the killed waiter's connection is still open")
	}
	holder.do("UNLOCK")
	if got := admin.do("LOCK", "WAIT", "2000", "v"); !strings.HasPrefix(got, "+OK") && !strings.HasPrefix(got, ":") {
		t.Fatalf("LOCK v after the waiter was killed = %q", got)
	}
	for strings.Contains(admin.do("CLIENT", "LIST"), "id="+id+" ") {
		if time.Now().After(deadline) {
			t.Fatal("the killed waiter is still listed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
