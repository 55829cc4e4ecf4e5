package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCommand frames whole commands, waits for the rest of a partial one,
// and refuses what is not an array of bulk strings.
func TestCommand(t *testing.T) {
	for _, c := range []struct {
		in         string
		ping, ok   bool
		used       int
		protoError bool
	}{
		{in: "*1\r\n$4\r\nPING\r\n", ping: true, ok: true, used: 14},
		{in: "*1\r\n$4\r\nping\r\n*1", ping: true, ok: true, used: 14},
		{in: "*2\r\n$3\r\nGET\r\n$4\r\nPING\r\n", ok: true, used: 23},
		{in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n", ok: true, used: 37},
		{in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01234"},
		{in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1"},
		{in: "*3\r\n$3\r\nSET\r\n"},
		{in: "*3\r"},
		{in: ""},
		{in: "PING\r\n", protoError: true},
		{in: "*0\r\n", protoError: true},
		{in: "*x\r\n", protoError: true},
		{in: "*1\r\n$99999999999\r\n", protoError: true},
		{in: "*\r\n", protoError: true},
		{in: "*1\r\n+PING\r\n", protoError: true},
		{in: "*1\r\n$4\rXPING\r\n", protoError: true},
		{in: "*1\r\n$4\r\nPINGXX", protoError: true},
	} {
		ping, used, ok, err := command([]byte(c.in))
		if ping != c.ping || used != c.used || ok != c.ok || errors.Is(err, errProtocol) != c.protoError {
			t.Errorf("command(%q) = %v, %d, %v, %v; want %v, %d, %v, protocol error %v",
				c.in, ping, used, ok, err, c.ping, c.used, c.ok, c.protoError)
		}
	}
}

// TestLoops serves with each loop: several connections at once send
// batches of commands cut at random bytes, and each gets one reply per
// command, in order; a connection that sends garbage is closed and the
// others go on.
func TestLoops(t *testing.T) {
	for _, loop := range []string{"conn", "epoll", "uring"} {
		t.Run(loop, func(t *testing.T) {
			bound := make(chan string, 1)
			ended := make(chan error, 1)
			stop := make(chan struct{})
			go func() { ended <- serve(loop, "127.0.0.1:0", func(a string) { bound <- a }, stop) }()
			var addr string
			select {
			case addr = <-bound:
			case err := <-ended:
				if loop == "uring" && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM)) {
					t.Skipf("io_uring is not available to this process: %v", err)
				}
				t.Fatal(err)
			}
			// Stopping ends serve and closes the connections still open.
			idle, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			defer func() {
				close(stop)
				select {
				case err := <-ended:
					if err != nil {
						t.Errorf("serve after stop: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("serve did not return after stop")
				}
				idle.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("an idle connection after stop: read %d bytes, %v; want it closed", n, err)
				}
			}()
			bad, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			fmt.Fprint(bad, "HELLO\r\n")
			done := make(chan error)
			const conns = 8
			for i := range conns {
				go func() { done <- talk(addr, uint64(i)) }()
			}
			for range conns {
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
			bad.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := bad.Read(make([]byte, 16)); err != io.EOF {
				t.Errorf("a connection that sent garbage: read %d bytes, %v; want it closed", n, err)
			}
		})
	}
}

// talk sends 200 batches of 1 to 64 commands, each batch in pieces cut at
// random, and checks the replies.
func talk(addr string, seed uint64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rng := rand.New(rand.NewPCG(seed, 1))
	br := bufio.NewReader(c)
	for batch := range 200 {
		var b strings.Builder
		var want []string
		for i := range 1 + rng.IntN(64) {
			if rng.IntN(4) == 0 {
				b.WriteString("*1\r\n$4\r\nPING\r\n")
				want = append(want, "+PONG")
				continue
			}
			value := strings.Repeat("v", rng.IntN(3000))
			fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\n%s\r\n", len(fmt.Sprint("key:", i)), i, len(value), value)
			want = append(want, "+OK")
		}
		msg := b.String()
		for len(msg) > 0 {
			n := min(len(msg), 1+rng.IntN(4096))
			if _, err := io.WriteString(c, msg[:n]); err != nil {
				return err
			}
			msg = msg[n:]
		}
		for i, w := range want {
			line, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("batch %d, reply %d of %d: %w", batch, i+1, len(want), err)
			}
			if got := strings.TrimSuffix(line, "\r\n"); got != w {
				return fmt.Errorf("batch %d, reply %d: %q, want %q", batch, i+1, got, w)
			}
		}
	}
	return nil
}
