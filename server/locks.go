package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// Defaults and bounds of LOCK's options.
const (
	defaultLockWait  = 10 * time.Second
	defaultLockLease = 30 * time.Second
	maxLockTime      = 24 * time.Hour
)

// Reply texts of the lock commands.
const (
	msgHolding   = "ERR this connection already holds locks: UNLOCK them first (a connection takes its locks in one LOCK, all at once, which keeps LOCK free of deadlock)"
	msgLockLost  = "LOCKLOST the lease of this connection's locks ended and they were released; UNLOCK to acknowledge, or LOCK again"
	msgLockMixed = "ERR the command names variables this connection has locked together with others: lock all of them or none"
)

// holderSlots is how many connections may hold locks at once. Each held
// group keeps one of the process' lanes of the file (shm.Limits.Lanes, set
// by dsmd's -lock-lanes when it creates the file), and MGET, MSET and EXEC
// need lanes too, so holders get half of them.
func holderSlots(lanes int) int { return max(1, lanes/2) }

// hold is the set of variables one connection locked with LOCK. Its group
// is released by UNLOCK, by the end of the connection, or by the lease
// timer, whichever comes first.
type hold struct {
	s     *Server
	set   map[string]bool // the names locked; not changed after LOCK
	names []string        // the same, sorted
	write bool
	since time.Time // when the locks were taken

	// On a cluster node the locks are the replicated table's
	// (clusterlocks.go): id is the request, and g and the timer stay
	// nil.
	id uint64

	mu    sync.Mutex     // guards the fields below: the lease timer releases from its own goroutine
	g     *shm.LockGroup // nil once released: by the lease timer while the connection still holds h
	until time.Time      // when the lease ends
	timer *time.Timer
}

// lockArgs is a parsed LOCK [READ|WRITE] [WAIT ms] [LEASE ms] name...
type lockArgs struct {
	write       bool
	wait, lease time.Duration
	names       [][]byte
}

// parseLock reads the options, which come before the names.
func parseLock(args [][]byte) (lockArgs, string) {
	a := lockArgs{write: true, wait: defaultLockWait, lease: defaultLockLease}
	for len(args) > 0 {
		opt := strings.ToUpper(string(args[0]))
		switch opt {
		case "READ", "WRITE":
			a.write = opt == "WRITE"
			args = args[1:]
			continue
		case "WAIT", "LEASE":
			if len(args) < 3 {
				return a, msgSyntax
			}
			d, ok := parseMillis(args[1])
			if !ok {
				return a, "ERR " + opt + " takes milliseconds from 0 to 86400000"
			}
			if opt == "WAIT" {
				a.wait = d
			} else if a.lease = d; d == 0 {
				return a, "ERR LEASE must be at least 1 ms"
			}
			args = args[2:]
			continue
		}
		break
	}
	if len(args) == 0 {
		return a, "ERR wrong number of arguments for 'lock' command"
	}
	a.names = args
	return a, ""
}

