package client_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// responder is a scripted RESP server on 127.0.0.1: a test fixture for the
// answers a cluster node gives when it cannot serve (CLUSTERDOWN, MOVED,
// UNCERTAIN, a connection dropped after a command arrived), which a
// single-host dsmd never gives. It counts the commands it received, by
// name in upper case.
type responder struct {
	addr string
	ln   net.Listener

	// answer returns the raw reply to a command (its arguments, the name
	// in upper case), or "" to close the connection without one.
	answer func(args []string) string

	mu     sync.Mutex // guards counts and conns
	counts map[string]int
	conns  []net.Conn
	wg     sync.WaitGroup
}

// startResponder serves answer until the test ends. The handshake is
// answered here: HELLO as an unknown command (go-redis then speaks RESP2),
// PING with PONG, unless answer gives something else first.
func startResponder(tb testing.TB, answer func(args []string) string) *responder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &responder{addr: ln.Addr().String(), ln: ln, answer: answer, counts: map[string]int{}}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.close)
	return r
}

func (r *responder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

func (r *responder) serve(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		args, err := readCommand(br)
		if err != nil {
			return
		}
		args[0] = strings.ToUpper(args[0])
		r.mu.Lock()
		r.counts[args[0]]++
		r.mu.Unlock()
		reply := r.answer(args)
		switch {
		case reply != "":
		case args[0] == "HELLO":
			reply = "-ERR unknown command 'HELLO'\r\n"
		case args[0] == "PING":
			reply = "+PONG\r\n"
		default:
			return
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// close stops the responder: no more connections, and the open ones end.
func (r *responder) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// count returns how many commands named cmd arrived.
func (r *responder) count(cmd string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[cmd]
}

// readCommand reads one command, an array of bulk strings, with the small
// limits a fixture needs.
func readCommand(br *bufio.Reader) ([]string, error) {
	n, err := readHeader(br, '*')
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 64 {
		return nil, fmt.Errorf("array of %d", n)
	}
	args := make([]string, n)
	for i := range args {
		size, err := readHeader(br, '$')
		if err != nil {
			return nil, err
		}
		if size < 0 || size > 1<<16 {
			return nil, fmt.Errorf("bulk of %d", size)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// readHeader reads a line "<kind><number>\r\n".
func readHeader(br *bufio.Reader, kind byte) (int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if len(line) < 2 || line[0] != kind {
		return 0, fmt.Errorf("want %c, got %q", kind, line)
	}
	return strconv.Atoi(line[1:])
}
