package server

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/dsm-dev/dsm/cluster"
)

// Client-held locks on a cluster node. The lock table is replicated state
// (cluster.LockTable): LOCK, UNLOCK and a closed connection's release are
// log entries, proposed through the leader from any node, and the leader
// ends leases. A grant's token is its log index; LOCK replies with it and
// FENCED checks it. Other clients' commands on a locked variable wait on
// this node, before anything is proposed, while the table as applied here
// holds it; the apply refuses a write that meets a lock anyway (a grant
// raced it), and the write waits and goes again.

// releaseTimeout bounds the release a closed connection's node proposes:
// when it cannot, the lease ends the locks.
const releaseTimeout = 5 * time.Second

// cmdLockCluster: LOCK on a cluster node replies with the grant's token.
func cmdLockCluster(c *conn, args [][]byte) {
	a, ok := c.lockRequest(args)
	if !ok {
		return
	}
	node := c.s.cl.node
	start := time.Now()
	holder := node.ID() + " id=" + strconv.FormatInt(c.id, 10) + " addr=" + c.remote
	res, err := node.Lock(c.s.live.ctx, holder, a.write, a.wait, a.lease, a.names)
	if err == nil && res.Queued {
		ctx, done := c.waitContext(max(a.wait, time.Millisecond))
		res.Token, err = node.AwaitLock(ctx, res.ID)
		done()
		if err != nil {
			// The wait ended (or the connection did) first: take the
			// request back; granted meanwhile, it is released.
			wctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			_, werr := node.Withdraw(wctx, res.ID)
			cancel()
			if werr != nil {
				c.s.log.Warn("lock request not withdrawn; the leader withdraws it when its wait ends", "request", res.ID, "err", werr)
			}
			if errors.Is(err, cluster.ErrLockLost) {
				err = context.DeadlineExceeded
			}
		}
	}
	c.s.metrics.lockWait.WithLabelValues(lockMode(a.write)).Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			c.lockFailed(a, err)
		} else {
			c.clusterFailed(err)
		}
		return
	}
	h := &hold{s: c.s, write: a.write, since: start, set: make(map[string]bool, len(a.names)), id: res.ID}
	for _, n := range a.names {
		if !h.set[string(n)] {
			h.set[string(n)] = true
			h.names = append(h.names, string(n))
		}
	}
	slices.Sort(h.names)
	c.live.hold.Store(h)
	c.wr.Int(int64(res.Token))
}

// releaseCluster proposes the release of a cluster hold and reports
// whether it was still held.
func (h *hold) releaseCluster(ctx context.Context) (bool, error) {
	_, err := h.s.cl.node.Release(ctx, h.id)
	if errors.Is(err, cluster.ErrLockLost) {
		return false, nil
	}
	if err == nil {
		h.s.metrics.lockHold.WithLabelValues(lockMode(h.write)).Observe(time.Since(h.since).Seconds())
	}
	return err == nil, err
}

// releaseClosed releases a closed connection's cluster hold, in the
// background: if the node cannot reach a leader, the lease ends the locks.
func (h *hold) releaseClosed() {
	h.s.goFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		if _, err := h.releaseCluster(ctx); err != nil {
			h.s.log.Warn("locks of a closed connection not released; their lease ends them", "request", h.id, "err", err)
		}
	})
}

// runInClusterHold runs a holder's command on its locked variables: a
// write goes to the log as the holder's (applied only while the locks are
// held), a read runs here, past the connection's own locks.
func (c *conn) runInClusterHold(h *hold, cmd *command, args [][]byte) {
	if h.isLost() {
		c.fail(msgLockLost)
		return
	}
	cmd.run(c, args)
}

// cmdLocksCluster: LOCKS on a cluster node lists the whole lock table, as
// applied here: per variable of each request [name, mode, ms left, token,
// holder], held ones first, then waiters in order (mode "wait-write" or
// "wait-read", token 0, ms left of the wait). The leader's count of a
// lease is the one that ends it; another node counts from when it applied
// the grant.
func cmdLocksCluster(c *conn, args [][]byte) {
	list := c.s.cl.node.ListLocks()
	rows := 0
	for _, r := range list {
		rows += len(r.Names)
	}
	c.wr.Array(rows)
	for _, r := range list {
		mode := lockMode(r.Write)
		if r.Token == 0 {
			mode = "wait-" + mode
		}
		for _, n := range r.Names {
			c.wr.Array(5)
			c.wr.BulkString(n)
			c.wr.BulkString(mode)
			c.wr.Int(r.Left.Milliseconds())
			c.wr.Int(int64(r.Token))
			c.wr.BulkString(r.Holder)
		}
	}
}

