package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// fakeNode answers each RESP command it reads with the next of replies
// and sends the commands it read, one a line, on got.
func fakeNode(t *testing.T, replies ...string) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, len(replies))
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := resp.NewReader(conn, 0)
		var args [][]byte
		for _, reply := range replies {
			if args, err = r.ReadCommand(args[:0]); err != nil {
				return
			}
			ch <- string(bytes.Join(args, []byte(" ")))
			conn.Write([]byte(reply))
		}
	}()
	return ln.Addr().String(), ch
}

func TestRESPConn(t *testing.T) {
	long := strings.Repeat("x", 10000) // beyond the reader's buffer
	addr, got := fakeNode(t, "+OK\r\n", "+OK\r\n", "$3\r\nabc\r\n", "$-1\r\n",
		":7\r\n", "$10000\r\n"+long+"\r\n", "-ERR no such thing\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialRESP(ctx, addr, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if cmd := <-got; cmd != "READONLY" {
		t.Fatalf("a stale connection began with %q, want READONLY", cmd)
	}
	steps := []struct {
		call    func() ([]byte, error)
		cmd     string
		want    string
		wantErr bool
	}{
		{func() ([]byte, error) { return nil, c.put(ctx, "k", "v") }, "SET k v", "", false},
		{func() ([]byte, error) { return c.do(ctx, "GET", "k") }, "GET k", "abc", false},
		{func() ([]byte, error) { return c.do(ctx, "GET", "none") }, "GET none", "", false},
		{func() ([]byte, error) { return c.do(ctx, "INCR", "n") }, "INCR n", "7", false},
		{func() ([]byte, error) { return c.do(ctx, "GET", "long") }, "GET long", long, false},
		{func() ([]byte, error) { return nil, c.incr(ctx, "bad") }, "INCR bad", "", true},
	}
	for _, s := range steps {
		b, err := s.call()
		if cmd := <-got; cmd != s.cmd {
			t.Fatalf("sent %q, want %q", cmd, s.cmd)
		}
		switch {
		case s.wantErr && !errors.Is(err, errRESP):
			t.Fatalf("%s: error %v, want a dsmd error", s.cmd, err)
		case !s.wantErr && err != nil:
			t.Fatalf("%s: %v", s.cmd, err)
		case string(b) != s.want:
			t.Fatalf("%s: reply %.20q, want %.20q", s.cmd, b, s.want)
		}
	}
}
