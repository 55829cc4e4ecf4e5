package server

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// Redis' defaults and bounds for the slow log.
const (
	defaultSlowerThan = 10000 // microseconds (slowlog-log-slower-than)
	defaultSlowMaxLen = 128   // entries (slowlog-max-len)
	slowMaxArgs       = 32    // arguments kept per entry, the last one saying how many more
	slowMaxArg        = 128   // bytes kept per argument
)

// slowlog keeps the commands that ran for slowlog-log-slower-than
// microseconds or more, newest first, at most slowlog-max-len of them, as
// Redis' SLOWLOG does. The time is the command's own: reading it and
// writing its reply to the buffer, not the network. LOCK is left out: its
// time is mostly its wait for the lock, as Redis leaves out the wait of a
// blocking command.
type slowlog struct {
	slower atomic.Int64 // microseconds; negative: log nothing
	maxLen atomic.Int64

	mu      sync.Mutex // guards the fields below
	nextID  int64
	entries []slowEntry // oldest first
}

// slowEntry is one logged command; args are kept as Redis keeps them
// (slowArgs).
type slowEntry struct {
	id         int64
	at         time.Time
	micros     int64
	args       []string
	addr, name string
}

func newSlowlog() *slowlog {
	l := &slowlog{}
	l.slower.Store(defaultSlowerThan)
	l.maxLen.Store(defaultSlowMaxLen)
	return l
}

// note logs c's command if it ran for the threshold or longer.
func (l *slowlog) note(c *conn, cmd *command, args [][]byte, d time.Duration) {
	slower := l.slower.Load()
	micros := d.Microseconds()
	if slower < 0 || micros < slower || cmd.name == "lock" {
		return
	}
	c.infoMu.Lock()
	name := c.name
	c.infoMu.Unlock()
	e := slowEntry{at: time.Now(), micros: micros, args: slowArgs(cmd, args), addr: c.remote, name: name}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	l.trimLocked()
}

// trimLocked drops the oldest entries beyond slowlog-max-len; the slice
// is copied down once it is twice as long, so a note costs O(1) on
// average.
func (l *slowlog) trimLocked() {
	n := int(l.maxLen.Load())
	if extra := len(l.entries) - n; extra > 0 {
		clear(l.entries[:extra])
		l.entries = l.entries[extra:]
	}
	if cap(l.entries) > 2*max(n, 16) {
		l.entries = append([]slowEntry(nil), l.entries...)
	}
}

// slowArgs copies a command's arguments as the slow log keeps them: at
// most slowMaxArgs (the last saying how many more there were), each cut at
// slowMaxArg bytes (saying how many more it had), secrets redacted.
func slowArgs(cmd *command, args [][]byte) []string {
	args = redacted(cmd, args)
	n := min(len(args), slowMaxArgs)
	out := make([]string, 0, n)
	for i, a := range args[:n] {
		if i == slowMaxArgs-1 && len(args) > slowMaxArgs {
			out = append(out, "... ("+strconv.Itoa(len(args)-slowMaxArgs+1)+" more arguments)")
			break
		}
		if len(a) > slowMaxArg {
			out = append(out, string(a[:slowMaxArg])+"... ("+strconv.Itoa(len(a)-slowMaxArg)+" more bytes)")
			continue
		}
		out = append(out, string(a))
	}
	return out
}

// redactedArg stands for a secret in MONITOR's lines and the slow log.
var redactedArg = []byte("(redacted)")

// redacted returns args with the secrets replaced, as Redis 7 does: AUTH's
// arguments, and the user and password after HELLO's AUTH. It copies args
// only when it replaces one.
func redacted(cmd *command, args [][]byte) [][]byte {
	switch cmd.name {
	case "auth":
		out := make([][]byte, len(args))
		out[0] = args[0]
		for i := 1; i < len(args); i++ {
			out[i] = redactedArg
		}
		return out
	case "hello":
		var out [][]byte
		for i := 2; i+2 < len(args); i++ {
			if strings.EqualFold(string(args[i]), "AUTH") {
				if out == nil {
					out = append([][]byte(nil), args...)
				}
				out[i+1], out[i+2] = redactedArg, redactedArg
				i += 2
			}
		}
		if out != nil {
			return out
		}
	}
	return args
}

// get returns up to n entries, newest first; n < 0 means all.
func (l *slowlog) get(n int) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	out := make([]slowEntry, n)
	for i := range out {
		out[i] = l.entries[len(l.entries)-1-i]
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// setMaxLen changes slowlog-max-len, dropping the oldest entries beyond it.
func (l *slowlog) setMaxLen(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxLen.Store(n)
	l.trimLocked()
}

// slowlogGet: SLOWLOG GET [count], 10 entries by default, -1 for all.
func slowlogGet(c *conn, args [][]byte) {
	n := int64(10)
	if len(args) > 3 {
		c.fail("ERR unknown subcommand or wrong number of arguments for '" + clip(args[1]) + "'. Try SLOWLOG HELP.")
		return
	}
	if len(args) == 3 {
		var ok bool
		if n, ok = shm.ParseInt(args[2]); !ok || n < -1 {
			c.fail("ERR count should be greater than or equal to -1")
			return
		}
	}
	entries := c.s.slowlog.get(int(n))
	c.wr.Array(len(entries))
	for _, e := range entries {
		c.wr.Array(6)
		c.wr.Int(e.id)
		c.wr.Int(e.at.Unix())
		c.wr.Int(e.micros)
		c.wr.Array(len(e.args))
		for _, a := range e.args {
			c.wr.BulkString(a)
		}
		c.wr.BulkString(e.addr)
		c.wr.BulkString(e.name)
	}
}

func slowlogLen(c *conn, args [][]byte) { c.wr.Int(int64(c.s.slowlog.len())) }

func slowlogReset(c *conn, args [][]byte) {
	c.s.slowlog.reset()
	c.wr.Simple("OK")
}

func slowlogCommand() *command {
	return container(
		&command{name: "slowlog", arity: -2, category: "server", since: "2.2.12", summary: "Reads and resets the log of slow commands (slowlog-log-slower-than, slowlog-max-len)."},
		&command{name: "get", arity: -2, flags: flagAdmin | flagMulti, since: "2.2.12", summary: "Returns the newest entries (10, or count; -1 for all): id, unix time, microseconds, arguments, client address, client name.", args: []arg{argInt("count").opt()}, run: slowlogGet},
		&command{name: "len", arity: 2, flags: flagAdmin | flagMulti, since: "2.2.12", summary: "Returns the number of entries.", run: slowlogLen},
		&command{name: "reset", arity: 2, flags: flagAdmin | flagMulti, since: "2.2.12", summary: "Empties the log.", run: slowlogReset},
		&command{name: "help", arity: 2, since: "6.2.0", summary: "Lists the SLOWLOG subcommands.", run: cmdHelp},
	)
}
