package shm

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// daemon is a local process' way to the daemon of a replicated file: RESP
// over the Unix socket beside the file (SocketPath), on a few connections
// kept between calls. The socket admits whoever may open it (its mode and
// group are the file's), so there is no AUTH: whoever can connect can map
// the file too.
type daemon struct {
	sock string

	mu     sync.Mutex // guards idle and closed
	idle   []*daemonConn
	closed bool
}

// daemonConn is one connection to the daemon, used by one call at a time.
type daemonConn struct {
	nc net.Conn
	wr *resp.Writer
	rd *resp.ReplyReader
}

const (
	// daemonIdle is how many connections a Memory keeps between calls;
	// more concurrent calls dial more, closed after their call.
	daemonIdle = 4
	// daemonDialTimeout bounds a connect to the socket: a daemon that
	// is up accepts at once, and a missing one fails at once.
	daemonDialTimeout = time.Second
)

func newDaemon(sock string) *daemon { return &daemon{sock: sock} }

// get returns an idle connection (reused true) or a new one.
func (d *daemon) get() (c *daemonConn, reused bool, err error) {
	d.mu.Lock()
	if n := len(d.idle); n > 0 {
		c = d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return c, true, nil
	}
	d.mu.Unlock()
	nc, err := net.DialTimeout("unix", d.sock, daemonDialTimeout)
	if err != nil {
		return nil, false, err
	}
	return &daemonConn{nc: nc, wr: resp.NewWriter(nc, 0), rd: resp.NewReplyReader(nc, 0, maxValueMax)}, false, nil
}

// put keeps c for the next call, or closes it.
func (d *daemon) put(c *daemonConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || len(d.idle) >= daemonIdle {
		c.nc.Close()
		return
	}
	d.idle = append(d.idle, c)
}

// close closes the idle connections; calls in flight close theirs.
func (d *daemon) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for _, c := range d.idle {
		c.nc.Close()
	}
	d.idle = nil
}

// call sends one command and returns the daemon's reply; an error reply
// becomes this package's error for it (replyError). A connection kept
// from an earlier call that the daemon has closed since (it restarted)
// fails to send, having delivered nothing, and the call dials again once.
// A connection lost after the command was sent leaves the outcome unknown,
// and is not retried unless retry says the command may run twice.
func (d *daemon) call(ctx context.Context, retry bool, args ...[]byte) (resp.Reply, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := d.get()
		if err != nil {
			return resp.Reply{}, fmt.Errorf("%w (%s): %v", ErrNoDaemon, d.sock, err)
		}
		rep, sent, err := c.roundTrip(ctx, args)
		if err == nil {
			d.put(c)
			if rep.IsError() {
				return rep, replyError(string(rep.Str))
			}
			return rep, nil
		}
		c.nc.Close()
		switch {
		case ctx.Err() != nil:
			return resp.Reply{}, ctx.Err()
		case reused && attempt == 0 && (!sent || retry):
			continue
		case !sent:
			return resp.Reply{}, fmt.Errorf("%w (%s): %v", ErrNoDaemon, d.sock, err)
		}
		return resp.Reply{}, fmt.Errorf("%w (%s): the connection was lost before the reply, so the write may or may not have been applied: %v", ErrNoDaemon, d.sock, err)
	}
}

// roundTrip writes args as a command and reads its reply; sent reports
// whether the command reached the socket. ctx's end interrupts it.
func (c *daemonConn) roundTrip(ctx context.Context, args [][]byte) (rep resp.Reply, sent bool, err error) {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Now()) })
		defer func() {
			if !stop() && err == nil {
				err = ctx.Err() // the deadline is set: the connection is done
			}
		}()
	}
	c.wr.Array(len(args))
	for _, a := range args {
		c.wr.Bulk(a)
	}
	if err := c.wr.Flush(); err != nil {
		return resp.Reply{}, false, err
	}
	rep, err = c.rd.Read()
	return rep, true, err
}

// daemonErrors are the errors a daemon's reply may carry in this
// package's words ("ERR " and the error's text: the commands local
// processes send answer so). ErrClosed is not among them: the daemon's
// memory closing is the daemon's business (ErrDaemon).
var daemonErrors = []error{
	ErrNotFound, ErrNotInteger, ErrOverflow, ErrFull, ErrNameTooLong, ErrEmptyName,
	ErrValueTooLarge, ErrTooMany, ErrDamaged, ErrIndexDamaged,
}

// replyError is the error of an error reply: this package's, with the
// daemon's details, or ErrDaemon with its words.
func replyError(msg string) error {
	text := strings.TrimPrefix(msg, "ERR ")
	for _, e := range daemonErrors {
		if rest, ok := strings.CutPrefix(text, e.Error()); ok {
			return fmt.Errorf("%w%s", e, rest)
		}
	}
	return fmt.Errorf("%w: %s", ErrDaemon, msg)
}

// replyInts checks that rep is an array of at least n elements whose
// first n are integers, and returns them.
func replyInts(rep resp.Reply, n int) ([]int64, error) {
	if rep.Type != '*' || len(rep.Elems) < n {
		return nil, fmt.Errorf("%w: unexpected reply %q", ErrDaemon, rep.Type)
	}
	out := make([]int64, n)
	for i := range out {
		if rep.Elems[i].Type != ':' {
			return nil, fmt.Errorf("%w: unexpected reply element %q", ErrDaemon, rep.Elems[i].Type)
		}
		out[i] = rep.Elems[i].Int
	}
	return out, nil
}
