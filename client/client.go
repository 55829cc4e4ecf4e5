package client

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// DefaultAddr is the daemon's default address, the seed's port on loopback.
const DefaultAddr = "127.0.0.1:12345"

// Options configures a Client. The zero value (or a nil *Options) is valid:
// no password, no TLS, and the defaults stated on each field.
type Options struct {
	// Addrs are more addresses ("host:port") of the nodes of one cluster,
	// tried after the ones given to Dial, in order.
	Addrs []string

	// Password is sent with HELLO (or AUTH) on every new connection.
	Password string

	// TLS, when not nil, makes every connection use TLS with this
	// configuration.
	TLS *tls.Config

	// PoolSize is the most connections kept open to each node at once.
	// Zero means 10 per CPU (go-redis' default).
	PoolSize int

	// DialTimeout bounds each connection attempt. Zero means 5 s.
	DialTimeout time.Duration

	// ReadTimeout and WriteTimeout bound each socket read and write when the
	// call's context has no earlier deadline. Zero means 5 s; a negative value
	// means no timeout.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// LeaderWait bounds how long one call waits, in total, while the nodes
	// answer that the cluster has no leader (CLUSTERDOWN, as during an
	// election), trying them in turn with a backoff from 10 ms to 500 ms.
	// The call's context may end it sooner. Zero means 5 s; a negative
	// value means not to wait: the first CLUSTERDOWN fails the call.
	LeaderWait time.Duration

	// StaleReads sends READONLY on every new connection: a node of a
	// cluster then serves reads from its own state, which may be behind
	// the leader's (never torn), instead of the linearizable default. A
	// daemon that does not know READONLY (a single host, whose reads are
	// always its own state) is used as it is.
	StaleReads bool

	// ClientName, when not empty, names every connection (CLIENT SETNAME),
	// so the daemon's client list shows who is connected.
	ClientName string

	// OnConnect, when not nil, is called after each new connection to a
	// node is established and authenticated, including the first one made
	// by Dial. A call after the first means the Client reconnected, to the
	// same node or another one. It must not block and must not use the
	// Client.
	OnConnect func()
}

// Client is a set of connection pools to one daemon, or to the nodes of one
// cluster, of which it uses one at a time (see "Connections and retries" in
// the package documentation). It is safe for concurrent use by many
// goroutines. Close it when done.
type Client struct {
	opts Options

	// mu guards nodes, cur and closed. It is never held across network
	// I/O: calls copy the node out and release it first.
	mu     sync.Mutex
	nodes  []*node // the addresses given, then those learned from MOVED
	given  int     // how many addresses were given
	cur    int     // index in nodes of the node in use
	closed bool
}

// node is one address and its connection pool, made on first use.
type node struct {
	addr string
	rdb  *redis.Client
}

// Dial connects to the daemon at addr ("host:port"; empty means DefaultAddr)
// and checks that it answers, authenticating with opts.Password. For a
// cluster, addr may list several nodes, "host:port,host:port,...", and
// opts.Addrs adds more: Dial uses the first that answers. It fails with
// ErrUnreachable when no node answers and with ErrRefused (or ErrAuth)
// when the daemon turns the client away.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	addrs := SplitAddrs(addr, opts.Addrs...)
	c := &Client{opts: *opts, given: len(addrs)}
	for _, a := range addrs {
		c.nodes = append(c.nodes, &node{addr: a})
	}
	if err := c.Ping(ctx); err != nil {
		_ = c.Close()
		var e *Error
		if errors.As(err, &e) {
			e.Op = "dial"
			e.Name = strings.Join(addrs, ",")
		}
		return nil, err
	}
	return c, nil
}

// SplitAddrs returns the addresses that addr lists, separated by commas,
// followed by more, without empty or repeated ones; DefaultAddr when there
// are none.
func SplitAddrs(addr string, more ...string) []string {
	var addrs []string
	for _, a := range append(strings.Split(addr, ","), more...) {
		a = strings.TrimSpace(a)
		if a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		addrs = []string{DefaultAddr}
	}
	return addrs
}

// redisOptions translates the options into go-redis options for the node
// at addr. Retries are switched off there: a write whose reply was lost
// must not be sent twice (an add applied twice, or a set that overwrites a
// later write, would break linearizability), so this package decides what
// to repeat itself (see run).
func (c *Client) redisOptions(addr string) *redis.Options {
	opts := &c.opts
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
		OnConnect:                onConnect(opts.StaleReads, opts.OnConnect),
	}
	if len(c.nodes) > 1 {
		// Another node can serve at once: one refused dial is enough to
		// move on, rather than go-redis' five tries 100 ms apart.
		ro.DialerRetries = 1
	}
	return ro
}

// onConnect is the hook run on each new connection: READONLY first when
// stale reads are wanted, then the caller's hook.
func onConnect(staleReads bool, hook func()) func(context.Context, *redis.Conn) error {
	if !staleReads && hook == nil {
		return nil
	}
	return func(ctx context.Context, cn *redis.Conn) error {
		if staleReads {
			err := cn.Do(ctx, "READONLY").Err()
			var reply redis.Error
			if err != nil && !(errors.As(err, &reply) && strings.Contains(reply.Error(), "unknown command")) {
				return err
			}
		}
		if hook != nil {
			hook()
		}
		return nil
	}
}

// Addr returns the address of the node in use: the one the next call
// tries first.
func (c *Client) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[c.cur].addr
}

// Close closes every connection of every pool. Calls after Close fail
// with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	var pools []*redis.Client
	if !c.closed {
		c.closed = true
		for _, n := range c.nodes {
			if n.rdb != nil {
				pools = append(pools, n.rdb)
			}
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, rdb := range pools {
		errs = append(errs, rdb.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.read(ctx, "ping", "", func(rdb *redis.Client) error {
		return rdb.Ping(ctx).Err()
	})
}
