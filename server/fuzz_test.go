package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// halfPipe is a connection made of two net.Pipes, one per direction, so
// that a client can close its sending side (the server reads EOF) and still
// read every reply until the server closes.
type halfPipe struct {
	in  net.Conn // server end of the request pipe
	out net.Conn // server end of the reply pipe
}

func (h halfPipe) Read(p []byte) (int, error)         { return h.in.Read(p) }
func (h halfPipe) Write(p []byte) (int, error)        { return h.out.Write(p) }
func (h halfPipe) LocalAddr() net.Addr                { return h.in.LocalAddr() }
func (h halfPipe) RemoteAddr() net.Addr               { return h.in.RemoteAddr() }
func (h halfPipe) SetReadDeadline(t time.Time) error  { return h.in.SetReadDeadline(t) }
func (h halfPipe) SetWriteDeadline(t time.Time) error { return h.out.SetWriteDeadline(t) }

func (h halfPipe) SetDeadline(t time.Time) error {
	return errors.Join(h.in.SetDeadline(t), h.out.SetDeadline(t))
}

func (h halfPipe) Close() error { return errors.Join(h.in.Close(), h.out.Close()) }

// converse feeds input to a connection handler of s, closes the sending
// side, and returns everything the server wrote before it closed. It fails
// if the handler does not finish in time.
func converse(t testing.TB, s *Server, input []byte) []byte {
	t.Helper()
	reqC, reqS := net.Pipe()
	repC, repS := net.Pipe()
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		s.serveConn(halfPipe{in: reqS, out: repS})
	}()
	go func() {
		reqC.Write(input) // fails once the server has closed: that is fine
		reqC.Close()
	}()
	repC.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(repC)
	if err != nil {
		t.Fatalf("reading replies: %v (handler hung?) after %q", err, out)
	}
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatalf("handler did not return")
	}
	return out
}

// fuzzServer is a Server that is not serving a listener: the fuzz targets
// hand it connections directly.
func fuzzServer(f *testing.F) *Server {
	s, err := New(Config{
		File: filepath.Join(f.TempDir(), "dsm.mem"), Vars: 256,
		Logger: slog.New(slog.DiscardHandler), RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	return s
}

// FuzzSeed checks the seed protocol against a model: for any bytes after
// the first R or W, the replies are exactly those the model computes, and
// the connection ends where the model stops.
func FuzzSeed(f *testing.F) {
	for _, seed := range []string{"", "R", "W\x01\x00\x00\x00R", "\x05\x00\x00\x00RR", "\x01\x02", " R\r\nX", "RW"} {
		f.Add(true, []byte(seed))
		f.Add(false, []byte(seed))
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, write bool, data []byte) {
		if _, err := s.mem.Set(seedVar, shm.Int(0)); err != nil {
			t.Fatal(err)
		}
		first := byte('R')
		if write {
			first = 'W'
		}
		input := append([]byte{first}, data...)
		got := converse(t, s, input)
		if want := seedModel(input); !bytes.Equal(got, want) {
			t.Fatalf("input %q:\n got %q\nwant %q", input, got, want)
		}
	})
}

// seedModel is the seed protocol as a pure function of the input, starting
// from value 0.
func seedModel(in []byte) []byte {
	var out []byte
	var value int32
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case 'R':
			out = binary.LittleEndian.AppendUint32(out, uint32(value))
		case 'W':
			if len(in)-i-1 < 4 {
				return out
			}
			value = int32(binary.LittleEndian.Uint32(in[i+1 : i+5]))
			out = append(out, "OK"...)
			i += 4
		case ' ', '\t', '\r', '\n':
		default:
			return out
		}
	}
	return out
}

// FuzzRESPConn feeds bytes to a RESP connection. Whatever the input, the
// handler must return, and everything it wrote must be a sequence of
// well-formed replies.
func FuzzRESPConn(f *testing.F) {
	for _, seed := range []string{
		encode("PING"), encode("SET", "a", "1") + encode("INCR", "a") + encode("GET", "a"),
		"PING\r\nset x 'a b'\r\nget x\r\n", encode("HELLO", "3") + encode("MGET", "a", "b"),
		encode("MSET", "a", "1", "b", "2") + encode("KEYS", "*") + encode("SCAN", "0", "COUNT", "2"),
		encode("CAS", "a", "1", "2") + encode("CLIENT", "LIST") + encode("COMMAND", "DOCS"),
		encode("CONFIG", "GET", "*") + encode("INFO") + encode("QUIT") + encode("PING"),
		"*1\r\n$-3\r\n", "*1\r\n$9223372036854775807\r\n", "*1000000\r\n", "*-5\r\nPING\r\n",
		"echo \"a\\x41\"\r\n", "echo \"unbalanced\r\n", "\x00\x01\x02\r\n", "*2\r\n$3\r\nGET\r\n$1",
		encode("SET", "k", "v", "NX", "GET", "EX", "1"), encode("AUTH", "a", "b", "c"),
	} {
		f.Add([]byte(seed))
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && (data[0] == 'R' || data[0] == 'W' || data[0] == tlsHandshake) {
			data = append([]byte("\r\n"), data...) // an empty inline line keeps it RESP
		}
		out := converse(t, s, data)
		br := bufio.NewReader(bytes.NewReader(out))
		for {
			if _, err := br.Peek(1); err == io.EOF {
				break
			}
			if r, err := readReply(br); err != nil {
				t.Fatalf("malformed reply %q (%v) in %q for input %q", r, err, out, data)
			}
		}
	})
}
