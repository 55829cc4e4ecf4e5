package server

import (
	"errors"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// serveRESP reads commands and executes them in order. Replies are staged
// and go out when the reader needs more input (see input), so a pipeline is
// answered in batches. A protocol error is answered, as Redis does, with
// "-ERR Protocol error: ..." and the connection is closed.
func (c *conn) serveRESP() error {
	if c.proto == "" {
		c.proto = "resp"
	}
	c.rd = resp.NewReader(&c.in, readBufSize)
	c.rd.SetLimits(c.limits())
	for !c.quit {
		args, err := c.rd.ReadCommand(c.args[:0])
		if err != nil {
			return c.readFailed(err)
		}
		c.args = args
		if cap(args) > maxKeptArgs {
			c.args = nil // let a huge command's slots go
		}
		pending := c.rd.Buffered() > 0
		c.in.requestDone(pending)
		if c.in.fresh {
			c.in.fresh = false
			if pending || len(args) > 3 {
				c.prefetch(args)
				c.forgetKeys()
			}
		}
		c.execute(args)
		if err := c.wr.Err(); err != nil {
			return c.outputFailed(err)
		}
	}
	return nil
}

// prefetch is called with the first command of each read that brought
// more than one, or that may name several variables (more than three
// arguments: MSET, MGET, DEL...): it hands the names of the variables that
// this command and the whole ones buffered behind it use to shm's
// Prefetch, so that a pipelined batch, or one command on several
// variables, waits for memory once, for all its variables together,
// rather than once per variable (about half the cost of a write to a
// variable out of the caches, BenchmarkAddKeyspacePrefetch). It is a hint:
// the commands then run as usual, and only those with key positions in the
// command table take part.
func (c *conn) prefetch(args [][]byte) {
	keys := c.dataKeys(c.keys[:0], args)
	c.pending = c.rd.Pending(c.pending, func(next [][]byte) bool {
		keys = c.dataKeys(keys, next)
		return len(keys) < maxPrefetch
	})
	if len(keys) > 1 {
		c.s.mem.Prefetch(keys)
	}
	c.keys = keys
}

// maxPrefetch is about the most names prefetch gathers from one read; more
// would only evict what it loaded first.
const maxPrefetch = 256

// forgetKeys empties the names prefetch gathered once shm has them: they
// point into the reader's buffers, and would keep a big command's buffer,
// which the reader lets go at its next read, alive while the connection
// waits. A slice grown beyond what a batch needs (at most maxPrefetch
// names and one command's more), by one command naming many variables,
// goes too, as c.args does (maxKeptArgs).
func (c *conn) forgetKeys() {
	clear(c.keys)
	c.keys = c.keys[:0]
	if cap(c.keys) > 4*maxPrefetch {
		c.keys = nil
	}
}

// dataKeys appends to dst the variable names args uses when its command
// reads or writes variables (see appendKeyNames).
func (c *conn) dataKeys(dst, args [][]byte) [][]byte {
	cmd := c.lookup(args[0])
	if cmd == nil || cmd.flags&(flagWrite|flagReadonly) == 0 {
		return dst
	}
	return appendKeyNames(dst, cmd, args)
}

// lookup finds a command by name, ignoring case, as commandTable.lookup
// does; the last one found is checked first: a pipeline mostly repeats one
// command, which prefetch and execute each look up.
func (c *conn) lookup(name []byte) *command {
	if cmd := c.looked; cmd != nil && equalFoldASCII(name, cmd.name) {
		return cmd
	}
	cmd := c.s.cmds.lookup(name)
	if cmd != nil {
		c.looked = cmd
	}
	return cmd
}

// maxKeptArgs is the most argument slots kept between commands, as
// resp.Reader reuses at most this many.
const maxKeptArgs = 128

// limits are the reader limits for the client's state.
func (c *conn) limits() resp.Limits {
	if c.authed {
		return c.s.cfg.Limits
	}
	return c.s.cfg.PreAuthLimits
}

// readFailed answers a protocol error; other read errors end the
// connection silently.
func (c *conn) readFailed(err error) error {
	var pe *resp.ProtocolError
	if errors.As(err, &pe) {
		c.cur = c.s.cmds.unknown
		c.fail("ERR " + pe.Error())
	}
	return err
}

// execute looks up and runs one command, answering lookup, arity and
// authentication errors in Redis' order.
func (c *conn) execute(args [][]byte) {
	cmd := c.lookup(args[0])
	if cmd == nil {
		c.cur = c.s.cmds.unknown
		c.rejected()
		c.fail(unknownCommand(args))
		return
	}
	if cmd.subs != nil && len(args) >= 2 {
		sub := cmd.sub(args[1])
		if sub == nil {
			c.cur = cmd
			c.rejected()
			c.fail("ERR unknown subcommand '" + clip(args[1]) + "'. Try " + strings.ToUpper(cmd.name) + " HELP.")
			return
		}
		cmd = sub
	}
	c.cur = cmd
	switch {
	case !cmd.arityOK(len(args)):
		c.rejected()
		c.fail("ERR wrong number of arguments for '" + cmd.name + "' command")
	case !c.authed && cmd.flags&flagNoAuth == 0:
		c.rejected()
		c.fail(msgNoAuth)
	default:
		start := time.Now()
		queued := c.live.tx.multi && cmd.flags&flagTxControl == 0
		c.count(cmd)
		c.call(cmd, args)
		d := time.Since(start)
		c.timed(cmd, d)
		if !queued { // a queued command is logged and monitored when EXEC runs it
			c.s.slowlog.note(c, cmd, args, d)
			c.s.monitors.feed(c, cmd, args)
		}
		c.dirty = c.dirty || cmd.flags&flagWrite != 0
	}
}

// timed records a command's run time: in its latency histogram, and in
// INFO commandstats' figures (the pending run of count when it is in one,
// else at once).
func (c *conn) timed(cmd *command, d time.Duration) {
	c.s.metrics.latency[cmd.id].Observe(d.Seconds())
	if c.uncounted.cmd == cmd && c.uncounted.n > 0 {
		c.uncounted.nanos += int64(d)
		return
	}
	c.s.stats.cmds[cmd.id].nanos.Add(int64(d))
}

// count records one executed command. The data commands of a pipelined
// batch (fast reads and writes: GET, SET, INCR...) are counted in a run
// that is published when the command changes or the replies go out
// (countDone), so a batch of 16 SETs costs a few shared atomic adds, not
// 64. Every other command publishes at once, so INFO and CLIENT LIST see
// themselves counted as before.
func (c *conn) count(cmd *command) {
	if cmd.flags&flagFast != 0 && cmd.flags&(flagWrite|flagReadonly) != 0 {
		if c.uncounted.cmd != cmd {
			c.countDone()
			c.uncounted.cmd = cmd
		}
		c.uncounted.n++
		return
	}
	c.countDone()
	c.uncounted.cmd, c.uncounted.n = cmd, 1
	c.countDone()
}

// countDone publishes the pending run of commands to the server's
// statistics, its metrics and the connection's own figures.
func (c *conn) countDone() {
	cmd, n := c.uncounted.cmd, c.uncounted.n
	if n == 0 {
		return
	}
	c.uncounted.n = 0
	c.s.stats.commands.Add(n)
	st := &c.s.stats.cmds[cmd.id]
	st.calls.Add(n)
	st.nanos.Add(c.uncounted.nanos)
	c.uncounted.nanos = 0
	c.s.metrics.calls[cmd.id].Add(float64(n))
	c.commands.Add(n)
	c.lastCmd.Store(&cmd.name)
}

// cmdRun is a run of executed commands not yet published (see count).
type cmdRun struct {
	cmd   *command
	n     int64
	nanos int64 // their run time
}

// fail writes an error reply and counts it against the current command.
func (c *conn) fail(msg string) {
	if !c.applying { // an applied command's error counts where it is answered (propose)
		c.countError(msg)
	}
	c.refused = false
	c.wr.Error(msg)
}

// countError counts an error reply against the current command.
func (c *conn) countError(msg string) {
	c.s.stats.errors.Add(1)
	c.s.stats.noteError(msg)
	if c.cur != nil {
		c.s.metrics.errs[c.cur.id].Inc()
		if c.refused {
			c.s.stats.cmds[c.cur.id].rejected.Add(1)
		} else {
			c.s.stats.cmds[c.cur.id].failed.Add(1)
		}
	}
}

// unknownCommand words the error as Redis 7 does: the name and the
// arguments quoted, up to about 128 bytes of arguments.
func unknownCommand(args [][]byte) string {
	var quoted strings.Builder
	for _, a := range args[1:] {
		room := 128 - quoted.Len()
		if room <= 0 {
			break
		}
		quoted.WriteString("'" + string(a[:min(len(a), room)]) + "' ")
	}
	return "ERR unknown command '" + clip(args[0]) + "', with args beginning with: " + quoted.String()
}

// clip returns at most 128 bytes of b for an error message.
func clip(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// authenticate marks the client authenticated and lifts the pre-AUTH
// limits and deadline.
func (c *conn) authenticate() {
	if c.authed {
		return
	}
	c.authed = true
	c.in.authBy = time.Time{}
	c.rd.SetLimits(c.limits())
	c.s.log.Info("client authenticated", "addr", c.remote, "id", c.id)
}
