package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The node's own requests on the cluster port (RPC streams). A stream
// carries one request at a time, each a frame answered by a frame:
//
//	frame:    length (4 bytes, big-endian, at most maxFrame), body
//	request:  op byte, timeout in ms (uvarint, 0 for none), the op's fields
//	response: status byte, then the status's fields
//
// Integers are uvarints, strings and byte strings a uvarint length and
// the bytes. A node keeps idle streams to each peer for reuse.
const maxFrame = 64 << 20

// Request ops.
const (
	opHello     byte = 1 // Hello of the caller → Hello of the callee
	opWrite     byte = 2 // entry (EncodeEntry) → index, reply data
	opReadIndex byte = 3 // → read index (see readIndex)
	opJoin      byte = 4 // id, raft address → nothing
	opRemove    byte = 5 // id → nothing
	opTransfer  byte = 6 // id ("" for any) → nothing
)

// Response statuses; every one but statusOK carries a message.
const (
	statusOK        byte = 0
	statusCommand   byte = 1 // ErrCommand: index, message
	statusNotLeader byte = 2 // not done; the callee is not the leader
	statusUnknown   byte = 3 // ErrUnknownOutcome
	statusNoLeader  byte = 4 // ErrNoLeader
	statusFailed    byte = 5 // any other failure
)

// maxIdlePerPeer bounds the idle RPC streams kept to one peer. A stream
// carries one request at a time, and a follower forwards every client's
// write on a stream of its own while it waits for the reply, so it needs
// as many streams as it has writes in flight: a stream closed for want of
// room is dialed again, with the secret's handshake, by the next write.
// With a bound of 8 and 50 clients over three nodes, each follower dialed
// about 150 streams a second, one forwarded write in four.
const maxIdlePerPeer = 128

func writeFrame(w *bufio.Writer, body []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	w.Write(hdr[:])
	w.Write(body)
	return w.Flush()
}

// readFrame reads one frame, refusing a length over maxFrame before it
// allocates.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("cluster: frame of %d bytes exceeds %d", n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// fields reads a frame's fields; the first error sticks and later reads
// return zero values.
type fields struct {
	b   []byte
	err error
}

var errShortFrame = errors.New("cluster: malformed frame")

func (d *fields) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShortFrame
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *fields) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortFrame
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *fields) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShortFrame
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *fields) string() string { return string(d.bytes()) }

// rpcConn is one RPC stream to a peer.
type rpcConn struct {
	net.Conn
	raw  net.Conn // the TCP connection under Conn (the same without TLS)
	addr string
	r    *bufio.Reader
	w    *bufio.Writer
}

// alive reports whether an idle stream may be reused: the peer has not
// closed it (a node that stopped or restarted did). Reusing a dead one
// would turn a request the peer never got into an unknown outcome. It
// peeks at the socket without blocking: a deadline in the past would not
// do, Go fails the read before it looks.
func (c *rpcConn) alive() bool {
	if c.r.Buffered() > 0 {
		return false // an idle stream never holds data
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return false
	case errors.Is(perr, syscall.EAGAIN):
		return true // nothing there, the stream is open
	case perr != nil || n == 0:
		return false // an error, or the peer's end of stream
	}
	// Bytes are waiting: under TLS they may be the server's session
	// tickets; otherwise the stream is out of step.
	return c.raw != c.Conn
}

// serveRPC serves one authenticated RPC stream until it closes. The
// cluster port listens before Raft starts (Raft's transport needs it), so
// a peer's request can come first: it waits until Raft is up, or until the
// node stops (a failed start included).
func (n *Node) serveRPC(conn net.Conn) {
	select {
	case <-n.ready:
	case <-n.ctx.Done():
		return
	}
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	for {
		req, err := readFrame(r)
		if err != nil {
			return
		}
		d := &fields{b: req}
		op, timeout := d.byte(), d.uvarint()
		if d.err != nil {
			return
		}
		ctx, cancel := n.ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout)*time.Millisecond)
		}
		resp := n.handle(ctx, op, d)
		cancel()
		if writeFrame(w, resp) != nil {
			return
		}
	}
}

// handle runs one request and returns its response.
func (n *Node) handle(ctx context.Context, op byte, d *fields) []byte {
	switch op {
	case opHello:
		return n.handleHello(d)
	case opWrite:
		return n.handleWrite(ctx, d)
	case opReadIndex:
		return n.handleReadIndex(ctx)
	case opJoin:
		id, addr := d.string(), d.string()
		return n.handleMembership(ctx, d, func(ctx context.Context) error { return n.joinLocal(ctx, id, addr) })
	case opRemove:
		id := d.string()
		return n.handleMembership(ctx, d, func(ctx context.Context) error { return n.removeLocal(ctx, id) })
	case opJoinRoute:
		id, addr := d.string(), d.string()
		return n.handleMembership(ctx, d, func(ctx context.Context) error { return n.Join(ctx, id, addr) })
	case opTransfer:
		id := d.string()
		return n.handleMembership(ctx, d, func(ctx context.Context) error { return n.transferLocal(ctx, id) })
	}
	return encodeError(nil, fmt.Errorf("cluster: unknown request %d", op))
}

// dialDeadlineKey is the context key of a deadline for connecting only:
// a call that waits for a leader gives up connecting to one that does not
// answer when its wait for a leader ends, even if the request itself,
// once sent, may take longer.
type dialDeadlineKey struct{}

