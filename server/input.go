package server

import (
	"net"
	"time"
)

// input is the io.Reader under a connection's protocol reader. It does
// three things before each read from the socket:
//
//  1. It writes the pending replies (flush). The protocol reader reads from
//     the socket only when it has no complete request buffered, so replies
//     to a pipelined batch go out together, exactly when the server would
//     otherwise wait for the client.
//  2. It ends the connection once the server is shutting down.
//  3. It sets the read deadline: a request that has begun must be complete
//     within Config.RequestTimeout, an idle connection may wait
//     Config.IdleTimeout, and an unauthenticated one must authenticate by
//     authBy.
//
// It is used by one goroutine, the connection's.
type input struct {
	c        *conn
	nc       net.Conn  // the socket, possibly wrapped (TLS, sniffed byte)
	authBy   time.Time // zero once authenticated or when no password is set
	begun    time.Time // when the request being read began; zero between requests
	lastRead time.Time // when bytes last arrived
	deadline time.Time // the read deadline last set on nc
	fresh    bool      // bytes arrived that no command has looked past yet (prefetch)
}

func (in *input) Read(p []byte) (int, error) {
	if err := in.c.flush(); err != nil {
		return 0, err
	}
	in.c.account() // what it holds while it waits: the command's buffer grows before the read
	if in.c.s.closing.Load() {
		return 0, errShuttingDown
	}
	in.arm()
	n, err := in.nc.Read(p)
	if n > 0 {
		in.received(n)
	}
	return n, err
}

// received notes that n bytes arrived: they begin a request if none was
// being read.
func (in *input) received(n int) {
	now := time.Now()
	in.fresh = true
	in.lastRead = now
	if in.begun.IsZero() {
		in.begun = now
	}
	in.c.lastActive.Store(now.UnixNano())
	in.c.s.stats.netIn.Add(int64(n))
}

// requestDone is called after each complete request. pending says whether
// bytes of the next request are already buffered; if so, that request
// began when they arrived, at the last read. (That also spares a clock
// read per pipelined command.)
func (in *input) requestDone(pending bool) {
	if pending {
		in.begun = in.lastRead
	} else {
		in.begun = time.Time{}
	}
}

// arm sets the read deadline for the next read, if it changed. A failure
// is left for the read to report (a pipe whose peer closed refuses
// deadlines but may still hold bytes for us).
func (in *input) arm() {
	d := in.nextDeadline()
	if d.Equal(in.deadline) {
		return
	}
	if in.nc.SetReadDeadline(d) == nil {
		in.deadline = d
	}
}

// nextDeadline is the earliest of the limits that apply now; zero means none.
func (in *input) nextDeadline() time.Time {
	cfg := &in.c.s.cfg
	var d time.Time
	switch {
	case !in.begun.IsZero() && cfg.RequestTimeout > 0:
		d = in.begun.Add(cfg.RequestTimeout)
	case in.begun.IsZero() && cfg.IdleTimeout > 0:
		d = time.Now().Add(cfg.IdleTimeout)
	}
	if !in.authBy.IsZero() && (d.IsZero() || in.authBy.Before(d)) {
		d = in.authBy
	}
	return d
}
