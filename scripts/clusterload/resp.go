package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// respConn is the load runs' client of a dsmd node: one connection, one
// request at a time, each request written as a RESP array with one
// write and its reply read from a buffer, nothing else. The load
// generator shares the machine's cores with the nodes it measures, so
// what it spends per request comes off what they can serve (go-redis
// spent about as much CPU per request as the three nodes together on
// stale gets).
type respConn struct {
	conn     net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	deadline time.Time // the connection's deadline, as last set
}

// dialRESP connects to endpoint and, with stale set, sends READONLY, so
// that the connection's gets read the node's own state.
func dialRESP(ctx context.Context, endpoint string, stale bool) (*respConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return nil, err
	}
	c := &respConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
	first := "PING"
	if stale {
		first = "READONLY"
	}
	if _, err := c.do(ctx, first); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", first, err)
	}
	return c, nil
}

// errRESP is a reply of the error type.
var errRESP = errors.New("dsmd")

// do sends one command and reads its reply: a simple string, an integer
// or a bulk string (nil for a missing one), returned as its bytes, which
// are valid until the next call.
func (c *respConn) do(ctx context.Context, args ...string) ([]byte, error) {
	if d, _ := ctx.Deadline(); !d.Equal(c.deadline) {
		c.conn.SetDeadline(d)
		c.deadline = d
	}
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.reply()
}

func (c *respConn) reply() ([]byte, error) {
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return nil, fmt.Errorf("%w: %s", errRESP, line[1:])
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		b, err := c.r.Peek(n + 2)
		if err != nil {
			// Longer than the buffer: read it through.
			b = make([]byte, n+2)
			if _, err := c.readFull(b); err != nil {
				return nil, err
			}
			return b[:n], nil
		}
		c.r.Discard(n + 2)
		return b[:n], nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

func (c *respConn) readFull(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// line reads one line without its CRLF.
func (c *respConn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("bad reply line %q", line)
	}
	return line[:len(line)-2], nil
}

func (c *respConn) put(ctx context.Context, key, value string) error {
	_, err := c.do(ctx, "SET", key, value)
	return err
}

func (c *respConn) get(ctx context.Context, key string) error {
	_, err := c.do(ctx, "GET", key)
	return err
}

func (c *respConn) incr(ctx context.Context, key string) error {
	_, err := c.do(ctx, "INCR", key)
	return err
}

func (c *respConn) close() error { return c.conn.Close() }
