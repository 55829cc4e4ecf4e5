package server

import (
	"slices"

	"github.com/dsm-dev/dsm/shm"
)

// Reply texts of transactions, Redis 7's.
const (
	msgExecAbort      = "EXECABORT Transaction discarded because of previous errors."
	msgNestedMulti    = "ERR MULTI calls can not be nested"
	msgWatchInMulti   = "ERR WATCH inside MULTI is not allowed"
	msgExecNoMulti    = "ERR EXEC without MULTI"
	msgDiscardNoMulti = "ERR DISCARD without MULTI"
	msgNotInMulti     = "ERR Command not allowed inside a transaction"
)

// txState is a connection's optimistic transaction: the variables it
// watches and, inside MULTI, the commands queued for EXEC.
type txState struct {
	watched map[string]watchMark // nil when nothing is watched
	multi   bool
	failed  bool // a command was refused while queuing: EXEC aborts
	queue   []queued
}

// watchMark is a watched variable's state at WATCH. EXEC runs only if
// every watched variable still has it: the same version and value, or
// still no value. (Versions rise on every change, so a change is always
// seen, except a variable deleted and created again in another slot that
// happens to reach the same version with the same value: its state is then
// exactly the one watched.)
type watchMark struct {
	found   bool
	version uint64
	value   shm.Value
}

// queued is a command waiting for EXEC, with its own copy of the arguments.
type queued struct {
	cmd  *command
	args [][]byte
}

// queue answers +QUEUED for a command inside MULTI, or refuses it (which
// dooms the transaction).
func (c *conn) queue(cmd *command, args [][]byte) {
	if cmd.flags&flagMulti == 0 {
		c.live.tx.failed = true
		c.fail(msgNotInMulti)
		return
	}
	q := queued{cmd: cmd, args: make([][]byte, len(args))}
	for i, a := range args {
		q.args[i] = slices.Clone(a)
	}
	c.live.tx.queue = append(c.live.tx.queue, q)
	c.live.multi.Store(int32(len(c.live.tx.queue)) + 1)
	c.wr.Simple("QUEUED")
}

func cmdMulti(c *conn, args [][]byte) {
	if c.live.tx.multi {
		c.fail(msgNestedMulti)
		return
	}
	c.live.tx.multi = true
	c.live.multi.Store(1)
	c.wr.Simple("OK")
}

func cmdDiscard(c *conn, args [][]byte) {
	if !c.live.tx.multi {
		c.fail(msgDiscardNoMulti)
		return
	}
	c.endTx()
	c.wr.Simple("OK")
}

// endTx forgets the transaction and the watches, as EXEC and DISCARD do.
func (c *conn) endTx() {
	c.live.tx = txState{}
	c.live.multi.Store(0)
}

// cmdWatch notes each variable's state; EXEC compares it under the
// transaction's locks.
func cmdWatch(c *conn, args [][]byte) {
	if c.live.tx.multi {
		c.fail(msgWatchInMulti)
		return
	}
	for _, name := range args[1:] {
		if _, ok := c.live.tx.watched[string(name)]; ok {
			continue
		}
		it, err := c.heldItem(name)
		if err != nil {
			c.txReadError(name, err)
			return
		}
		if c.live.tx.watched == nil {
			c.live.tx.watched = map[string]watchMark{}
		}
		c.live.tx.watched[string(name)] = watchMark{found: it.Found, version: it.Version, value: it.Value}
	}
	c.wr.Simple("OK")
}

func (c *conn) txReadError(name []byte, err error) {
	if err == errLockLost {
		c.fail(msgLockLost)
		return
	}
	c.varError(err)
}

func cmdUnwatch(c *conn, args [][]byte) {
	c.live.tx.watched = nil
	c.wr.Simple("OK")
}

// cmdExec runs the queued commands as one atomic step: it write-locks every
// variable they name and every watched one as one group (in the file's lock
// order, so EXECs never deadlock among themselves), checks the watches
// under those locks, runs the commands through the group and commits their
// writes at once. Other clients and local processes see all of them or
// none.
func cmdExec(c *conn, args [][]byte) {
	tx := c.live.tx
	c.endTx()
	switch {
	case !tx.multi:
		c.fail(msgExecNoMulti)
	case tx.failed:
		c.fail(msgExecAbort)
	default:
		c.exec(tx)
	}
}

