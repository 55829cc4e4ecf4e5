package torture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// keys are the shared variables; the seed protocol reaches only "value".
var keys = []string{"value", "a", "b", "c"}

// Timeouts of remote requests. A request that times out has no reply; its
// daemon's death bounds it.
const (
	dialTimeout = 500 * time.Millisecond
	ioTimeout   = 3 * time.Second
	// clusterIOTimeout outlasts a node's wait for a leader (3 s) and a
	// paused leader, so that most requests get their answer.
	clusterIOTimeout = 8 * time.Second
)

// opGen draws a client's operations. Values set are unique per writer
// (id<<20 | sequence) and fit in an int32, so that the seed protocol reads
// them exactly; compare-and-swap expects the last value the client saw.
type opGen struct {
	rng      *rand.Rand
	id, seq  int64
	keys     []string
	seen     map[string]int64
	seedOnly bool // only get and set, the seed protocol's two requests
	// setOnly keys are never added to: every value they hold was
	// written by a set or a compare-and-swap (stale readers check that).
	setOnly map[string]bool
}

func newOpGen(id int64, seed uint64, keys []string, seedOnly bool) *opGen {
	return &opGen{rng: rand.New(rand.NewPCG(seed, uint64(id))), id: id, keys: keys, seen: map[string]int64{}, seedOnly: seedOnly}
}

func (g *opGen) unique() int64 {
	g.seq++
	return g.id<<20 | g.seq&(1<<20-1)
}

func (g *opGen) next() input {
	in := input{key: g.keys[g.rng.IntN(len(g.keys))]}
	r := g.rng.IntN(100)
	switch {
	case g.seedOnly && r < 50, !g.seedOnly && r < 35:
		in.kind = opGet
	case g.seedOnly, r < 60:
		in.kind, in.a = opSet, g.unique()
	case r < 80:
		in.kind, in.a = opAdd, 1+g.rng.Int64N(5)
	default:
		in.kind, in.a, in.b = opCAS, g.seen[in.key], g.unique()
	}
	if in.kind == opAdd && g.setOnly[in.key] {
		in.kind, in.a = opSet, g.unique()
	}
	return in
}

// saw notes what the client learned of a variable's value.
func (g *opGen) saw(in input, out output) {
	switch {
	case in.kind == opGet, in.kind == opAdd:
		g.seen[in.key] = out.val
	case in.kind == opSet, in.kind == opCAS && out.ok:
		g.seen[in.key] = in.a
		if in.kind == opCAS {
			g.seen[in.key] = in.b
		}
	}
}

// pause waits a random while between operations, so that a round's
// history stays small enough to check.
func (g *opGen) pause(max time.Duration) {
	time.Sleep(time.Duration(g.rng.Int64N(int64(max))))
}

// target is what a remote client connects to: a dsmd restarted again and
// again (daemons), or the nodes of a cluster.
type target interface {
	// dial connects to where requests go now; an error means nothing
	// listens there now, and the client tries again shortly.
	dial() (gen int, nc net.Conn, err error)
	// deathOf returns when generation gen was seen dead, if it was: no
	// request sent to it can take effect after that.
	deathOf(gen int) (int64, bool)
}

// dial connects to the running generation.
func (d *daemons) dial() (int, net.Conn, error) {
	gen, addr := d.current()
	if addr == "" {
		return gen, nil, errDown
	}
	nc, err := net.DialTimeout("tcp", addr, dialTimeout)
	return gen, nc, err
}

var errDown = errors.New("dsmd is down")

// remote is a client of the daemon: RESP through go-redis, or the seed
// protocol. It reconnects to whichever generation runs.
type remote struct {
	client int
	seed   bool
	d      target
	gen    *opGen
	// cluster: replies of a cluster node that leave the outcome open
	// (UNCERTAIN) or say the write was not applied (CLUSTERDOWN) are
	// expected, and the timeout of a request is clusterIOTimeout.
	cluster    bool
	notApplied int // writes answered CLUSTERDOWN
	pace       time.Duration
	stop       *atomic.Bool
	hist       history
	err        error // a reply that breaks the rules; ends the client
}

// run issues operations until stop is set.
func (c *remote) run() {
	for !c.stop.Load() && c.err == nil {
		gen, nc, err := c.d.dial()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		switch {
		case c.seed:
			c.session(gen, &seedConn{nc: nc})
		case c.cluster:
			c.session(gen, newClusterConn(nc))
		default:
			c.session(gen, newRESPConn(nc))
		}
	}
}

// remoteConn runs one operation on one connection; a nil error with a
// non-nil broken says the connection failed and the reply is unknown.
type remoteConn interface {
	do(in input) (out output, broken, err error)
	close()
}

// session runs operations on one connection to generation gen until it
// breaks or the client stops.
func (c *remote) session(gen int, rc remoteConn) {
	defer rc.close()
	bound := func() (int64, bool) { return c.d.deathOf(gen) }
	for !c.stop.Load() {
		in := c.gen.next()
		call := now()
		out, broken, err := rc.do(in)
		ret := now()
		if err != nil {
			c.err = fmt.Errorf("client %d: %v: %w", c.client, in, err)
			return
		}
		if errors.Is(broken, errNotApplied) {
			c.notApplied++
			c.gen.pause(c.pace)
			continue
		}
		if broken != nil {
			c.hist.addPending(c.client, in, call, bound)
			return
		}
		out.known = true
		c.hist.add(c.client, in, call, out, ret)
		c.gen.saw(in, out)
		c.gen.pause(c.pace)
	}
}

