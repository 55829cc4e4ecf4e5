package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// respConn is the load runs' client of a dsmd node: one connection, one
// request at a time, each request written with one write (resp.Writer)
// and its reply read from a buffer (resp.ReplyReader), nothing else. The
// load generator shares the machine's cores with the nodes it measures,
// so what it spends per request comes off what they can serve (go-redis
// spent about as much CPU per request as the three nodes together on
// stale gets).
type respConn struct {
	conn     net.Conn
	r        *resp.ReplyReader
	w        *resp.Writer
	deadline time.Time // the connection's deadline, as last set
}

// maxReply bounds a bulk reply: the load's values are short.
const maxReply = 1 << 20

// dialRESP connects to endpoint and, with stale set, sends READONLY, so
// that the connection's gets read the node's own state.
func dialRESP(ctx context.Context, endpoint string, stale bool) (*respConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return nil, err
	}
	c := &respConn{conn: conn, r: resp.NewReplyReader(conn, 0, maxReply), w: resp.NewWriter(conn, 0)}
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
// (as its digits) or a bulk string (nil for a missing one), as bytes.
func (c *respConn) do(ctx context.Context, args ...string) ([]byte, error) {
	if d, _ := ctx.Deadline(); !d.Equal(c.deadline) {
		c.conn.SetDeadline(d)
		c.deadline = d
	}
	c.w.Array(len(args))
	for _, a := range args {
		c.w.BulkString(a)
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	rep, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	switch rep.Type {
	case '+', '$':
		return rep.Str, nil
	case ':':
		return strconv.AppendInt(nil, rep.Int, 10), nil
	case '-':
		return nil, fmt.Errorf("%w: %s", errRESP, rep.Str)
	}
	return nil, fmt.Errorf("unexpected reply %q", rep.Type)
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