func withDialDeadline(ctx context.Context, d time.Time) context.Context {
	return context.WithValue(ctx, dialDeadlineKey{}, d)
}

func dialDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Value(dialDeadlineKey{}).(time.Time)
	return d
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// rpcClient sends requests to other nodes' cluster ports, keeping idle
// streams for reuse.
type rpcClient struct {
	d dialer

	mu     sync.Mutex // guards idle and closed
	idle   map[string][]*rpcConn
	closed bool

	dials atomic.Uint64 // streams dialed, for tests
}

func newRPCClient(d dialer) *rpcClient {
	return &rpcClient{d: d, idle: make(map[string][]*rpcConn)}
}

// get returns an idle live stream to addr or dials one.
func (c *rpcClient) get(ctx context.Context, addr string) (*rpcConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrShutdown
		}
		var conn *rpcConn
		if l := c.idle[addr]; len(l) > 0 {
			conn, c.idle[addr] = l[len(l)-1], l[:len(l)-1]
		}
		c.mu.Unlock()
		if conn == nil {
			break
		}
		if conn.alive() {
			return conn, nil
		}
		conn.Close()
	}
	timeout := handshakeTimeout
	for _, d := range []time.Time{dialDeadline(ctx), deadline(ctx)} {
		if !d.IsZero() {
			timeout = min(timeout, time.Until(d))
		}
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	c.dials.Add(1)
	conn, err := c.d.dial(addr, kindRPC, timeout)
	if err != nil {
		return nil, err
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	return &rpcConn{Conn: conn, raw: raw, addr: addr, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}, nil
}

func (c *rpcClient) put(conn *rpcConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[conn.addr]) >= maxIdlePerPeer {
		conn.Close()
		return
	}
	c.idle[conn.addr] = append(c.idle[conn.addr], conn)
}

// close closes every idle stream; streams in use close when returned.
func (c *rpcClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, l := range c.idle {
		for _, conn := range l {
			conn.Close()
		}
	}
	c.idle = nil
}

// callError is a failed call. Sent reports whether the request may have
// reached the peer: if not, the peer certainly did not act on it.
type callError struct {
	err  error
	sent bool
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// call sends the request op with body to addr and returns the response's
// status and fields. Its errors are *callError. ctx bounds the whole call
// and travels to the peer as the request's timeout.
func (c *rpcClient) call(ctx context.Context, addr string, op byte, body []byte) (byte, *fields, error) {
	conn, err := c.get(ctx, addr)
	if err != nil {
		return 0, nil, &callError{err: err}
	}
	var timeout uint64
	if d, ok := ctx.Deadline(); ok {
		timeout = uint64(max(time.Until(d).Milliseconds(), 1))
		conn.SetDeadline(d)
	}
	// An ending ctx unblocks the stream's reads and writes at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	req := binary.AppendUvarint([]byte{op}, timeout)
	err = writeFrame(conn.w, append(req, body...))
	if err != nil {
		stop()
		conn.Close()
		return 0, nil, &callError{err: ctxOr(ctx, err)}
	}
	resp, err := readFrame(conn.r)
	if !stop() || err != nil {
		conn.Close()
		return 0, nil, &callError{err: ctxOr(ctx, err), sent: true}
	}
	conn.SetDeadline(time.Time{})
	c.put(conn)
	d := &fields{b: resp}
	status := d.byte()
	if d.err != nil {
		return 0, nil, &callError{err: d.err, sent: true}
	}
	return status, d, nil
}

// ctxOr returns ctx's error if it has ended (it caused err), else err.
// The stream's deadline is ctx's, and the stream may see it pass before
// ctx's own timer has ended ctx: that is ctx's deadline too.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// statusError turns a response that is not statusOK into an error; msg is
// the peer's message.
func statusError(status byte, msg string) error {
	switch status {
	case statusCommand:
		return fmt.Errorf("%w: %s", ErrCommand, msg)
	case statusNotLeader:
		return fmt.Errorf("%w: %s", ErrNotLeader, msg)
	case statusUnknown:
		return fmt.Errorf("%w: %s", ErrUnknownOutcome, msg)
	case statusNoLeader:
		return fmt.Errorf("%w: %s", ErrNoLeader, msg)
	default:
		return fmt.Errorf("cluster: remote: %s", msg)
	}
}

// errorStatus is the status that carries err to a caller.
func errorStatus(err error) byte {
	switch {
	case errors.Is(err, ErrCommand):
		return statusCommand
	case errors.Is(err, ErrNotLeader):
		return statusNotLeader
	case errors.Is(err, ErrUnknownOutcome):
		return statusUnknown
	case errors.Is(err, ErrNoLeader):
		return statusNoLeader
	default:
		return statusFailed
	}
}

// encodeError appends a response carrying err: its status and the text
// after its sentinel's.
func encodeError(b []byte, err error) []byte {
	status := errorStatus(err)
	msg := err.Error()
	for _, s := range []error{ErrCommand, ErrNotLeader, ErrUnknownOutcome, ErrNoLeader} {
		if errors.Is(err, s) {
			msg = after(err, s)
			break
		}
	}
	return appendString(append(b, status), msg)
}

// after returns err's text after sentinel's (and ": "), where the wrapped
// message begins; or all of it.
func after(err, sentinel error) string {
	s := err.Error()
	if i := strings.Index(s, sentinel.Error()+": "); i >= 0 {
		return s[i+len(sentinel.Error())+2:]
	}
	return s
}
