package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// readBufSize is the size of a RESP connection's read buffer.
const readBufSize = 16 << 10

// conn is one client connection. Its fields are used by the connection's own
// goroutine only, except those marked otherwise.
type conn struct {
	s      *Server
	raw    net.Conn // the accepted socket; others may set its deadline or close it
	nc     net.Conn // the transport: raw, or TLS over raw
	id     int64
	remote string
	logged bool // its connect and disconnect are logged (connlog.go); set once, by serve
	local  string
	since  time.Time
	access access

	in      input
	out     output
	rd      *resp.Reader // nil for seed connections
	wr      *resp.Writer // the one reply buffer, for both protocols (output.go)
	args    [][]byte
	keys    [][]byte // names gathered by prefetch (respconn.go)
	pending [][]byte // scratch for the commands prefetch looks at
	cur     *command // the command being executed
	tx      *txView  // inside EXEC: the transaction's staged writes (txview.go)
	refused bool     // the current command was refused before it ran (rejected)

	// A cluster node's (cluster.go): applying marks the applier's
	// scratch connections, whose replies travel to the proposer and whose
	// errors are counted there; readonly is READONLY's stale reads; seen
	// is the applied index of the newest write or read this connection
	// was answered, below which its stale reads never go.
	applying bool
	readonly bool
	seen     uint64
	fence    uint64   // FENCED's token while its command runs (clusterlocks.go)
	looked   *command // the last command looked up (lookup)
	proto    string   // "resp", "resp+tls" or "seed"

	authed     bool
	fileSocket bool   // came through the file's socket: a local process (filesocket.go)
	dirty      bool   // a write since the last flush of replies
	quit       bool   // QUIT was received: flush and close
	monitoring bool   // in MONITOR mode (monitor.go)
	scratch    []byte // reused for formatting values

	uncounted cmdRun // commands executed but not yet counted (respconn.go)

	live liveState // subscriptions, client-held locks, transaction (route.go)

	memHeld atomic.Int64 // bytes counted in the clients' total (clientmem.go)
	evicted atomic.Bool  // closed for the clients' memory bound; set by evict
	killed  atomic.Bool  // closed by CLIENT KILL; set by kill

	lastActive atomic.Int64           // unix nanoseconds; read by CLIENT LIST
	lastCmd    atomic.Pointer[string] // full name of the last command; read by CLIENT LIST
	commands   atomic.Int64
	first      atomic.Uint32 // the first byte received, which tells the protocol; read by Clients

	infoMu  sync.Mutex // guards the client's self-description below
	name    string
	libName string
	libVer  string
	resp3   bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s: s, raw: nc, nc: nc, id: s.nextID.Add(1), since: time.Now(),
		remote: nc.RemoteAddr().String(), local: nc.LocalAddr().String(),
	}
	c.out = output{c: c}
	c.wr = resp.NewWriter(&c.out, keepOutput)
	c.wr.SetLimit(s.cfg.OutputLimit)
	c.in = input{c: c, nc: nc}
	c.lastActive.Store(c.since.UnixNano())
	return c
}

// serve runs the connection: access check, protocol sniffing, then the
// protocol's loop. It logs one line at connect and one at disconnect.
func (c *conn) serve() {
	guardFaults() // a fault in the mapping ends the server, not the process (storage.go)
	defer c.endFaulted()
	s := c.s
	c.logged = s.connLog.admit()
	if c.logged {
		s.log.Info("client connected", "addr", c.remote, "id", c.id)
	}
	err := c.run()
	flushed := c.flush() == nil
	if errors.Is(err, errOutputLimit) {
		s.stats.outputLimit.Add(1)
		s.log.Warn("client closed: output buffer limit", "addr", c.remote, "id", c.id, "limit", s.cfg.OutputLimit)
	}
	c.close(err, flushed)
	c.releaseMem()
	c.endLive()
	s.untrackConn(c)
	if c.logged {
		s.log.Info("client disconnected", "addr", c.remote, "id", c.id, "proto", c.proto,
			"commands", c.commands.Load(), "duration", time.Since(c.since).Round(time.Millisecond),
			"reason", c.reason(err))
	}
}

