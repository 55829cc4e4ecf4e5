package client

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultAddr is the daemon's default address, the seed's port on loopback.
const DefaultAddr = "127.0.0.1:12345"

// Options configures a Client. The zero value (or a nil *Options) is valid:
// no password, no TLS, and the defaults stated on each field.
type Options struct {
	// Password is sent with HELLO (or AUTH) on every new connection.
	Password string

	// TLS, when not nil, makes every connection use TLS with this
	// configuration.
	TLS *tls.Config

	// PoolSize is the most connections kept open to the daemon at once.
	// Zero means 10 per CPU (go-redis' default).
	PoolSize int

	// DialTimeout bounds each connection attempt. Zero means 5 s.
	DialTimeout time.Duration

	// ReadTimeout and WriteTimeout bound each socket read and write when the
	// call's context has no earlier deadline. Zero means 5 s; a negative value
	// means no timeout.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// ClientName, when not empty, names every connection (CLIENT SETNAME),
	// so the daemon's client list shows who is connected.
	ClientName string

	// OnConnect, when not nil, is called after each new connection to the
	// daemon is established and authenticated, including the first one made
	// by Dial. A call after the first means the Client reconnected. It must
	// not block and must not use the Client.
	OnConnect func()
}

// Client is a connection pool to one daemon. It is safe for concurrent use by
// many goroutines. Close it when done.
type Client struct {
	rdb  *redis.Client
	addr string
}

// Dial connects to the daemon at addr ("host:port"; empty means DefaultAddr)
// and checks that it answers, authenticating with opts.Password. It fails
// with ErrUnreachable when nothing answers there and with ErrRefused (or
// ErrAuth) when the daemon turns the client away.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{rdb: redis.NewClient(redisOptions(addr, opts)), addr: addr}
	if err := c.Ping(ctx); err != nil {
		_ = c.rdb.Close()
		var e *Error
		if errors.As(err, &e) {
			e.Op = "dial"
			e.Name = addr
		}
		return nil, err
	}
	return c, nil
}

// redisOptions translates opts into go-redis options. Retries are switched
// off there: a write whose reply was lost must not be sent twice (an
// add applied twice, or a set that overwrites a later write, would break
// linearizability), so this package repeats only reads (see read).
func redisOptions(addr string, opts *Options) *redis.Options {
	ro := &redis.Options{
		Addr:                  addr,
		Password:              opts.Password,
		TLSConfig:             opts.TLS,
		PoolSize:              opts.PoolSize,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		ClientName:            opts.ClientName,
		Protocol:              3,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		// The handshake stays lean: HELLO (with AUTH and SETNAME) and nothing
		// else, since dsmd has no cluster maintenance events to announce.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if opts.OnConnect != nil {
		hook := opts.OnConnect
		ro.OnConnect = func(context.Context, *redis.Conn) error {
			hook()
			return nil
		}
	}
	return ro
}

// Addr returns the daemon's address, as given to Dial.
func (c *Client) Addr() string { return c.addr }

// Close closes every connection of the pool. Calls after Close fail with
// ErrClosed.
func (c *Client) Close() error {
	return c.rdb.Close()
}

// Ping checks that the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.read(ctx, "ping", "", func() error {
		return c.rdb.Ping(ctx).Err()
	})
}

// read runs a read-only request, repeating it once if the connection broke:
// a read may run twice without harm, and the second try gets a fresh
// connection from the pool (the daemon may have restarted).
func (c *Client) read(ctx context.Context, op, name string, do func() error) error {
	err := do()
	if err != nil && ctx.Err() == nil {
		if k, _ := classify(err); k == ErrUnreachable {
			err = do()
		}
	}
	return wrapErr(op, name, err)
}
