package server

import (
	"net"
	"testing"
)

// TestLockWaitEndsOnReset: a client that resets its connection (an
// abortive close, as a crashed peer's kernel or a middlebox sends) while
// it waits for a lock stops waiting at once, as one that closes does.
func TestLockWaitEndsOnReset(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "x")
	waiter.send(encode("LOCK", "WAIT", "20000", "x"))
	waitFor(t, "the waiter to wait", func() bool { return writerWaits(ts) })
	waiter.c.(*net.TCPConn).SetLinger(0) // Close sends a reset
	waiter.c.Close()
	waitFor(t, "the server to drop the waiter", func() bool { return ts.clientCount() == 1 })
}

// TestLockWaitEndsOnEvict: a client closed for the clients' memory bound
// while it waits for a lock stops waiting at once; else its goroutine and
// buffers, already taken off the clients' total, outlive it by the wait.
func TestLockWaitEndsOnEvict(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "x")
	waiter.send(encode("LOCK", "WAIT", "20000", "x"))
	waitFor(t, "the waiter to wait", func() bool { return writerWaits(ts) })
	for _, c := range ts.connsByID() {
		if p := c.lastCmd.Load(); p != nil && *p == "lock" && c.live.hold.Load() == nil {
			ts.evict(c, 0)
		}
	}
	waitFor(t, "the server to drop the waiter", func() bool { return ts.clientCount() == 1 })
}
