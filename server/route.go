package server

import (
	"context"
	"slices"
	"sync/atomic"
)

// liveServer is the server's share of subscriptions, client-held locks and
// transactions.
type liveServer struct {
	hub     *hub            // change subscriptions (pubsub.go)
	holders chan struct{}   // one token per connection holding locks (locks.go)
	ctx     context.Context // ends when Shutdown or Close begins
	stop    context.CancelFunc
}

func (s *Server) initLive() {
	s.live.ctx, s.live.stop = context.WithCancel(context.Background())
	s.live.hub = newHub(s)
	s.live.holders = make(chan struct{}, holderSlots(s.mem.Limits().Lanes))
}

// liveState is a connection's subscriptions, client-held locks and
// transaction. The connection's goroutine owns it; the atomics are also read
// by CLIENT LIST and INFO from other goroutines.
type liveState struct {
	sub  *subscriber          // nil until the first SUBSCRIBE or PSUBSCRIBE
	hold atomic.Pointer[hold] // the locks taken by LOCK; nil when none
	tx   txState

	channels, patterns atomic.Int32 // subscriptions, for CLIENT LIST
	multi              atomic.Int32 // 1 + commands queued while in MULTI; 0 outside
}

// quiet reports whether none of subscriptions, locks and transactions is in
// use, so that a command runs as it is (the common case, kept cheap).
func (l *liveState) quiet() bool {
	return l.sub == nil && l.hold.Load() == nil && !l.tx.multi
}

// call runs a command that passed the lookup, arity and authentication
// checks: queued inside MULTI, refused in RESP2's subscribed context,
// routed through the connection's lock group when it names locked
// variables, and run as it is otherwise.
func (c *conn) call(cmd *command, args [][]byte) {
	if c.live.quiet() {
		cmd.run(c, args)
		return
	}
	switch {
	case c.live.tx.multi && cmd.flags&flagTxControl == 0:
		c.queue(cmd, args)
	case c.subscribedRESP2() && cmd.flags&flagSubscribed == 0:
		c.fail("ERR Can't execute '" + cmd.name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
	default:
		c.runHeld(cmd, args)
	}
}

// rejected is called when a command is refused before it runs (unknown,
// wrong arity, not authenticated): inside MULTI that dooms the
// transaction, as in Redis.
func (c *conn) rejected() {
	c.refused = true // for the error reply that follows (fail)
	if c.live.tx.multi {
		c.live.tx.failed = true
	}
}

// keyNames returns the variable names a command's arguments hold, by its
// key specification (first, last, step).
func keyNames(cmd *command, args [][]byte) [][]byte { return appendKeyNames(nil, cmd, args) }

// appendKeyNames appends the names keyNames returns to dst.
func appendKeyNames(dst [][]byte, cmd *command, args [][]byte) [][]byte {
	first, last, step := keyBounds(cmd, len(args))
	if last < first {
		return dst
	}
	dst = slices.Grow(dst, (last-first)/step+1)
	for i := first; i <= last; i += step {
		dst = append(dst, args[i])
	}
	return dst
}

// keyCount is how many names keyNames returns for n arguments, without
// making them.
func keyCount(cmd *command, n int) int {
	first, last, step := keyBounds(cmd, n)
	if last < first {
		return 0
	}
	return (last-first)/step + 1
}

// keyBounds resolves the command's key specification for n arguments:
// the names are at first, first+step, ... up to last; none if last <
// first.
func keyBounds(cmd *command, n int) (first, last, step int) {
	first, last, step = cmd.keys[0], cmd.keys[1], cmd.keys[2]
	if first <= 0 || step <= 0 || first >= n {
		return 0, -1, 1
	}
	if last < 0 {
		last += n
	}
	return first, min(last, n-1), step
}

// liveFields are CLIENT LIST's " flags=... multi=..." fields: flags P
// (subscribed), x (in MULTI), N (none), the subscription counts, the
// commands queued (-1 outside MULTI) and, dsm's own, the variables the
// connection has locked.
func (c *conn) liveFields() string {
	ch, pat, multi := c.live.channels.Load(), c.live.patterns.Load(), c.live.multi.Load()
	flags := ""
	if ch+pat > 0 {
		flags += "P"
	}
	if multi > 0 {
		flags += "x"
	}
	if flags == "" {
		flags = "N"
	}
	return " flags=" + flags + " db=0 sub=" + itoa(int(ch)) + " psub=" + itoa(int(pat)) +
		" ssub=0 multi=" + itoa(int(multi)-1) + " locks=" + itoa(c.lockedCount())
}