func (c *conn) exec(tx txState) {
	// Names no variable can have read as missing and cannot be written:
	// the commands say so, and the group leaves them out.
	names := c.possibleNames(txNames(tx))
	if len(names) == 0 {
		c.runQueued(tx.queue, nil)
		return
	}
	if h := c.live.hold.Load(); h != nil && coversNames(h, names) {
		c.execInHold(h, tx)
		return
	} else if h != nil && anyHeld(h, names) {
		c.fail(msgLockMixed)
		return
	}
	ctx, done := c.waitContext(0)
	g, err := c.s.mem.Lock(ctx, names, true, true)
	done()
	if err != nil {
		c.lockFailed(lockArgs{}, err)
		return
	}
	defer g.Unlock()
	c.execInGroup(g, tx)
}

// execInHold runs a transaction whose variables this connection has all
// locked, through its own group.
func (c *conn) execInHold(h *hold, tx txState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.g == nil {
		c.fail(msgLockLost)
		return
	}
	c.execInGroup(h.g, tx)
}

// execInGroup runs the transaction through g (runTx), then commits.
func (c *conn) execInGroup(g *shm.LockGroup, tx txState) {
	if !c.runTx(c.s.heldVars(g), tx) {
		return
	}
	if err := g.Commit(); err != nil {
		c.s.log.Error("transaction commit failed", "addr", c.remote, "id", c.id, "err", err)
	}
	c.dirty = true
}

// runTx checks the watches and runs the queue through v, the variables of
// a group that holds every name the transaction uses, staging its writes.
// A changed watched variable aborts with a null reply, and runTx reports
// false: nothing was staged. The caller commits; a cluster node's apply
// does it for a replicated EXEC (replicate.go).
func (c *conn) runTx(v *heldVars, tx txState) bool {
	for name, mark := range tx.watched {
		it, err := v.Get([]byte(name))
		if err != nil || !mark.matches(it) {
			c.wr.NullArray()
			return false
		}
	}
	if listsVars(tx.queue) {
		c.tx = newTxView(v)
	}
	c.runQueued(tx.queue, v)
	c.tx = nil
	return true
}

func (m watchMark) matches(it shm.Item) bool {
	if !m.found || !it.Found {
		return m.found == it.Found
	}
	return m.version == it.Version && m.value.Equal(it.Value)
}

// runQueued replies with an array of the queued commands' replies; v is
// the variables the transaction's lock group holds, nil when no command
// names a variable.
func (c *conn) runQueued(q []queued, v *heldVars) {
	c.wr.Array(len(q))
	for _, e := range q {
		c.cur = e.cmd
		c.s.monitors.feed(c, e.cmd, e.args)
		if e.cmd.vars != nil && v != nil {
			e.cmd.vars(c, v, e.args)
		} else {
			e.cmd.run(c, e.args)
		}
	}
}

// listsVars reports whether a queued command lists or counts every
// variable, and so needs a txView.
func listsVars(q []queued) bool {
	for _, e := range q {
		if e.cmd.flags&flagWholeSpace != 0 {
			return true
		}
	}
	return false
}

// txNames is every variable the transaction names or watches, once each.
func txNames(tx txState) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	add := func(n []byte) {
		if !seen[string(n)] {
			seen[string(n)] = true
			out = append(out, n)
		}
	}
	for _, q := range tx.queue {
		for _, n := range keyNames(q.cmd, q.args) {
			add(n)
		}
	}
	for n := range tx.watched {
		add([]byte(n))
	}
	return out
}

func coversNames(h *hold, names [][]byte) bool {
	for _, n := range names {
		if !h.set[string(n)] {
			return false
		}
	}
	return true
}

func anyHeld(h *hold, names [][]byte) bool {
	for _, n := range names {
		if h.set[string(n)] {
			return true
		}
	}
	return false
}
