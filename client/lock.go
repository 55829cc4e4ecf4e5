package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// LockOptions are the options of Lock. The zero value takes write locks
// with the daemon's default wait (10 s) and lease (30 s).
type LockOptions struct {
	// Read takes shared read locks instead of exclusive write locks.
	Read bool
	// Wait bounds how long Lock waits for the locks to be free. Zero means
	// the daemon's default; a negative value means do not wait.
	Wait time.Duration
	// Lease is how long the daemon keeps the locks if Unlock does not come:
	// then it releases them, and commands on them fail with ErrLockLost.
	// Zero means the daemon's default.
	Lease time.Duration
}

// Locked holds the daemon's locks on some variables, on a connection of
// its own: commands through it (Get, Set, Add, Do) run on that connection,
// so they pass the locks, while every other client's and local process'
// writes (and, for write locks, reads) of those variables wait. Its
// commands are never repeated: a write whose connection broke fails with
// ErrUnreachable and ErrUncertain, and the locks are gone. It must be
// released with Unlock. It is for one goroutine at a time.
type Locked struct {
	conn  *redis.Conn
	names []string
	token int64
}

// Token is the lock's fencing token on a cluster (0 on a single host,
// whose locks have none): it rises with every grant of a variable, and
// FENCED token command... (Do, from any connection) runs a write only if
// no newer lock was granted on its variables, so a holder whose lease
// ended cannot overwrite the next holder's work.
func (l *Locked) Token() int64 { return l.token }

// Lock takes locks on the named variables, all of them or none, waiting
// for them as opts says. Whatever the order of names, concurrent Locks
// never deadlock. It fails with ErrLockTimeout when the locks are not free
// within the wait. It takes them on the node in use (moving on as any
// write does when that node cannot be reached or has no leader), and the
// Locked stays on that node: if its connection breaks, the locks are gone.
// Ending ctx ends a wait at once (the daemon closes the waiting
// connection, and forgets the waiter), with ctx's error.
func (c *Client) Lock(ctx context.Context, opts LockOptions, names ...string) (*Locked, error) {
	op := "lock"
	if len(names) == 0 {
		return nil, &Error{Op: op, Kind: ErrInvalid, Err: fmt.Errorf("no variable named")}
	}
	args := []any{"LOCK", "WRITE"}
	if opts.Read {
		args[1] = "READ"
	}
	if opts.Wait != 0 {
		args = append(args, "WAIT", strconv.FormatInt(max(opts.Wait.Milliseconds(), 0), 10))
	}
	if opts.Lease > 0 {
		args = append(args, "LEASE", strconv.FormatInt(max(opts.Lease.Milliseconds(), 1), 10))
	}
	for _, n := range names {
		args = append(args, n)
	}
	var conn *redis.Conn
	var token int64
	err := c.write(ctx, op, strings.Join(names, " "), func(r *redis.Client) error {
		conn = r.Conn()
		stop, err := cancelWait(ctx, r, conn)
		if err != nil {
			conn.Close()
			return unsent{err} // LOCK was not sent: safe to try on the next node
		}
		v, err := conn.Do(ctx, args...).Result()
		if !stop() && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			conn.Close()
		}
		token, _ = v.(int64) // a cluster's token; a single host replies OK
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Locked{conn: conn, names: names, token: token}, nil
}

// Get returns a variable's value, read on the locked connection.
func (l *Locked) Get(ctx context.Context, name string) (string, error) {
	v, err := l.conn.Get(ctx, name).Result()
	return v, wrapErr("get", name, err)
}

// Set stores a value on the locked connection.
func (l *Locked) Set(ctx context.Context, name, value string) error {
	return wrapWrite("set", name, l.conn.Set(ctx, name, value, 0).Err())
}

// Add adds delta to an integer variable on the locked connection.
func (l *Locked) Add(ctx context.Context, name string, delta int64) (int64, error) {
	n, err := l.conn.IncrBy(ctx, name, delta).Result()
	return n, wrapWrite("add", name, err)
}

// CAS is Client.CAS on the locked connection.
func (l *Locked) CAS(ctx context.Context, name, old, new string) (bool, error) {
	ok, err := cas(ctx, l.conn, name, old, new)
	return ok, wrapWrite("cas", name, err)
}

// MGet is Client.MGet on the locked connection (not repeated if the
// connection breaks: the locks went with it).
func (l *Locked) MGet(ctx context.Context, names ...string) ([]Item, error) {
	if err := checkNames("mget", names); err != nil {
		return nil, err
	}
	items, err := mget(ctx, l.conn, names)
	return items, wrapErr("mget", "", err)
}

// MSet is Client.MSet on the locked connection.
func (l *Locked) MSet(ctx context.Context, nameValues ...string) error {
	if err := checkPairs(nameValues); err != nil {
		return err
	}
	return wrapWrite("mset", "", mset(ctx, l.conn, nameValues))
}

// Del is Client.Del on the locked connection.
func (l *Locked) Del(ctx context.Context, names ...string) (int64, error) {
	if err := checkNames("del", names); err != nil {
		return 0, err
	}
	n, err := l.conn.Del(ctx, names...).Result()
	return n, wrapWrite("del", "", err)
}

// Do sends any command on the locked connection and returns its reply, as
// Client.Do does: a null reply is nil, and an error names the command.
func (l *Locked) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, &Error{Op: "do", Kind: ErrInvalid, Err: fmt.Errorf("no command")}
	}
	v, err := l.conn.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, nil
	}
	return v, wrapWrite(fmt.Sprint(args[0]), "", err)
}

// Unlock releases the locks and the connection. It fails with ErrLockLost
// if the lease had ended (the daemon released the locks then).
func (l *Locked) Unlock(ctx context.Context) error {
	err := l.conn.Do(ctx, "UNLOCK").Err()
	if cerr := l.conn.Close(); err == nil {
		err = cerr
	}
	return wrapErr("unlock", strings.Join(l.names, " "), err)
}

// cancelWait arranges for ctx's end to end a LOCK that waits on conn: a
// read in flight does not notice ctx, and closing conn under it is not
// safe, so the daemon closes it (CLIENT KILL ID, sent on another of r's
// connections), which also makes it forget the waiter. It costs a CLIENT
// ID first, when ctx can end. stop reports false once the kill has begun.
func cancelWait(ctx context.Context, r *redis.Client, conn *redis.Conn) (stop func() bool, err error) {
	if ctx.Done() == nil {
		return func() bool { return true }, nil
	}
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		return nil, err
	}
	return context.AfterFunc(ctx, func() {
		kctx, cancel := context.WithTimeout(context.Background(), killTimeout)
		defer cancel()
		r.ClientKillByFilter(kctx, "ID", strconv.FormatInt(id, 10))
	}), nil
}

// killTimeout bounds the CLIENT KILL that ends a cancelled LOCK.
const killTimeout = 5 * time.Second
