// Package client is the Go client of dsm: it reads and writes the named
// variables that a dsmd daemon serves, from any host that can reach it.
//
//	c, err := client.Dial(ctx, "10.0.0.5:12345", &client.Options{Password: pw})
//	if err != nil { ... }
//	defer c.Close()
//	n, err := c.Add(ctx, "visits", 1)
//
// # Model
//
// A variable has a name and a value, a signed 64-bit integer or a short byte
// string. Every call on one variable (Get, Set, Add, CAS) takes effect at one
// instant between the call and its return, in one order that every client
// and every local process agrees on. MGet reads its variables at one instant;
// MSet writes all of its variables or none. Values travel as text: integers
// in decimal, and Set stores a canonical decimal integer ("42", not "042") as
// an integer, as Redis does.
//
// # Errors
//
// Every error is an *Error naming the operation and the variable, and
// classified by a sentinel kind (errors.go) that errors.Is recognises:
// ErrNotFound, ErrNotInteger, ErrOverflow, ErrAuth (a kind of ErrRefused),
// ErrRefused, ErrFull, ErrTooLarge, ErrUnreachable, ErrClosed, ErrInvalid,
// ErrLockTimeout, ErrLockLost.
// The daemon's own error text or the network error stays wrapped beneath.
//
// # Changes and locks
//
// Subscribe and PSubscribe deliver every change of the variables named (or
// matching glob patterns) with its new value and version, on a connection
// of their own; a slow reader may miss intermediate values but always
// receives the latest one. Lock takes the daemon's client-held locks on
// several variables at once, all or none, and returns a Locked whose
// commands run on the connection that holds them until Unlock.
//
// # Connections and retries
//
// A Client is a pool of connections, safe for concurrent use; a broken
// connection is replaced on the next call, so a Client outlives a restart
// of the daemon. Each call honours its context's deadline and cancellation.
// Reads (Get, MGet, List, Info, Clients, Ping) are repeated once when the
// connection breaks under them. Writes are sent at most once: a write that
// fails with ErrUnreachable after it was sent may or may not have taken
// effect, and the caller decides whether to repeat it. (Repeating it blindly
// could add twice, or overwrite a newer value with an older one.)
//
// # Why go-redis underneath
//
// dsmd speaks the Redis protocol, so this package is a thin typed layer over
// github.com/redis/go-redis/v9 rather than a protocol implementation of its
// own. go-redis already does the hard parts well and is widely used: a
// connection pool with health checks of idle connections, RESP2 and RESP3
// with HELLO and AUTH, TLS, timeouts driven by contexts, and dial retries.
// What this package adds is the shape of dsm: its operations (including the
// CAS command that Redis lacks), its error kinds, and a retry rule that keeps
// writes at most once. A program that needs a Redis feature this package
// does not wrap can use Do, or go-redis itself against the same daemon.
package client
