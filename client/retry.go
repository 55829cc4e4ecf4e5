package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of one call's tries (see run).
const (
	// maxRedirects is how many MOVED replies one call follows.
	maxRedirects = 5
	// maxLearned is how many addresses MOVED may add to those given, so
	// that a confused node cannot grow the list without end.
	maxLearned = 16
	// defaultLeaderWait is LeaderWait's zero value.
	defaultLeaderWait = 5 * time.Second
	// firstBackoff and maxBackoff bound the wait after a CLUSTERDOWN.
	firstBackoff = 10 * time.Millisecond
	maxBackoff   = 500 * time.Millisecond
)

// failure is what a failed try says about repeating the request.
type failure int

const (
	// failFinal: an answer, or an error that another try cannot mend.
	failFinal failure = iota
	// failUnsent: the connection could not be made; nothing was sent.
	failUnsent
	// failBroken: the connection broke once the request was sent; it may
	// or may not have been applied.
	failBroken
	// failClusterDown: the node has no leader; the request was not applied.
	failClusterDown
	// failMoved: the node sends the request to the leader; not applied.
	failMoved
)

// failureOf classifies the error of one try.
func failureOf(err error) failure {
	var reply redis.Error
	if errors.As(err, &reply) {
		switch {
		case strings.HasPrefix(reply.Error(), "CLUSTERDOWN"):
			return failClusterDown
		case strings.HasPrefix(reply.Error(), "MOVED"):
			return failMoved
		}
		return failFinal
	}
	// go-redis returns the dialer's error as it is, and the pool's
	// remembered one while it stops dialing a dead address: both are
	// *net.OpError with Op "dial".
	var op *net.OpError
	var u unsent
	if errors.As(err, &op) && op.Op == "dial" || errors.As(err, &u) {
		return failUnsent
	}
	if isTransport(err) {
		return failBroken
	}
	return failFinal
}

// unsent wraps the failure of a step before a write was sent (Lock's
// CLIENT ID): the write may go to the next node.
type unsent struct{ err error }

func (u unsent) Error() string { return u.err.Error() }
func (u unsent) Unwrap() error { return u.err }

// movedTo returns the address of a MOVED reply ("MOVED 0 host:port").
func movedTo(err error) (string, bool) {
	f := strings.Fields(err.Error())
	if len(f) != 3 || f[0] != "MOVED" {
		return "", false
	}
	if _, _, e := net.SplitHostPort(f[2]); e != nil {
		return "", false
	}
	return f[2], true
}

// tries is the state of one call across its tries.
type tries struct {
	read      bool          // the request only reads: running it twice is harmless
	unreached int           // dial failures since the last answer
	redirects int           // MOVED replies followed
	repeated  bool          // a read was repeated after a broken connection
	waited    time.Duration // slept after CLUSTERDOWN replies
	backoff   time.Duration // the next sleep after a CLUSTERDOWN
}

// read runs a request that only reads (see run).
func (c *Client) read(ctx context.Context, op, name string, do func(*redis.Client) error) error {
	return c.run(ctx, op, name, &tries{read: true}, do)
}

// write runs a request that may change variables (see run).
func (c *Client) write(ctx context.Context, op, name string, do func(*redis.Client) error) error {
	return c.run(ctx, op, name, &tries{}, do)
}

// run runs do on the node in use until it succeeds or fails for good, and
// returns its error as an *Error for op on name. A try is repeated only
// when that is safe:
//   - the connection could not be made (nothing was sent): on the next
//     node, until every node has failed to connect since the last answer;
//   - CLUSTERDOWN (not applied): on the next node after a backoff, for up
//     to LeaderWait in all;
//   - MOVED (not applied): on the leader it names, which becomes the node
//     in use, up to maxRedirects times;
//   - a read whose connection broke after it was sent: once, on the next
//     node. A write is not repeated then, nor after UNCERTAIN: either may
//     have been applied, and its error is ErrUncertain.
//
// Nothing is repeated once ctx has ended.
func (c *Client) run(ctx context.Context, op, name string, t *tries, do func(*redis.Client) error) error {
	for {
		n, err := c.inUse()
		if err != nil {
			return &Error{Op: op, Name: name, Kind: ErrClosed}
		}
		err = do(n.rdb)
		if err == nil {
			return nil
		}
		if err = c.next(ctx, n, t, err); err != nil {
			return wrapTry(op, name, t, err)
		}
	}
}

