package server

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"
)

// waitContext returns a context for a wait of the connection's goroutine
// (LOCK, EXEC): it ends after timeout (none if timeout is zero), when the
// server begins to shut down, or when the client hangs up. done must be
// called when the wait is over.
//
// A hang-up is noticed without reading the connection's input: a goroutine
// peeks at the socket (MSG_PEEK) whenever the runtime's poller says it is
// readable. End of stream means the client closed. If the client sent more
// (a pipelined command), the watch stops there: the wait then ends by its
// timeout, and the close is noticed by the next read.
func (c *conn) waitContext(timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancel(c.s.live.ctx)
	if timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, timeout)
		parent := cancel
		cancel = func() { cancelT(); parent() }
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return ctx, cancel
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return ctx, cancel
	}
	watched := make(chan struct{})
	if !c.s.goFunc(func() {
		defer close(watched)
		if watchHangup(ctx, rc) {
			cancel()
		}
	}) {
		close(watched)
	}
	return ctx, func() {
		cancel()
		// Wake the watcher's poll, wait for it, then clear the deadline
		// for the connection's own reads (input sets its own afresh).
		c.raw.SetReadDeadline(time.Now())
		<-watched
		c.raw.SetReadDeadline(time.Time{})
		c.in.deadline = time.Time{}
	}
}

// watchHangup reports true if the peer closed or reset the connection,
// or the socket was closed under the wait (evict), before ctx ended; false
// if ctx ended, the peer sent data, or a deadline woke the poll. A socket
// error must end the wait here: the read that would report it comes only
// after the wait, which may have no timeout (EXEC), and a reset's error is
// reported once.
func watchHangup(ctx context.Context, rc syscall.RawConn) bool {
	var buf [1]byte
	for ctx.Err() == nil {
		hup, stop := false, false
		err := rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EAGAIN || err == syscall.EINTR:
				return false // nothing yet: the poller waits for readability
			case err == nil && n > 0:
				stop = true // data pending: a pipelined command
			default:
				hup = true // end of stream, or a reset or other socket error
			}
			return true
		})
		if hup || errors.Is(err, net.ErrClosed) {
			return true
		}
		if stop || err != nil {
			return false
		}
	}
	return false
}

// hungUp reports whether the client has closed its side of the connection
// (or reset it), without waiting and without reading: a peek at the socket
// that finds the end of the stream. Input not read yet (a pipelined
// command) hides a close behind it, and a transport that is not a socket
// (net.Pipe in tests) never reports one. A long scan calls it between
// batches of work, on the connection's own goroutine.
func (c *conn) hungUp() bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	hup := false
	rc.Control(func(fd uintptr) {
		var buf [1]byte
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		hup = err == nil && n == 0 || err == syscall.ECONNRESET
	})
	return hup
}
