package cluster

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// mux serves a node's cluster port: it accepts every connection, runs the
// handshake (auth.go) off the accept loop, then hands a Raft stream to
// Raft's transport (through raftLayer) and serves an RPC stream itself.
// It owns every accepted connection until Close, which closes them all.
type mux struct {
	ln      net.Listener
	secret  []byte
	tls     *tls.Config // nil: plain TCP
	logger  hclog.Logger
	serve   func(net.Conn) // serves one authenticated RPC stream
	raftCh  chan net.Conn  // authenticated Raft streams for raftLayer.Accept
	done    chan struct{}  // closed by Close
	refused atomic.Uint64  // connections that failed the handshake

	connsMu sync.Mutex // guards conns and closed
	conns   map[net.Conn]struct{}
	closed  bool

	wg sync.WaitGroup // the accept loop and every connection's goroutine
}

func newMux(ln net.Listener, secret []byte, tlsConf *tls.Config, logger hclog.Logger) *mux {
	return &mux{
		ln: ln, secret: secret, tls: tlsConf, logger: logger,
		raftCh: make(chan net.Conn), done: make(chan struct{}),
		conns: make(map[net.Conn]struct{}),
	}
}

// start begins accepting; serve handles the RPC streams.
func (m *mux) start(serve func(net.Conn)) {
	m.serve = serve
	m.wg.Add(1)
	go m.acceptLoop()
}

// acceptLoop backs off on errors (as Raft's transport does) so that a
// full file table does not spin it; it ends when the listener is closed.
func (m *mux) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.logger.Error("cluster port: accept failed", "error", err)
			select {
			case <-m.done:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		if !m.track(conn) {
			conn.Close()
			return
		}
		m.wg.Add(1)
		go m.handle(conn)
	}
}

// track records conn so that Close can close it; false once closed.
func (m *mux) track(conn net.Conn) bool {
	m.connsMu.Lock()
	defer m.connsMu.Unlock()
	if m.closed {
		return false
	}
	m.conns[conn] = struct{}{}
	return true
}

func (m *mux) untrack(conn net.Conn) {
	m.connsMu.Lock()
	delete(m.conns, conn)
	m.connsMu.Unlock()
}

// handle authenticates conn, then dispatches it by its stream kind.
func (m *mux) handle(raw net.Conn) {
	defer m.wg.Done()
	conn := raw
	if m.tls != nil {
		conn = tls.Server(raw, m.tls)
	}
	kind, err := acceptHandshake(conn, m.secret)
	if err != nil {
		m.refused.Add(1)
		m.logger.Warn("cluster port: connection refused", "remote", raw.RemoteAddr().String(), "error", err)
		m.untrack(raw)
		raw.Close()
		return
	}
	switch kind {
	case kindRaft:
		// Raft's transport closes the stream when done with it.
		select {
		case m.raftCh <- &trackedConn{Conn: conn, raw: raw, m: m}:
		case <-m.done:
			m.untrack(raw)
			raw.Close()
		}
	case kindRPC:
		m.serve(conn)
		m.untrack(raw)
		conn.Close()
	}
}

// Close stops accepting, closes every accepted connection and waits for
// their goroutines.
func (m *mux) Close() error {
	m.connsMu.Lock()
	if m.closed {
		m.connsMu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	err := m.ln.Close()
	for c := range m.conns {
		c.Close()
	}
	m.connsMu.Unlock()
	m.wg.Wait()
	return err
}

// trackedConn is an accepted Raft stream, which leaves the mux's set when
// Raft closes it.
type trackedConn struct {
	net.Conn
	raw  net.Conn
	m    *mux
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.m.untrack(c.raw) })
	return c.Conn.Close()
}

// raftLayer is the StreamLayer Raft's transport runs on: authenticated
// Raft streams from the mux, and dials that run the handshake first.
type raftLayer struct {
	m      *mux
	dial   func(addr string, kind streamKind, timeout time.Duration) (net.Conn, error)
	closed chan struct{}
	once   sync.Once
}

// Accept returns the next authenticated Raft stream.
func (l *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raftCh:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

// Close ends Accept; the mux owns the listener and closes it.
func (l *raftLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the cluster port's address.
func (l *raftLayer) Addr() net.Addr { return l.m.ln.Addr() }

// Dial opens an authenticated Raft stream to another node.
func (l *raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.dial(string(addr), kindRaft, timeout)
}

// dialer opens authenticated streams to cluster ports.
type dialer struct {
	secret []byte
	tls    *tls.Config
}

// dial connects to addr and runs the handshake for kind, each within
// timeout (handshakeTimeout if zero).
func (d dialer) dial(addr string, kind streamKind, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = handshakeTimeout
	}
	raw, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	conn := raw
	if d.tls != nil {
		conf := d.tls.Clone()
		if conf.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			conf.ServerName = host
		}
		conn = tls.Client(raw, conf)
	}
	if err := dialHandshake(conn, d.secret, kind, timeout); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}