func parseMillis(b []byte) (time.Duration, bool) {
	n, ok := shm.ParseInt(b)
	if !ok || n < 0 || time.Duration(n)*time.Millisecond > maxLockTime {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// cmdLock: LOCK [READ|WRITE] [WAIT ms] [LEASE ms] name... takes every lock
// or none within WAIT, and holds them until UNLOCK, the end of the
// connection or the end of the lease.
func cmdLock(c *conn, args [][]byte) {
	a, ok := c.lockRequest(args)
	if !ok {
		return
	}
	start := time.Now()
	g, err := c.lockGroup(a)
	c.s.metrics.lockWait.WithLabelValues(lockMode(a.write)).Observe(time.Since(start).Seconds())
	if err != nil {
		c.lockFailed(a, err)
		return
	}
	c.live.hold.Store(newHold(c, g, a))
	c.wr.Simple("OK")
}

// lockRequest parses LOCK's arguments, refuses a connection that holds
// locks, and forgets a lost hold; it answers the error itself.
func (c *conn) lockRequest(args [][]byte) (lockArgs, bool) {
	a, msg := parseLock(args[1:])
	if msg != "" {
		c.fail(msg)
		return a, false
	}
	if h := c.live.hold.Load(); h != nil && !h.isLost() {
		c.fail(msgHolding)
		return a, false
	}
	c.live.hold.Store(nil)
	return a, true
}

// lockGroup waits for the locks, within the wait, the connection's life
// and the server's, and then takes a holder slot. While it waits, for the
// locks or for a slot, it holds neither a slot nor the locks and their
// lane of the file (see shm.Memory.Lock): so waiters never keep a LOCK of
// free variables out, and never take the lanes that holderSlots leaves to
// MGET, MSET and EXEC. With every slot taken it lets the locks go, waits
// until a slot comes free and tries again.
func (c *conn) lockGroup(a lockArgs) (*shm.LockGroup, error) {
	ctx, done := c.waitContext(max(a.wait, time.Millisecond))
	defer done()
	for {
		// Missing variables are created (without a value) so that they can
		// be locked too: a read lock then also keeps them from being created.
		g, err := c.s.mem.Lock(ctx, a.names, a.write, true)
		if err != nil {
			return nil, err
		}
		select {
		case c.s.live.holders <- struct{}{}:
			return g, nil
		default:
		}
		g.Unlock()
		if err := c.s.awaitHolderSlot(ctx); err != nil {
			return nil, err
		}
	}
}

// awaitHolderSlot returns once a holder slot is free (without keeping it),
// or errNoHolderLane when ctx's wait ends first.
func (s *Server) awaitHolderSlot(ctx context.Context) error {
	select {
	case s.live.holders <- struct{}{}:
		<-s.live.holders
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errNoHolderLane
		}
		return ctx.Err()
	}
}

func (c *conn) lockFailed(a lockArgs, err error) {
	switch {
	case c.s.live.ctx.Err() != nil:
		c.fail(msgClosing)
	case errors.Is(err, errNoHolderLane):
		c.fail(c.s.msgNoLane(true))
	case errors.Is(err, shm.ErrNoLane) && !errors.Is(err, context.Canceled):
		c.fail(c.s.msgNoLane(false))
	case errors.Is(err, context.DeadlineExceeded):
		c.fail("TIMEOUT the locks were not all free within " + strconv.FormatInt(a.wait.Milliseconds(), 10) + " ms")
	case errors.Is(err, context.Canceled):
		c.fail("ERR the connection closed while waiting for the locks")
	default:
		c.memError(err)
	}
}

// msgNoLane says that the lanes ran out: those for LOCK (holders), or all
// of the file's, and how to have more.
func (s *Server) msgNoLane(holders bool) string {
	lanes := s.mem.Limits().Lanes
	which := fmt.Sprintf("all %d lanes for LOCK are held (half of the file's %d, fixed when it was created)", cap(s.live.holders), lanes)
	if !holders {
		which = fmt.Sprintf("all %d lanes of the file are in use (fixed when it was created)", lanes)
	}
	return fmt.Sprintf("ERR no free lock lane: %s; start dsmd with -lock-lanes %d on a new file for more", which, 2*lanes)
}

func newHold(c *conn, g *shm.LockGroup, a lockArgs) *hold {
	now := time.Now()
	h := &hold{s: c.s, g: g, write: a.write, since: now, set: make(map[string]bool, len(a.names)), until: now.Add(a.lease)}
	for _, n := range a.names {
		if !h.set[string(n)] {
			h.set[string(n)] = true
			h.names = append(h.names, string(n))
		}
	}
	slices.Sort(h.names)
	h.mu.Lock()
	h.timer = time.AfterFunc(a.lease, func() { h.expire(c) })
	h.mu.Unlock()
	return h
}

// expire ends the lease: the timer's goroutine releases the locks. The
// callback touches shm only while h.g is set, and the connection's cleanup
// releases under h.mu too, so nothing is released twice or after the server
// closed the file.
func (h *hold) expire(c *conn) {
	guardFaults()
	defer h.s.recoverFault()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.g == nil {
		return
	}
	h.releaseLocked()
	h.s.log.Warn("lock lease ended; locks released", "addr", c.remote, "id", c.id, "names", len(h.names))
}

// release gives the locks back; it reports whether they were still held.
func (h *hold) release() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.g == nil {
		return false
	}
	h.releaseLocked()
	return true
}

func (h *hold) releaseLocked() {
	h.timer.Stop()
	h.g.Unlock()
	h.g = nil
	<-h.s.live.holders
	h.s.metrics.lockHold.WithLabelValues(lockMode(h.write)).Observe(time.Since(h.since).Seconds())
}

