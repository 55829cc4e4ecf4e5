// Command nullserver is the measuring stick of scripts/bench ceiling: a
// server that speaks just enough of the Redis protocol for redis-benchmark
// and does no work at all. It frames each command, answers PING with PONG
// and everything else with +OK, and keeps nothing. What it reaches against
// Redis on a machine is the most any Go server could reach there with the
// same way of serving connections; dsmd's figures are read against it.
//
// Usage:
//
//	nullserver -listen 127.0.0.1:PORT -loop conn|epoll|uring
//
// The loops:
//
//	conn   a goroutine per connection on Go's net package, as dsmd serves
//	epoll  one thread in an epoll loop over non-blocking sockets, as Redis does
//	uring  one thread submitting receives and sends to io_uring, one system
//	       call per turn of the loop for all connections
//
// epoll and uring run on one locked OS thread; conn on as many as
// GOMAXPROCS allows.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:6390", "serve on `HOST:PORT`")
	loop := flag.String("loop", "conn", "how to serve connections: conn, epoll or uring")
	flag.Parse()
	if err := serve(*loop, *addr, func(string) {}, nil); err != nil {
		fmt.Fprintln(os.Stderr, "nullserver:", err)
		os.Exit(1)
	}
}

// serve listens on addr, calls ready with the address bound, and serves
// with the named loop until stop is closed (nil: never), when it closes
// every connection and returns nil, or until an error stops it.
func serve(loop, addr string, ready func(string), stop <-chan struct{}) error {
	switch loop {
	case "conn":
		return serveConns(addr, ready, stop)
	case "epoll":
		return serveEpoll(addr, ready, stop)
	case "uring":
		return serveUring(addr, ready, stop)
	}
	return fmt.Errorf("unknown loop %q (conn, epoll or uring)", loop)
}

// stopEvent returns an eventfd that becomes readable once stop is closed,
// for the loops that wait in the kernel, and a function that releases it.
// release waits for the goroutine that signals it, so that the descriptor
// is never written after it is closed (and its number perhaps reused).
func stopEvent(stop <-chan struct{}) (fd int, release func(), err error) {
	fd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, nil, err
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-stop:
			unix.Write(fd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-done:
		}
	}()
	return fd, func() { close(done); <-exited; unix.Close(fd) }, nil
}

const bufSize = 16 << 10

var errProtocol = errors.New("not a RESP array of bulk strings")

// A session is one connection's input not yet parsed and its replies.
type session struct {
	in   []byte // in[:have] is input not yet parsed
	have int
	out  []byte
}

func newSession() *session {
	return &session{in: make([]byte, bufSize), out: make([]byte, 0, bufSize)}
}

// space is where the next read goes: after the input kept, never empty.
func (s *session) space() []byte {
	if s.have == len(s.in) {
		s.in = append(s.in, make([]byte, len(s.in))...)
	}
	return s.in[s.have:]
}

// received takes n more bytes read into space and returns the replies to
// the whole commands now in the input. The replies are valid until the
// next call.
func (s *session) received(n int) ([]byte, error) {
	s.have += n
	s.out = s.out[:0]
	buf := s.in[:s.have]
	for {
		ping, used, ok, err := command(buf)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if ping {
			s.out = append(s.out, "+PONG\r\n"...)
		} else {
			s.out = append(s.out, "+OK\r\n"...)
		}
		buf = buf[used:]
	}
	s.have = copy(s.in, buf)
	return s.out, nil
}

// command frames the first command of b, a RESP array of bulk strings. It
// reports whether the command is PING, how many bytes it takes and whether
// b holds all of it. It is written here rather than taken from package resp,
// whose Reader reads from an io.Reader and slices out every argument: the
// epoll and uring loops hold the bytes already, and a null server should
// do no more than find where each command ends.
func command(b []byte) (ping bool, used int, ok bool, err error) {
	if len(b) == 0 {
		return false, 0, false, nil
	}
	if b[0] != '*' {
		return false, 0, false, errProtocol
	}
	args, p, ok, err := count(b, 1)
	if !ok || err != nil {
		return false, 0, false, err
	}
	if args < 1 {
		return false, 0, false, errProtocol
	}
	for i := 0; i < args; i++ {
		if p >= len(b) {
			return false, 0, false, nil
		}
		if b[p] != '$' {
			return false, 0, false, errProtocol
		}
		n, q, ok, err := count(b, p+1)
		if !ok || err != nil || q+n+2 > len(b) {
			return false, 0, false, err
		}
		if b[q+n] != '\r' || b[q+n+1] != '\n' {
			return false, 0, false, errProtocol
		}
		if i == 0 && n == 4 && (string(b[q:q+n]) == "PING" || string(b[q:q+n]) == "ping") {
			ping = true
		}
		p = q + n + 2
	}
	return ping, p, true, nil
}

// count parses the decimal count that starts at b[p] and ends with CRLF. It
// returns the count, where the line after it starts, and ok false if b
// ends first.
func count(b []byte, p int) (n, next int, ok bool, err error) {
	for i := p; i+1 < len(b); i++ {
		switch c := b[i]; {
		case c == '\r' && b[i+1] == '\n' && i > p:
			return n, i + 2, true, nil
		case c < '0' || c > '9' || n > 1<<30:
			return 0, 0, false, errProtocol
		default:
			n = n*10 + int(c-'0')
		}
	}
	return 0, 0, false, nil
}
