package server

import (
	"net"
	"time"
)

// serveConn serves nc on the calling goroutine, as Serve would after
// Accept. Tests and fuzz targets use it over net.Pipe.
func (s *Server) serveConn(nc net.Conn) {
	c := newConn(s, nc)
	if !s.trackConn(c) {
		s.refuseNow(nc, refusedMaxClients)
		return
	}
	c.serve()
}

// addrConn gives a connection a chosen peer address, so that access rules
// for remote networks can be tested without leaving the machine.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (a addrConn) RemoteAddr() net.Addr { return a.remote }

// pipeFrom returns the client end of a net.Pipe whose server end, seen as
// coming from ip, is served by s on a new goroutine. done is closed when
// the server is finished with the connection.
func pipeFrom(s *Server, ip string) (client net.Conn, done chan struct{}) {
	c1, c2 := net.Pipe()
	done = make(chan struct{})
	remote := &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}
	go func() {
		defer close(done)
		s.serveConn(addrConn{Conn: c2, remote: remote})
	}()
	c1.SetDeadline(time.Now().Add(10 * time.Second))
	return c1, done
}
