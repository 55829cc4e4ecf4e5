package server

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/resp"
	"github.com/dsm-dev/dsm/shm"
)

// The replicated form of a command: the server's side of a cluster log
// entry (package cluster carries and orders the arguments, and knows
// nothing of what they mean).
//
//	args[0]   the reply protocol: "2" or "3" (RESP2 or RESP3), since the
//	          reply is written where the entry is applied, on the leader
//	args[1:]  the command as the client sent it: SET k v NX ...
//
// EXEC carries its transaction, so that it is checked and run where it is
// applied, as one entry (from any node, across a failover):
//
//	"exec", the number of watched variables, then per watched variable
//	its name, its version ("-" when it had no value) and its value as
//	text; then per queued command its argument count and its arguments.
//
// Only variable commands that write (the table's flagWrite with a vars
// handler) and EXEC are replicated; the applier refuses anything else,
// alike on every node.
var replyProtocols = [...][]byte{2: []byte("2"), 3: []byte("3")}

// entry is a decoded replicated command.
type entry struct {
	proto int
	cmd   *command
	args  [][]byte // the command, name first
	tx    txState  // EXEC's watches and queue
}

// errNotReplicated refuses an entry that is not a replicated command.
var errNotReplicated = errors.New("not a replicated command")

// decodeEntry parses args as the server's replicated form of a command.
func (t *commandTable) decodeEntry(args [][]byte) (entry, error) {
	if len(args) < 2 || (string(args[0]) != "2" && string(args[0]) != "3") {
		return entry{}, fmt.Errorf("%w: no reply protocol", errNotReplicated)
	}
	e := entry{proto: int(args[0][0] - '0'), args: args[1:]}
	e.cmd = t.lookup(e.args[0])
	switch {
	case e.cmd == nil:
		return entry{}, fmt.Errorf("%w: unknown command %q", errNotReplicated, clip(e.args[0]))
	case e.cmd.name == "exec":
		return e, t.decodeTx(&e)
	case e.cmd.vars == nil || e.cmd.flags&flagWrite == 0:
		return entry{}, fmt.Errorf("%w: %s", errNotReplicated, e.cmd.name)
	case !e.cmd.arityOK(len(e.args)):
		return entry{}, fmt.Errorf("%w: wrong number of arguments for %s", errNotReplicated, e.cmd.name)
	}
	return e, nil
}

// decodeTx parses EXEC's watches and queue (see replyProtocols).
func (t *commandTable) decodeTx(e *entry) error {
	rest := e.args[1:]
	next := func() ([]byte, bool) {
		if len(rest) == 0 {
			return nil, false
		}
		a := rest[0]
		rest = rest[1:]
		return a, true
	}
	count := func() (int, bool) {
		a, ok := next()
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(string(a))
		return n, err == nil && n >= 0 && n <= len(rest)
	}
	bad := fmt.Errorf("%w: malformed EXEC", errNotReplicated)
	n, ok := count()
	if !ok {
		return bad
	}
	e.tx.multi = true
	for range n {
		name, _ := next()
		ver, _ := next()
		text, ok := next()
		if !ok {
			return bad
		}
		var mark watchMark
		if string(ver) != "-" {
			v, err := strconv.ParseUint(string(ver), 10, 64)
			if err != nil {
				return bad
			}
			mark = watchMark{found: true, version: v, value: shm.ParseValue(text)}
		}
		if e.tx.watched == nil {
			e.tx.watched = map[string]watchMark{}
		}
		e.tx.watched[string(name)] = mark
	}
	for len(rest) > 0 {
		argc, ok := count()
		if !ok || argc == 0 {
			return bad
		}
		q := queued{args: rest[:argc:argc]}
		rest = rest[argc:]
		if q.cmd = t.lookup(q.args[0]); q.cmd == nil || q.cmd.vars == nil || !q.cmd.arityOK(argc) {
			return fmt.Errorf("%w: EXEC holds %q", errNotReplicated, clip(q.args[0]))
		}
		e.tx.queue = append(e.tx.queue, q)
	}
	return nil
}

// encodeTx is the replicated form of EXEC for tx, replies in proto.
func encodeTx(proto int, tx txState) [][]byte {
	out := [][]byte{replyProtocols[proto], []byte("exec"), []byte(itoa(len(tx.watched)))}
	for name, m := range tx.watched {
		ver, text := []byte("-"), []byte(nil)
		if m.found {
			ver, text = []byte(strconv.FormatUint(m.version, 10)), m.value.AppendText(nil)
		}
		out = append(out, []byte(name), ver, text)
	}
	for _, q := range tx.queue {
		out = append(out, []byte(itoa(len(q.args))))
		out = append(out, q.args...)
	}
	return out
}

// names lists the variables e writes or checks, those that no variable
// can have left out (the handlers answer for them, as they do outside a
// cluster).
func (e entry) names(nameMax int) [][]byte {
	var names [][]byte
	if e.cmd.name == "exec" {
		names = txNames(e.tx)
	} else {
		names = keyNames(e.cmd, e.args)
	}
	kept := names[:0:0]
	for _, n := range names {
		if len(n) > 0 && len(n) <= nameMax {
			kept = append(kept, n)
		}
	}
	return kept
}

// applier executes the replicated commands of a cluster node through the
// command table: the handlers that run over a LOCK or EXEC group run over
// the group the node's apply takes, so each command is written once. It
// implements cluster.Applier; the node's apply goroutine is its only
// caller.
type applier struct {
	s     *Server
	conns [4]*conn // by reply protocol (2, 3): replies are written there
}

func newApplier(s *Server) *applier {
	a := &applier{s: s}
	for _, p := range []int{2, 3} {
		c := &conn{s: s, applying: true}
		c.wr = resp.NewWriter(nil, keepOutput)
		c.wr.SetProtocol(p)
		a.conns[p] = c
	}
	return a
}

// Keys lists the variables the entry uses.
func (a *applier) Keys(args [][]byte) ([][]byte, error) {
	e, err := a.s.cmds.decodeEntry(args)
	if err != nil {
		return nil, err
	}
	return e.names(a.s.nameMax), nil
}

// Apply runs the entry's command over g and returns its reply. A
// transaction whose watched variables changed answers null and stages
// nothing; the node then commits only its applied index.
func (a *applier) Apply(g *shm.LockGroup, args [][]byte) ([]byte, error) {
	e, err := a.s.cmds.decodeEntry(args)
	if err != nil {
		return nil, err
	}
	c := a.conns[e.proto]
	c.wr.Reset()
	v := a.s.heldVars(g)
	if e.cmd.name == "exec" {
		c.runTx(v, e.tx)
	} else {
		c.cur = e.cmd
		e.cmd.vars(c, v, e.args)
	}
	c.cur = nil
	return append([]byte(nil), c.wr.Bytes()...), nil
}

var _ cluster.Applier = (*applier)(nil)
