package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// Lingering close. When the server closes a socket with input from the
// client still unread, the kernel answers with a reset (RFC 1122,
// 4.2.2.13) instead of an orderly end, and the client's kernel, on
// receiving the reset, throws away what it received but the client has
// not read yet: often the very line that says why the connection ended
// ("-ERR Protocol error: too big request" to a client still sending its
// 1.5 MB request). So a connection that the server ends after a last
// reply is closed as nginx and Apache do (lingering_close): the reply is
// written, the write side is shut (a FIN; over TLS a close_notify first),
// and the client's input is read and thrown away until the client closes,
// lingerBytes have come or lingerTime has passed; only then is the socket
// closed.
//
// A lingering connection is no longer a client: it holds no place among
// MaxClients and no buffer of its own (io.Discard lends one), only its
// socket and a goroutine. At most lingerSlots linger at once; beyond
// that a connection is closed at once, as before. Shutdown and Close end
// every linger at once, so they wait for none.
const (
	lingerTime  = time.Second
	lingerBytes = 4 << 20
	lingerSlots = 256
)

// closeAfterReply closes nc, whose last reply has been written, lingering
// as described above on a goroutine of its own. tc, when not nil, is the
// TLS connection over nc: it is told first that nothing more will come.
func (s *Server) closeAfterReply(nc net.Conn, tc *tls.Conn) {
	select {
	case s.lingering <- struct{}{}:
	default:
		nc.Close()
		return
	}
	if !s.goFunc(func() {
		defer func() { <-s.lingering }()
		s.linger(nc, tc)
	}) {
		<-s.lingering
		nc.Close()
	}
}

// linger shuts the write side of nc, discards its input within the
// bounds, then closes it.
func (s *Server) linger(nc net.Conn, tc *tls.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(lingerTime))
	stop := context.AfterFunc(s.live.ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	if tc != nil && tc.CloseWrite() != nil {
		return
	}
	hc, ok := nc.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return
	}
	io.CopyN(io.Discard, nc, lingerBytes)
}

// endsWithReply reports whether a connection that ended with err was
// ended by the server after its last replies (a protocol error, QUIT, a
// byte the seed protocol does not know), so that it must linger for the
// client to read them; any other end is the client's, a timeout or a
// failure, with nothing more to say.
func (c *conn) endsWithReply(err error) bool {
	var pe *resp.ProtocolError
	return !c.evicted.Load() && (err == nil || errors.As(err, &pe) || errors.Is(err, errSeedByte))
}