// respConn is one RESP connection through go-redis, pinned to one socket:
// its dialer hands out that socket once, and it never retries, so that a
// request reaches exactly the daemon generation it was recorded against.
type respConn struct {
	rdb     *redis.Client
	cluster bool // a cluster node's: see clusterReply
}

func newRESPConn(nc net.Conn) *respConn { return pinRESP(nc, ioTimeout) }

// newClusterConn is a respConn to a cluster node.
func newClusterConn(nc net.Conn) *respConn {
	r := pinRESP(nc, clusterIOTimeout)
	r.cluster = true
	return r
}

func pinRESP(nc net.Conn, timeout time.Duration) *respConn {
	var used atomic.Bool
	rdb := redis.NewClient(&redis.Options{
		Addr: nc.RemoteAddr().String(),
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errors.New("connection already used")
			}
			return nc, nil
		},
		Protocol: 2, MaxRetries: -1, PoolSize: 1, DisableIdentity: true,
		ReadTimeout: timeout, WriteTimeout: timeout, DialTimeout: dialTimeout,
	})
	return &respConn{rdb: rdb}
}

func (r *respConn) close() { r.rdb.Close() }

func (r *respConn) do(in input) (output, error, error) {
	ctx := context.Background()
	var out output
	var err error
	switch in.kind {
	case opGet:
		var s string
		if s, err = r.rdb.Get(ctx, in.key).Result(); r.cluster && errors.Is(err, redis.Nil) {
			// The round's variables are set before its clients start:
			// a read that finds none fails the check.
			out.val, err = missing, nil
		} else if err == nil {
			out.val, err = strconv.ParseInt(s, 10, 64)
			if err != nil {
				return out, nil, fmt.Errorf("GET returned %q", s)
			}
		}
	case opSet:
		err = r.rdb.Set(ctx, in.key, in.a, 0).Err()
	case opAdd:
		out.val, err = r.rdb.IncrBy(ctx, in.key, in.a).Result()
	case opCAS:
		var n int64
		n, err = r.rdb.Do(ctx, "CAS", in.key, in.a, in.b).Int64()
		out.ok = n == 1
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		if r.cluster {
			if broken := clusterReply(in, err); broken != nil {
				return out, broken, nil
			}
		}
		return out, nil, fmt.Errorf("error reply: %w", err) // the daemon refused a valid request
	}
	return out, err, nil
}

// missing is the value a cluster client records for a read that found no
// variable: no client writes it.
const missing = math.MinInt64

// errNotApplied is a write that the cluster answered CLUSTERDOWN: it was
// certainly not applied, so it is left out of the history (if it was
// applied after all, the reads that see it fail the check).
var errNotApplied = errors.New("not applied (CLUSTERDOWN)")

// clusterReply sorts a cluster node's error reply to in: CLUSTERDOWN
// (errNotApplied); UNCERTAIN, a node shutting down or another failure of
// the cluster (an unknown outcome, the reply itself); nil for any other,
// which the node should not have given.
func clusterReply(in input, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "CLUSTERDOWN") && in.kind != opGet:
		return errNotApplied
	case strings.HasPrefix(msg, "CLUSTERDOWN"), strings.HasPrefix(msg, "UNCERTAIN"),
		strings.HasPrefix(msg, "ERR cluster:"), strings.HasPrefix(msg, "ERR server is shutting down"):
		return err
	}
	return nil
}

// seedConn speaks the seed's protocol: 'R' reads `value` as a
// little-endian int32, 'W' and 4 bytes write it and are answered "OK".
type seedConn struct {
	nc net.Conn
}

func (s *seedConn) close() { s.nc.Close() }

func (s *seedConn) do(in input) (output, error, error) {
	s.nc.SetDeadline(time.Now().Add(ioTimeout))
	var out output
	switch in.kind {
	case opGet:
		var p [4]byte
		if _, err := s.nc.Write([]byte{'R'}); err != nil {
			return out, err, nil
		}
		if _, err := io.ReadFull(s.nc, p[:]); err != nil {
			return out, err, nil
		}
		out.val = int64(int32(binary.LittleEndian.Uint32(p[:])))
	case opSet:
		req := binary.LittleEndian.AppendUint32([]byte{'W'}, uint32(int32(in.a)))
		if _, err := s.nc.Write(req); err != nil {
			return out, err, nil
		}
		var ok [2]byte
		if _, err := io.ReadFull(s.nc, ok[:]); err != nil {
			return out, err, nil
		}
		if string(ok[:]) != "OK" {
			return out, nil, fmt.Errorf("seed W answered %q", ok[:])
		}
	default:
		return out, nil, fmt.Errorf("the seed protocol has no %s", in.kind)
	}
	return out, nil, nil
}

// dialTCP connects to addr or fails the test.
func dialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// dialRESP connects a RESP client to addr or fails the test.
func dialRESP(t testing.TB, addr string) *respConn {
	t.Helper()
	return newRESPConn(dialTCP(t, addr))
}