// cmdFenced: FENCED token command args... runs a write command only if no
// lock newer than token was granted on its variables. A single host has
// no tokens.
func cmdFenced(c *conn, args [][]byte) {
	if c.s.cl == nil {
		c.fail("ERR FENCED takes a token from a cluster's LOCK: a single host's locks have none")
		return
	}
	tok, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil || tok == 0 {
		c.fail("ERR FENCED takes a lock's token (a positive integer) and then a write command")
		return
	}
	cmd := c.s.cmds.lookup(args[2])
	switch {
	case cmd == nil:
		c.fail("ERR unknown command '" + clip(args[2]) + "' after FENCED")
		return
	case cmd.vars == nil || cmd.flags&flagWrite == 0:
		c.fail("ERR FENCED runs a write command on variables; '" + cmd.name + "' is not one")
		return
	case !cmd.arityOK(len(args) - 2):
		c.fail("ERR wrong number of arguments for '" + cmd.name + "' command")
		return
	}
	cur := c.cur
	c.cur, c.fence = cmd, tok
	defer func() { c.cur, c.fence = cur, 0 }()
	c.replicate(args[2:])
}

// write proposes entry (the replicated form of the command whose names
// are names): as the holder's when the connection's locks hold them, as
// fenced by FENCED's token, or plainly. A write that meets another's lock
// waits until this node has applied its release, and goes again.
func (c *conn) write(entry, names [][]byte) (cluster.Reply, error) {
	node := c.s.cl.node
	own := c.ownRequest(names)
	for {
		if own == 0 {
			if err := c.awaitUnlocked(names, true, 0); err != nil {
				return cluster.Reply{}, err
			}
		}
		var r cluster.Reply
		var err error
		switch {
		case own != 0:
			r, err = node.WriteHeld(c.s.live.ctx, own, entry)
		case c.fence != 0:
			r, err = node.WriteFenced(c.s.live.ctx, c.fence, entry)
		default:
			r, err = node.Write(c.s.live.ctx, entry)
		}
		if !errors.Is(err, cluster.ErrLocked) || own != 0 {
			return r, err
		}
		if err := node.WaitApplied(c.s.live.ctx, r.Index); err != nil {
			return r, err
		}
	}
}

// awaitUnlocked waits until this node's lock table lets the connection
// read (write false) or write names: past its own locks (the request own,
// 0 for none), and for a fenced write past the holder its token names. It
// gives up waiting after the longest lease or wait in the table (and a
// second), so that a node cut off from the leader does not wait forever:
// the caller then goes on, and the cluster decides.
func (c *conn) awaitUnlocked(names [][]byte, write bool, own uint64) error {
	return c.s.cl.node.AwaitUnlocked(c.s.live.ctx, names, write, own, c.fence)
}

// entryNames lists the variables a replicated entry writes, for the lock
// waits; none when no lock was ever taken.
func (c *conn) entryNames(entry [][]byte) [][]byte {
	if c.s.cl.node.Locks().Empty() {
		return nil
	}
	e, err := c.s.cmds.decodeEntry(entry)
	if err != nil {
		return nil
	}
	return e.names(c.s.nameMax)
}

// readUnlocked waits, before a read runs, while another client holds one
// of its variables for writing or a writer waits for one; after a wait it
// reads linearizably again. It answers the error itself and reports false
// when the read cannot be served.
func (c *conn) readUnlocked(cmd *command, args [][]byte) bool {
	if c.s.cl.node.Locks().Empty() {
		return true
	}
	names := keyNames(cmd, args)
	own := c.ownRequest(names)
	for {
		if !c.s.cl.node.Locks().Blocked(names, false, own, 0) {
			return true
		}
		if err := c.awaitUnlocked(names, false, own); err != nil {
			c.clusterFailed(err)
			return false
		}
		if !c.linearize() {
			return false
		}
	}
}

// ownRequest is the lock request by which the connection holds names on a
// cluster node, 0 if it holds none of them.
func (c *conn) ownRequest(names [][]byte) uint64 {
	if h := c.live.hold.Load(); h != nil && h.id != 0 && anyHeld(h, names) {
		return h.id
	}
	return 0
}
