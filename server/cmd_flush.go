package server

import (
	"context"
	"errors"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// msgFlushProtected refuses FLUSHDB and FLUSHALL while Config.ProtectFlush
// is set.
const msgFlushProtected = "ERR FLUSHALL and FLUSHDB are disabled: dsmd runs with -protect-flush"

// cmdFlush answers FLUSHDB and FLUSHALL [ASYNC|SYNC] (one database: both
// delete every variable). Both modes run at once, as one whole-file write
// (shm's Flush): a reader sees every variable or none. The connection
// must not hold locks (the write would wait for them), and the command
// cannot be queued in MULTI, whose EXEC runs inside a lock group.
func cmdFlush(c *conn, args [][]byte) {
	if !c.flushAllowed(args) {
		return
	}
	ctx, done := c.waitContext(0)
	_, err := c.s.mem.Flush(ctx)
	done()
	switch {
	case errors.Is(err, shm.ErrClosed), errors.Is(err, context.Canceled):
		c.fail(msgClosing)
	case err != nil:
		c.memError(err)
	default:
		c.wr.Simple("OK")
	}
}

// cmdFlushReplicated is FLUSHDB and FLUSHALL on a cluster node: one log
// entry that every node applies as one whole-file write.
func cmdFlushReplicated(c *conn, args [][]byte) {
	cl := c.s.cl
	if !c.flushAllowed(args) {
		return
	}
	if cl.redirect && !cl.node.IsLeader() {
		c.moved()
		return
	}
	_, r, err := cl.node.FlushAll(c.s.live.ctx)
	if err != nil {
		c.clusterFailed(err)
		return
	}
	c.seen = max(c.seen, r.Index)
	c.dirty = true
	c.wr.Simple("OK")
}

// flushAllowed checks FLUSHDB's and FLUSHALL's option, the -protect-flush
// setting and the connection's locks, and answers when it refuses.
func (c *conn) flushAllowed(args [][]byte) bool {
	if len(args) > 2 {
		c.fail(msgSyntax)
		return false
	}
	if len(args) == 2 {
		if opt := strings.ToUpper(string(args[1])); opt != "ASYNC" && opt != "SYNC" {
			c.fail(msgSyntax)
			return false
		}
	}
	switch {
	case c.s.cfg.ProtectFlush:
		c.fail(msgFlushProtected)
	case c.live.hold.Load() != nil:
		c.fail("ERR " + strings.ToUpper(string(args[0])) + " while this connection holds locks: UNLOCK first")
	default:
		return true
	}
	return false
}