// isLost reports whether the lease ended before the holder released the
// locks: the connection lets go of a hold before releasing it, so a hold
// it still has and that has no group is one the lease timer released.
func (h *hold) isLost() bool {
	if h.id != 0 {
		st, _ := h.s.cl.node.Locks().State(h.id)
		return st != cluster.LockHeld
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.g == nil
}

// cmdUnlock: UNLOCK [name...] releases the connection's locks and replies
// how many variables it released. Names, when given, must be the locked
// ones, all of them: the locks were taken as one and go as one.
func cmdUnlock(c *conn, args [][]byte) {
	h := c.live.hold.Load()
	if h == nil {
		c.wr.Int(0)
		return
	}
	for _, n := range args[1:] {
		if !h.set[string(n)] {
			c.fail("ERR '" + clip(n) + "' is not locked by this connection")
			return
		}
	}
	if len(args) > 1 && !coversAll(h, args[1:]) {
		c.fail("ERR UNLOCK must name every variable this connection locked, or none: they were locked as one")
		return
	}
	c.live.hold.Store(nil)
	held := true
	if h.id != 0 {
		var err error
		if held, err = h.releaseCluster(c.s.live.ctx); err != nil {
			c.live.hold.Store(h)
			c.clusterFailed(err)
			return
		}
	} else {
		held = h.release()
	}
	if !held {
		c.fail(msgLockLost)
		return
	}
	c.wr.Int(int64(len(h.names)))
}

func coversAll(h *hold, names [][]byte) bool {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[string(n)] = true
	}
	return len(seen) == len(h.set)
}

// cmdLocks: LOCKS lists the connection's locks, one [name, mode, lease ms
// left] per variable; mode is "write", "read", or "lost" once the lease
// ended.
func cmdLocks(c *conn, args [][]byte) {
	h := c.live.hold.Load()
	if h == nil {
		c.wr.Array(0)
		return
	}
	mode, left := h.state(time.Now())
	c.wr.Array(len(h.names))
	for _, n := range h.names {
		c.wr.Array(3)
		c.wr.BulkString(n)
		c.wr.BulkString(mode)
		c.wr.Int(left.Milliseconds())
	}
}

// state is the hold's mode and remaining lease.
func (h *hold) state(now time.Time) (string, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.g == nil:
		return "lost", 0
	case h.write:
		return "write", max(h.until.Sub(now), 0)
	}
	return "read", max(h.until.Sub(now), 0)
}

// runHeld runs a command, through the connection's lock group when it
// names locked variables.
func (c *conn) runHeld(cmd *command, args [][]byte) {
	h := c.live.hold.Load()
	if h == nil || cmd.flags&flagHoldAware != 0 {
		cmd.run(c, args)
		return
	}
	names := keyNames(cmd, args)
	switch {
	case !anyHeld(h, names):
		cmd.run(c, args)
	case !coversNames(h, names):
		c.fail(msgLockMixed)
	case cmd.vars == nil:
		c.fail("ERR " + strings.ToUpper(cmd.name) + " cannot run on locked variables")
	case h.id != 0:
		c.runInClusterHold(h, cmd, args)
	default:
		c.runInHold(h, cmd, args)
	}
}

// runInHold runs a command through the hold's group and commits it at once.
func (c *conn) runInHold(h *hold, cmd *command, args [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.g == nil {
		c.fail(msgLockLost)
		return
	}
	cmd.vars(c, c.s.heldVars(h.g), args)
	if err := h.g.Commit(); err != nil {
		c.memError(err)
	}
}

// heldItem reads name through the connection's locks if they hold it, and
// directly otherwise: a direct read of a variable this connection has
// write-locked would wait for itself.
func (c *conn) heldItem(name []byte) (shm.Item, error) {
	if h := c.live.hold.Load(); h != nil && h.set[string(name)] && h.id == 0 {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.g == nil {
			return shm.Item{}, errLockLost
		}
		return c.s.heldVars(h.g).Get(name)
	}
	return memVars{c.s.mem}.Get(name)
}

// lockedCount is how many variables the connection has locked: none
// once the lease ended.
func (c *conn) lockedCount() int {
	if h := c.live.hold.Load(); h != nil && !h.isLost() {
		return len(h.names)
	}
	return 0
}

// releaseHold gives back the connection's locks when it ends.
func (c *conn) releaseHold() {
	switch h := c.live.hold.Swap(nil); {
	case h == nil:
	case h.id != 0:
		h.releaseClosed()
	default:
		h.release()
	}
}

// lockCounts reports, for INFO, how many connections hold locks and how
// many variables they hold.
func (s *Server) lockCounts() (holders, vars int) {
	for _, c := range s.connsByID() {
		if n := c.lockedCount(); n > 0 {
			holders++
			vars += n
		}
	}
	return holders, vars
}
