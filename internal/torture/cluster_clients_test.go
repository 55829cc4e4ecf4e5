package torture

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTarget connects a client on host ns to a random node: its
// requests go through leaders and followers alike (a follower forwards
// writes). A cluster node's generations are not told apart: a write sent
// to a node may be applied by the others after it died.
type clusterTarget struct {
	ns    string
	nodes int
	rng   *rand.Rand
}

func (c *clusterTarget) dial() (int, net.Conn, error) {
	k := 1 + c.rng.IntN(c.nodes)
	nc, err := dialFrom(c.ns, fmt.Sprintf("%s:%d", nodeIP(k), clientPort), dialTimeout)
	return k, nc, err
}

func (c *clusterTarget) deathOf(int) (int64, bool) { return 0, false }

// connect dials a go-redis client to a random node through t, pinned to
// one connection that is never retried, and returns it with the node's
// number; it tries again until one answers or stop is set (false).
func connect(t *clusterTarget, stop *atomic.Bool) (*respConn, int, bool) {
	for !stop.Load() {
		if k, nc, err := t.dial(); err == nil {
			return newClusterConn(nc), k, true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, 0, false
}

// counterClient adds 1 to one variable through random nodes and counts
// the increments acknowledged and those whose outcome is unknown; the
// counter checker needs the final value between acked and acked+unknown.
type counterClient struct {
	t       *clusterTarget
	key     string
	stop    *atomic.Bool
	acked   int64
	unknown int64
	refused int64 // answered CLUSTERDOWN: not applied
	err     error
}

func (c *counterClient) run() {
	for !c.stop.Load() && c.err == nil {
		rc, _, ok := connect(c.t, c.stop)
		if !ok {
			return
		}
		for !c.stop.Load() {
			_, err := rc.rdb.Incr(context.Background(), c.key).Result()
			if err == nil {
				c.acked++
				time.Sleep(time.Duration(c.t.rng.IntN(5)) * time.Millisecond)
				continue
			}
			if broken := clusterReply(input{kind: opAdd}, err); errors.Is(broken, errNotApplied) {
				c.refused++
				continue
			}
			var rerr redis.Error
			if errors.As(err, &rerr) && clusterReply(input{kind: opAdd}, err) == nil {
				c.err = fmt.Errorf("INCR %s: %w", c.key, err)
			}
			c.unknown++
			break
		}
		rc.close()
	}
}

// msetClient writes a group of variables with MSET, all to one new value
// at a time, and reads them back with MGET through random nodes, half of
// its connections READONLY: a read must never see the group torn.
type msetClient struct {
	t     *clusterTarget
	keys  []string
	id    int64
	stop  *atomic.Bool
	torn  []string // what the torn reads saw
	reads int
	err   error
}

func (c *msetClient) run() {
	seq := int64(0)
	for !c.stop.Load() && c.err == nil {
		rc, k, ok := connect(c.t, c.stop)
		if !ok {
			return
		}
		ctx := context.Background()
		readonly := c.t.rng.IntN(2) == 0
		if readonly {
			if err := rc.rdb.Do(ctx, "READONLY").Err(); err != nil {
				rc.close()
				continue
			}
		}
		for i := 0; i < 50 && !c.stop.Load(); i++ {
			if c.t.rng.IntN(2) == 0 {
				seq++
				pairs := []any{}
				for _, key := range c.keys {
					pairs = append(pairs, key, c.id<<20|seq)
				}
				if err := rc.rdb.MSet(ctx, pairs...).Err(); err != nil && !c.expected(err, opSet) {
					break
				}
				continue
			}
			vals, err := rc.rdb.MGet(ctx, c.keys...).Result()
			if err != nil {
				if !c.expected(err, opGet) {
					break
				}
				continue
			}
			c.reads++
			for _, v := range vals[1:] {
				if fmt.Sprint(v) != fmt.Sprint(vals[0]) {
					c.torn = append(c.torn, fmt.Sprintf("MGET %v through n%d (readonly %t) read %v", c.keys, k, readonly, vals))
					break
				}
			}
		}
		rc.close()
	}
}

// expected reports whether err is a failure a cluster may answer (and the
// connection goes on), false if the connection broke; another error reply
// ends the client.
func (c *msetClient) expected(err error, kind opKind) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	if clusterReply(input{kind: kind}, err) == nil {
		c.err = err
	}
	return true
}

// staleRead is what a READONLY connection read: value -1 for none.
type staleRead struct {
	conn, node int
	key        string
	value      int64
	version    int64
}

// staleReader reads variables with GETVER on READONLY connections to
// random nodes: possibly stale reads, which must still be values some
// client wrote, with versions that never go backwards on one connection.
type staleReader struct {
	t     *clusterTarget
	keys  []string
	id    int
	stop  *atomic.Bool
	seen  []staleRead
	back  []string // versions that went backwards
	err   error
	conns int
}

func (c *staleReader) run() {
	for !c.stop.Load() && c.err == nil {
		rc, k, ok := connect(c.t, c.stop)
		if !ok {
			return
		}
		c.conns++
		conn := c.id*100000 + c.conns
		ctx := context.Background()
		last := map[string]int64{}
		if err := rc.rdb.Do(ctx, "READONLY").Err(); err != nil {
			rc.close()
			continue
		}
		for i := 0; i < 200 && !c.stop.Load(); i++ {
			key := c.keys[c.t.rng.IntN(len(c.keys))]
			r, err := rc.rdb.Do(ctx, "GETVER", key).Slice()
			if errors.Is(err, redis.Nil) {
				c.seen = append(c.seen, staleRead{conn, k, key, -1, 0})
				continue
			}
			if err != nil {
				var rerr redis.Error
				if errors.As(err, &rerr) && clusterReply(input{kind: opGet}, err) == nil {
					c.err = fmt.Errorf("GETVER %s: %w", key, err)
				}
				break
			}
			v, _ := strconv.ParseInt(fmt.Sprint(r[0]), 10, 64)
			ver, _ := r[1].(int64)
			if ver < last[key] {
				c.back = append(c.back, fmt.Sprintf("GETVER %s on one READONLY connection to n%d: version %d after %d", key, k, ver, last[key]))
			}
			last[key] = ver
			c.seen = append(c.seen, staleRead{conn, k, key, v, ver})
			time.Sleep(time.Duration(c.t.rng.IntN(3)) * time.Millisecond)
		}
		rc.close()
	}
}

// holding is one lock holder's interval, as the holder may rely on it:
// from the grant's reply to its UNLOCK, or to its lease's end counted
// from when it asked (the leader counts from when it applied the grant,
// which is later), or later if a write under the lock was applied then
// (a new leader gave the lease its full length again).
type holding struct {
	token    int64
	from, to time.Time
	node     int    // the node the holder spoke to
	end      string // what set to, for a violation's report
}

func (h holding) String() string {
	return fmt.Sprintf("token %d through n%d held %s-%s (end: %s)", h.token, h.node,
		h.from.Format("15:04:05.000"), h.to.Format("15:04:05.000"), h.end)
}

// lockClient takes a write lock on one variable through random nodes,
// increments the variable under it and releases it, or now and then lets
// the lease end. The lock checker needs the holders' intervals (every
// lockClient's, one variable) never to overlap, and tokens to rise with
// the grants.
type lockClient struct {
	t     *clusterTarget
	key   string
	lease time.Duration
	stop  *atomic.Bool
	held  []holding
	lost  int // LOCKLOST answers past a lease's end
	err   error
}

func (c *lockClient) run() {
	for round := 0; !c.stop.Load() && c.err == nil; {
		rc, node, ok := connect(c.t, c.stop)
		if !ok {
			return
		}
		ctx := context.Background()
		for !c.stop.Load() {
			round++
			asked := time.Now()
			tok, err := rc.rdb.Do(ctx, "LOCK", "WAIT", 2000, "LEASE", c.lease.Milliseconds(), c.key).Int64()
			if err != nil {
				if strings.HasPrefix(err.Error(), "TIMEOUT") {
					continue
				}
				break // not granted, or not known to be: the lease ends it
			}
			h := holding{token: tok, from: time.Now(), to: asked.Add(c.lease), node: node,
				end: "lease from " + asked.Format("15:04:05.000")}
			if round%4 == 0 {
				time.Sleep(c.lease + 100*time.Millisecond)
			}
			sent := time.Now()
			err = rc.rdb.Incr(ctx, c.key).Err()
			switch {
			case err == nil:
				if sent.After(h.to) { // applied after it was sent: held then
					h.to, h.end = sent, "INCR applied"
				}
			case strings.HasPrefix(err.Error(), "LOCKLOST"):
				c.lost++
			default:
				// The connection failed and the client closed it: its
				// node releases the locks once it sees the close, so the
				// holder may rely on them no longer.
				if now := time.Now(); now.Before(h.to) {
					h.to, h.end = now, "INCR failed: "+err.Error()
				}
			}
			// An UNLOCK that released the lock was applied after it was
			// sent, while the lock was held: nobody else had it before.
			// One whose reply was lost may have released it all the same
			// (its node forwarded it, then died): the holder let go when
			// it sent it.
			unlocking := time.Now()
			if err := rc.rdb.Do(ctx, "UNLOCK").Err(); err == nil {
				h.to, h.end = unlocking, "UNLOCK"
			} else if unlocking.Before(h.to) {
				h.to, h.end = unlocking, "UNLOCK sent, then "+err.Error()
			}
			c.held = append(c.held, h)
			if err != nil && !strings.HasPrefix(err.Error(), "LOCKLOST") {
				break
			}
		}
		rc.close()
	}
}