// close closes the socket when the connection ends with err. A refusal
// (errDenied, errNoTLS) has closed it already, or left it lingering. After
// last replies that reached the socket (flushed) and that the client may
// still be sending past, it lingers so that the client can read them
// (linger.go).
func (c *conn) close(err error, flushed bool) {
	switch {
	case errors.Is(err, errDenied), errors.Is(err, errNoTLS):
	case flushed && c.endsWithReply(err):
		tc, _ := c.nc.(*tls.Conn)
		c.s.closeAfterReply(c.raw, tc)
	default:
		c.raw.Close()
	}
}

// endLive releases what a connection held when it ends: its subscriptions
// (and pusher) and its locks.
func (c *conn) endLive() {
	c.endMonitor()
	c.endSubscriber()
	c.releaseHold()
}

func (c *conn) run() error {
	access, deny := c.s.classify(c.raw.RemoteAddr())
	if access == accessDenied {
		return c.refuseAccess(deny)
	}
	c.access = access
	c.authed = c.s.cfg.Password == "" || c.fileSocket
	if !c.authed && c.s.cfg.AuthTimeout > 0 {
		c.in.authBy = c.since.Add(c.s.cfg.AuthTimeout)
	}
	first, err := c.sniff()
	if err != nil {
		return err
	}
	return c.dispatchProtocol(first)
}

// sniff reads the connection's first byte and pushes it back.
func (c *conn) sniff() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(&c.in, b[:]); err != nil {
		return 0, err
	}
	c.first.Store(uint32(b[0]))
	c.nc = &sniffedConn{Conn: c.raw, first: b[0], pending: true}
	c.in.nc = c.nc
	return b[0], nil
}

// dispatchProtocol chooses the protocol by the first byte: R or W is the
// seed's, 0x16 opens TLS, anything else is RESP.
func (c *conn) dispatchProtocol(first byte) error {
	switch {
	case isSeedOp(first):
		return c.serveSeed()
	case first == tlsHandshake:
		return c.serveTLS()
	}
	return c.serveRESP()
}

// tlsHandshake is the first byte of a TLS record carrying a handshake.
const tlsHandshake = 0x16

// serveTLS completes the handshake (within RequestTimeout) and serves RESP
// inside TLS. The seed protocol is not served over TLS.
func (c *conn) serveTLS() error {
	if c.s.cfg.tls == nil {
		c.proto = "tls"
		c.s.refuse(c.raw, "no_tls", msgNoTLS)
		return errNoTLS
	}
	tc := tls.Server(c.nc, c.s.cfg.tls)
	ctx := context.Background()
	if t := c.s.cfg.RequestTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	// The handshake read the socket directly: start the deadlines afresh.
	tc.SetReadDeadline(time.Time{})
	c.nc, c.in.nc = tc, tc
	c.in.deadline = time.Time{}
	c.in.begun = time.Time{}
	c.proto = "resp+tls"
	return c.serveRESP()
}

// wake makes a blocked read return so that the connection notices that the
// server is shutting down. It may be called from any goroutine.
func (c *conn) wake() {
	c.raw.SetReadDeadline(time.Now())
}

// sniffedConn returns the sniffed first byte before reading the socket.
type sniffedConn struct {
	net.Conn
	first   byte
	pending bool
}

func (sc *sniffedConn) Read(p []byte) (int, error) {
	if sc.pending && len(p) > 0 {
		p[0] = sc.first
		sc.pending = false
		return 1, nil
	}
	return sc.Conn.Read(p)
}

// reason names why a connection ended, for the disconnect log line.
func (c *conn) reason(err error) string {
	if c.evicted.Load() {
		return "client memory limit"
	}
	if c.killed.Load() {
		return "killed (CLIENT KILL)"
	}
	if err != nil && c.s.closing.Load() && !errors.Is(err, errOutputLimit) {
		return "shutdown"
	}
	return reason(err)
}

func reason(err error) string {
	var ne net.Error
	var pe *resp.ProtocolError
	switch {
	case err == nil:
		return "quit"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by client"
	case errors.Is(err, errShuttingDown):
		return "shutdown"
	case errors.As(err, &pe):
		return pe.Error()
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}
