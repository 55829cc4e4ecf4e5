// Package client is the Go client of dsm: it reads and writes the named
// variables that a dsmd daemon serves, from any host that can reach it.
//
//	c, err := client.Dial(ctx, "10.0.0.5:12345", &client.Options{Password: pw})
//	if err != nil { ... }
//	defer c.Close()
//	n, err := c.Add(ctx, "visits", 1)
//
// A cluster of dsmd nodes is given as several addresses, in the string
// ("10.0.0.5:12345,10.0.0.6:12345,10.0.0.7:12345") or in Options.Addrs;
// the Client uses one node at a time and moves to another when it fails.
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
// ErrRefused, ErrFull, ErrTooLarge, ErrUnreachable, ErrUncertain,
// ErrClusterDown, ErrClosed, ErrInvalid, ErrLockTimeout, ErrLockLost.
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
// A Client keeps a pool of connections per node it uses, and is safe for
// concurrent use; a broken connection is replaced on the next call, so a
// Client outlives a restart of the daemon. Each call honours its context's
// deadline and cancellation: nothing is tried again once it has ended.
//
// With several addresses, the Client sticks to one node, the one Addr
// reports, and moves on only when a call fails there. Every node accepts
// every command, so any node will do. A call is tried again only when
// that is safe, that is when the request was certainly not applied or
// only reads:
//
//   - The connection could not be made (refused, timed out while
//     dialing): nothing was sent, so the call moves to the next node at
//     once, until every node has failed to connect; then it fails with
//     ErrUnreachable.
//   - CLUSTERDOWN: the node has no leader (an election is under way) and
//     did not apply the request. The call moves to the next node after a
//     short backoff (10 ms, doubling to 500 ms, with jitter), for up to
//     Options.LeaderWait in all; then it fails with ErrClusterDown.
//   - MOVED: the node (a daemon run with -cluster-redirect) names the
//     leader and did not apply the request. The call goes there, and the
//     leader becomes the node in use; after five redirections in one call
//     it fails with ErrClusterDown.
//   - The connection broke after the request was sent: a read (Get, MGet,
//     List, Info, Clients, Ping, and Subscribe) is repeated once, on the
//     next node. A write is not: it may or may not have taken effect, and
//     it fails with an error that is both ErrUnreachable and ErrUncertain.
//   - UNCERTAIN: the node could not tell whether the write was committed
//     (its leader changed meanwhile). It is not repeated, and fails with
//     ErrUncertain.
//
// The caller decides what to do with an uncertain write, for example by
// reading the variable back. Repeating it blindly could add twice, or
// overwrite a newer value with an older one. errors.Is(err, ErrUncertain)
// is the one test for "may have taken effect"; ErrUnreachable alone (a
// dial failure) and every other error mean it did not.
//
// Reads are linearizable on every node: a follower asks the leader. With
// Options.StaleReads the Client sends READONLY on each connection, and a
// node serves reads from its own state, cheaper but possibly behind.
//
// Subscribe, PSubscribe and Lock use the node in use too, moving on as
// above while they start; then they stay on their node. A Locked's
// commands are never repeated: its locks live on its one connection.
//
// # Why go-redis underneath
//
// dsmd speaks the Redis protocol, so this package is a thin typed layer over
// github.com/redis/go-redis/v9 rather than a protocol implementation of its
// own. go-redis already does the hard parts well and is widely used: a
// connection pool with health checks of idle connections, RESP2 and RESP3
// with HELLO and AUTH, TLS, timeouts driven by contexts, and dial retries.
// What this package adds is the shape of dsm: its operations (including the
// CAS command that Redis lacks), its error kinds, its choice among a
// cluster's nodes, and a retry rule that keeps writes at most once.
// (go-redis' ClusterClient is for Redis Cluster, whose nodes each hold a
// share of the keys; every dsm node holds them all.) A program that needs a Redis feature this package
// does not wrap can use Do, or go-redis itself against the same daemon.
package client
