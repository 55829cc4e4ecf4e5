package client_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
)

// deadAddr returns an address on 127.0.0.1 where nothing listens.
func deadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// dialAddrs connects to the nodes that addr lists and closes the client
// when the test ends.
func dialAddrs(tb testing.TB, addr string, opts *client.Options) *client.Client {
	tb.Helper()
	c, err := client.Dial(ctxT(tb), addr, opts)
	if err != nil {
		tb.Fatalf("Dial(%s): %v", addr, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// wantValue checks that the daemon at addr holds name = want ("" for a
// missing variable), through a client of its own.
func wantValue(tb testing.TB, addr, name, want string) {
	tb.Helper()
	v, err := dialAddrs(tb, addr, nil).Get(ctxT(tb), name)
	if want == "" && errors.Is(err, client.ErrNotFound) {
		return
	}
	if err != nil || v != want {
		tb.Fatalf("%s at %s = %q, %v; want %q", name, addr, v, err, want)
	}
}

// TestFirstAddressDead: Dial passes over a node that refuses connections,
// whether the addresses come in the string or in Options.Addrs.
func TestFirstAddressDead(t *testing.T) {
	d := startDaemon(t, "")
	dead := deadAddr(t)
	ctx := ctxT(t)
	for _, c := range []*client.Client{
		dialAddrs(t, dead+","+d.Addr, nil),
		dialAddrs(t, dead, &client.Options{Addrs: []string{d.Addr}}),
	} {
		if c.Addr() != d.Addr {
			t.Fatalf("Addr() = %s, want the live node %s", c.Addr(), d.Addr)
		}
		if err := c.Set(ctx, "x", "1"); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "x"); err != nil || v != "1" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
}

// TestAllDead: with no node listening, Dial fails with ErrUnreachable and
// names every address.
func TestAllDead(t *testing.T) {
	addrs := deadAddr(t) + "," + deadAddr(t)
	_, err := client.Dial(ctxT(t), addrs, nil)
	wantKind(t, err, client.ErrUnreachable)
	var e *client.Error
	if !errors.As(err, &e) || e.Op != "dial" || e.Name != addrs {
		t.Fatalf("error %#v, want an *Error for dial %s", err, addrs)
	}
}

// TestNodeKilled: the node in use stops while a goroutine adds and reads;
// the calls go on on the other node. Reads never fail; an add may fail
// only as uncertain (it was in flight), and every add that succeeded
// counts once across both nodes.
func TestNodeKilled(t *testing.T) {
	d1, d2 := startDaemon(t, ""), startDaemon(t, "")
	ctx := ctxT(t)
	// The two single hosts share no data: n exists on the second from the
	// start, so that a read there finds it.
	if err := dialAddrs(t, d2.Addr, nil).Set(ctx, "n", "0"); err != nil {
		t.Fatal(err)
	}
	c := dialAddrs(t, d1.Addr+","+d2.Addr, &client.Options{PoolSize: 2})
	var added, uncertain, afterKill atomic.Int64
	killed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for afterKill.Load() < 50 {
			if _, err := c.Add(ctx, "n", 1); err == nil {
				added.Add(1)
			} else if errors.Is(err, client.ErrUncertain) {
				uncertain.Add(1)
			} else {
				done <- err
				return
			}
			if _, err := c.Get(ctx, "n"); err != nil {
				done <- err
				return
			}
			select {
			case <-killed:
				afterKill.Add(1)
			default:
			}
		}
		done <- nil
	}()
	for added.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	d1.Stop()
	close(killed)
	if err := <-done; err != nil {
		t.Fatalf("a call failed after the node was killed: %v", err)
	}
	if c.Addr() != d2.Addr {
		t.Fatalf("Addr() = %s, want the surviving node %s", c.Addr(), d2.Addr)
	}
	d1.Resume(t)
	total := int64(0)
	for _, addr := range []string{d1.Addr, d2.Addr} {
		v, err := dialAddrs(t, addr, nil).Get(ctx, "n")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
	}
	if total < added.Load() || total > added.Load()+uncertain.Load() {
		t.Fatalf("the nodes counted %d adds; %d succeeded and %d were uncertain", total, added.Load(), uncertain.Load())
	}
	t.Logf("%d adds, %d uncertain", added.Load(), uncertain.Load())
}

// TestLockAndSubscribeMoveOn: Lock and Subscribe start on the next node
// when the one in use is gone.
func TestLockAndSubscribeMoveOn(t *testing.T) {
	d1, d2 := startDaemon(t, ""), startDaemon(t, "")
	locker := dialAddrs(t, d1.Addr+","+d2.Addr, nil)
	watcher := dialAddrs(t, d1.Addr+","+d2.Addr, nil)
	d1.Stop()
	ctx := ctxT(t)
	l, err := locker.Lock(ctx, client.LockOptions{}, "x")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := watcher.Subscribe(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if locker.Addr() != d2.Addr || watcher.Addr() != d2.Addr {
		t.Fatalf("Lock on %s, Subscribe on %s; want both on %s", locker.Addr(), watcher.Addr(), d2.Addr)
	}
	if err := l.Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if ch, err := sub.Next(ctx); err != nil || ch.Value != "1" {
		t.Fatalf("Next = %+v, %v", ch, err)
	}
}

// clusterDownFor answers CLUSTERDOWN to the first n SETs, then OK.
func clusterDownFor(n int64) func([]string) string {
	var sets atomic.Int64
	return func(args []string) string {
		if args[0] != "SET" {
			return ""
		}
		if sets.Add(1) <= n {
			return "-CLUSTERDOWN no leader\r\n"
		}
		return "+OK\r\n"
	}
}

// TestClusterDownRetried: a write answered CLUSTERDOWN is sent again
// after a backoff, on the same node when it is the only one, on the next
// one otherwise.
func TestClusterDownRetried(t *testing.T) {
	ctx := ctxT(t)
	only := startResponder(t, clusterDownFor(2))
	if err := dialAddrs(t, only.addr, nil).Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if n := only.count("SET"); n != 3 {
		t.Fatalf("the node received %d SETs, want 3 (two CLUSTERDOWN, then OK)", n)
	}

	down := startResponder(t, clusterDownFor(1000))
	d := startDaemon(t, "")
	c := dialAddrs(t, down.addr+","+d.Addr, nil)
	if err := c.Set(ctx, "x", "2"); err != nil {
		t.Fatal(err)
	}
	if n := down.count("SET"); n != 1 || c.Addr() != d.Addr {
		t.Fatalf("the leaderless node received %d SETs (want 1); in use %s (want %s)", n, c.Addr(), d.Addr)
	}
	wantValue(t, d.Addr, "x", "2")
}

// TestClusterDownGivesUp: the wait for a leader ends after LeaderWait, or
// sooner with the context, with ErrClusterDown.
func TestClusterDownGivesUp(t *testing.T) {
	down := startResponder(t, clusterDownFor(1e9))
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		timeout time.Duration
	}{
		{"LeaderWait", 200 * time.Millisecond, 10 * time.Second},
		{"context", 0, 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialAddrs(t, down.addr, &client.Options{LeaderWait: tc.wait})
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			err := c.Set(ctx, "x", "1")
			wantKind(t, err, client.ErrClusterDown)
			if errors.Is(err, client.ErrUncertain) {
				t.Errorf("CLUSTERDOWN reported as uncertain: %v", err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("gave up after %v", el)
			}
		})
	}
	if n := down.count("SET"); n < 4 {
		t.Errorf("the node received %d SETs, want several tries", n)
	}
}

// TestMovedFollowed: a MOVED reply sends the call to the leader it names,
// which stays the node in use; a redirection loop ends.
func TestMovedFollowed(t *testing.T) {
	ctx := ctxT(t)
	d := startDaemon(t, "")
	follower := startResponder(t, func(args []string) string {
		if args[0] == "HELLO" || args[0] == "PING" {
			return ""
		}
		return "-MOVED 0 " + d.Addr + "\r\n"
	})
	c := dialAddrs(t, follower.addr, nil)
	if err := c.Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if c.Addr() != d.Addr {
		t.Fatalf("Addr() = %s, want the leader %s", c.Addr(), d.Addr)
	}
	if v, err := c.Get(ctx, "x"); err != nil || v != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if s, g := follower.count("SET"), follower.count("GET"); s != 1 || g != 0 {
		t.Fatalf("the follower received %d SETs and %d GETs, want 1 and 0", s, g)
	}

	var self *responder
	self = startResponder(t, func(args []string) string {
		if args[0] == "SET" {
			return "-MOVED 0 " + self.addr + "\r\n"
		}
		return ""
	})
	err := dialAddrs(t, self.addr, nil).Set(ctx, "x", "1")
	wantKind(t, err, client.ErrClusterDown)
	if n := self.count("SET"); n != 6 {
		t.Fatalf("a node redirecting to itself received %d SETs, want 6 (five redirections)", n)
	}
}

// TestUncertainNotRetried: an UNCERTAIN write fails with ErrUncertain and
// is not sent to another node.
func TestUncertainNotRetried(t *testing.T) {
	d := startDaemon(t, "")
	r := startResponder(t, func(args []string) string {
		if args[0] == "SET" {
			return "-UNCERTAIN leader changed before commit\r\n"
		}
		return ""
	})
	c := dialAddrs(t, r.addr+","+d.Addr, nil)
	err := c.Set(ctxT(t), "x", "1")
	wantKind(t, err, client.ErrUncertain)
	if errors.Is(err, client.ErrUnreachable) {
		t.Errorf("UNCERTAIN reported as unreachable: %v", err)
	}
	if n := r.count("SET"); n != 1 {
		t.Fatalf("the node received %d SETs, want 1", n)
	}
	wantValue(t, d.Addr, "x", "")
}

// TestBrokenWriteNotRepeated: every write whose connection breaks once the
// node received it fails as uncertain and unreachable, and reaches no
// other node; a read in the same plight is repeated on the next node.
func TestBrokenWriteNotRepeated(t *testing.T) {
	d := startDaemon(t, "")
	ctx := ctxT(t)
	if err := dialAddrs(t, d.Addr, nil).Set(ctx, "x", "5"); err != nil {
		t.Fatal(err)
	}
	// The responder closes the connection on every command but the
	// handshake and Lock's CLIENT ID: "" is its way of dropping one.
	r := startResponder(t, func(args []string) string {
		if len(args) == 2 && strings.EqualFold(args[0], "CLIENT") && strings.EqualFold(args[1], "ID") {
			return ":7\r\n"
		}
		return ""
	})
	c := dialAddrs(t, r.addr+","+d.Addr, nil)
	writes := []struct {
		cmd string
		do  func() error
	}{
		{"SET", func() error { return c.Set(ctx, "x", "1") }},
		{"INCRBY", func() error { _, err := c.Add(ctx, "x", 1); return err }},
		{"CAS", func() error { _, err := c.CAS(ctx, "x", "5", "6"); return err }},
		{"MSET", func() error { return c.MSet(ctx, "x", "1") }},
		{"DEL", func() error { _, err := c.Del(ctx, "x"); return err }},
		{"LOCK", func() error { _, err := c.Lock(ctx, client.LockOptions{}, "x"); return err }},
		{"INCR", func() error { _, err := c.Do(ctx, "INCR", "x"); return err }},
	}
	for _, w := range writes {
		t.Run(w.cmd, func(t *testing.T) {
			err := w.do()
			wantKind(t, err, client.ErrUncertain)
			wantKind(t, err, client.ErrUnreachable)
			if n := r.count(w.cmd); n != 1 {
				t.Fatalf("the node received %d %s, want 1", n, w.cmd)
			}
		})
	}
	// A Locked's writes are not repeated either, and say so.
	locking := startResponder(t, func(args []string) string {
		switch {
		case args[0] == "LOCK":
			return "+OK\r\n"
		case args[0] == "CLIENT":
			return ":7\r\n"
		}
		return ""
	})
	l, err := dialAddrs(t, locking.addr, nil).Lock(ctx, client.LockOptions{}, "x")
	if err != nil {
		t.Fatal(err)
	}
	err = l.Set(ctx, "x", "1")
	wantKind(t, err, client.ErrUncertain)
	wantKind(t, err, client.ErrUnreachable)
	if n := locking.count("SET"); n != 1 {
		t.Fatalf("the locking node received %d SETs, want 1", n)
	}

	wantValue(t, d.Addr, "x", "5")
	if v, err := c.Get(ctx, "x"); err != nil || v != "5" {
		t.Fatalf("Get = %q, %v; want the other node's 5", v, err)
	}
	if n := r.count("GET"); n != 1 {
		t.Fatalf("the broken node received %d GETs, want 1", n)
	}
}

// TestStaleReads: READONLY goes on every new connection; a daemon that does
// not know it (a single host) is used as it is.
func TestStaleReads(t *testing.T) {
	r := startResponder(t, func(args []string) string {
		if args[0] == "READONLY" {
			return "+OK\r\n"
		}
		return ""
	})
	connects := atomic.Int64{}
	dialAddrs(t, r.addr, &client.Options{StaleReads: true, OnConnect: func() { connects.Add(1) }})
	if n := r.count("READONLY"); n != 1 || connects.Load() != 1 {
		t.Fatalf("READONLY sent %d times, OnConnect ran %d times; want 1 each", n, connects.Load())
	}

	d := startDaemon(t, "")
	c := dialAddrs(t, d.Addr, &client.Options{StaleReads: true})
	ctx := ctxT(t)
	if err := c.Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "x"); err != nil || v != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestSplitAddrs(t *testing.T) {
	for _, tc := range []struct {
		addr string
		more []string
		want string
	}{
		{"", nil, client.DefaultAddr},
		{"a:1", nil, "a:1"},
		{" a:1, b:2 ,,a:1", []string{"c:3", "b:2"}, "a:1 b:2 c:3"},
		{"", []string{"c:3"}, "c:3"},
	} {
		got := client.SplitAddrs(tc.addr, tc.more...)
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("SplitAddrs(%q, %q) = %q, want %q", tc.addr, tc.more, s, tc.want)
		}
	}
}