// next prepares the try that follows err, a failure on node n: it moves to
// another node, follows a redirection or waits, and returns nil, or it
// returns the error that ends the call.
func (c *Client) next(ctx context.Context, n *node, t *tries, err error) error {
	if ctx.Err() != nil {
		return err
	}
	switch failureOf(err) {
	case failUnsent:
		t.unreached++
		if t.unreached >= c.size() {
			return err
		}
		c.advance(n)
		return nil
	case failClusterDown:
		t.unreached = 0
		d, ok := t.nextBackoff(c.opts.LeaderWait)
		if !ok {
			return err
		}
		c.advance(n)
		return sleep(ctx, d, err)
	case failMoved:
		t.unreached = 0
		to, ok := movedTo(err)
		if !ok || t.redirects >= maxRedirects {
			return err
		}
		t.redirects++
		return c.redirect(to, err)
	case failBroken:
		if !t.read || t.repeated {
			return err
		}
		t.repeated = true
		c.advance(n)
		return nil
	}
	return err
}

// wrapTry names the error that ended a call.
func wrapTry(op, name string, t *tries, err error) error {
	if t.read {
		return wrapErr(op, name, err)
	}
	return wrapWrite(op, name, err)
}

// wrapWrite is wrapErr for a write: one whose connection broke after it
// was sent is also uncertain.
func wrapWrite(op, name string, err error) error {
	if err == nil {
		return nil
	}
	e := wrapErr(op, name, err).(*Error)
	if failureOf(err) == failBroken {
		uncertain(e)
	}
	return e
}

// nextBackoff returns how long to sleep after a CLUSTERDOWN, doubling each
// time from firstBackoff to maxBackoff with jitter, and false once the
// total would pass wait (LeaderWait).
func (t *tries) nextBackoff(wait time.Duration) (time.Duration, bool) {
	if wait == 0 {
		wait = defaultLeaderWait
	}
	if t.waited >= wait {
		return 0, false
	}
	if t.backoff == 0 {
		t.backoff = firstBackoff
	}
	// Jitter spreads the clients that an election turned away, so that
	// they do not all come back at once.
	d := min(t.backoff/2+rand.N(t.backoff/2+1), wait-t.waited)
	t.waited += d
	t.backoff = min(2*t.backoff, maxBackoff)
	return d, true
}

// sleep waits for d, and returns nil, or err if ctx ends first.
func sleep(ctx context.Context, d time.Duration, err error) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return err
	case <-timer.C:
		return nil
	}
}

// inUse returns the node in use, making its pool on first use.
func (c *Client) inUse() (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	n := c.nodes[c.cur]
	if n.rdb == nil {
		n.rdb = redis.NewClient(c.redisOptions(n.addr))
	}
	return n, nil
}

// size returns how many nodes the Client knows.
func (c *Client) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// advance moves from node n to the next one, unless another call moved
// already: calls that fail together on one node move once, not once each.
func (c *Client) advance(n *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[c.cur] == n {
		c.cur = (c.cur + 1) % len(c.nodes)
	}
}

// redirect makes the node at addr (the leader, as a MOVED reply named it)
// the node in use, adding it if it is new. It returns moved, the reply,
// when there is no room for another address.
func (c *Client) redirect(addr string, moved error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.nodes {
		if n.addr == addr {
			c.cur = i
			return nil
		}
	}
	if len(c.nodes) >= c.given+maxLearned {
		return fmt.Errorf("%w (no room for another node)", moved)
	}
	c.nodes = append(c.nodes, &node{addr: addr})
	c.cur = len(c.nodes) - 1
	return nil
}
