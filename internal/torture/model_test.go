package torture

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sys/unix"
)

// opKind is what an operation does to its variable.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opAdd
	opCAS
)

var kindNames = [...]string{opGet: "get", opSet: "set", opAdd: "add", opCAS: "cas"}

func (k opKind) String() string { return kindNames[k] }

func parseKind(s string) (opKind, error) {
	for i, n := range kindNames {
		if n == s {
			return opKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown operation %q", s)
}

// input is one operation's request: set stores a, add adds a, cas stores b
// if the value is a.
type input struct {
	kind opKind
	key  string
	a, b int64
}

func (in input) String() string {
	switch in.kind {
	case opSet, opAdd:
		return fmt.Sprintf("%s(%s, %d)", in.kind, in.key, in.a)
	case opCAS:
		return fmt.Sprintf("cas(%s, %d, %d)", in.key, in.a, in.b)
	}
	return fmt.Sprintf("get(%s)", in.key)
}

// output is one operation's reply: get and add return val, cas returns ok.
// known is false when no reply came.
type output struct {
	known bool
	val   int64
	ok    bool
}

func (out output) describe(k opKind) string {
	switch {
	case !out.known:
		return "?"
	case k == opGet, k == opAdd:
		return strconv.FormatInt(out.val, 10)
	case k == opCAS:
		return strconv.FormatBool(out.ok)
	}
	return "ok"
}

// step is the sequential specification of one variable (an int64 register)
// for an operation that returned: whether it could return out in state, and
// the state after.
func step(state int64, in input, out output) (bool, int64) {
	switch in.kind {
	case opGet:
		return out.val == state, state
	case opSet:
		return true, in.a
	case opAdd:
		return out.val == state+in.a, state + in.a
	case opCAS:
		swap := state == in.a
		if out.ok != swap {
			return false, state
		}
		if swap {
			return true, in.b
		}
		return true, state
	}
	return false, state
}

// next lists the states an operation may leave. One without a reply may
// have taken effect or not: both states are possible.
func next(state int64, in input, out output) []any {
	if !out.known {
		_, after := step(state, in, output{val: state + in.a, ok: state == in.a})
		if after == state {
			return []any{state}
		}
		return []any{state, after}
	}
	if ok, after := step(state, in, out); ok {
		return []any{after}
	}
	return nil
}

// model is the porcupine model: one register per variable, partitioned by
// variable. It is nondeterministic because an operation without a reply
// may or may not have happened; such an operation returns (at the latest)
// when the process that could apply it was seen dead, so "it never
// happened" must stay possible. Each round's history starts with a set of
// every variable, so the initial state does not matter.
var model = (&porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(input).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{int64(0)} },
	Step: func(state, in, out any) []any {
		return next(state.(int64), in.(input), out.(output))
	},
	Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
	Hash:  func(s any) uint64 { return uint64(s.(int64)) },
	DescribeOperation: func(in, out any) string {
		i := in.(input)
		return i.String() + " -> " + out.(output).describe(i.kind)
	},
	DescribeState: func(state any) string { return strconv.FormatInt(state.(int64), 10) },
}).ToModel()

// now is the host's monotonic clock in nanoseconds: the same clock in every
// process, so that the instants that different processes record compare.
func now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot fail on Linux
	}
	return ts.Nano()
}

// pending is an operation without a reply. Its return instant is decided
// when the history is closed: bound() is when the process that could still
// apply it was seen dead, or false if it never was.
type pending struct {
	op    porcupine.Operation
	bound func() (int64, bool)
}

// history collects the operations of one round.
type history struct {
	done []porcupine.Operation
	open []pending
}

func (h *history) add(client int, in input, call int64, out output, ret int64) {
	h.done = append(h.done, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (h *history) addPending(client int, in input, call int64, bound func() (int64, bool)) {
	if in.kind == opGet {
		return // a read without a reply constrains nothing
	}
	h.open = append(h.open, pending{op: porcupine.Operation{ClientId: client, Input: in, Call: call, Output: output{}}, bound: bound})
}

func (h *history) merge(o *history) {
	h.done = append(h.done, o.done...)
	h.open = append(h.open, o.open...)
}

// close returns the whole history: every pending operation returns at its
// bound, or after everything else when it has none.
func (h *history) close() []porcupine.Operation {
	end := int64(0)
	for _, op := range h.done {
		end = max(end, op.Return)
	}
	out := append([]porcupine.Operation(nil), h.done...)
	for _, p := range h.open {
		op := p.op
		op.Return = end + 1
		if t, ok := p.bound(); ok {
			op.Return = max(t, op.Call)
		}
		out = append(out, op)
	}
	return out
}

// counts reports how many operations of each kind the history holds, and
// how many had no reply.
func counts(ops []porcupine.Operation) string {
	var n [len(kindNames)]int
	unknown := 0
	for _, op := range ops {
		n[op.Input.(input).kind]++
		if !op.Output.(output).known {
			unknown++
		}
	}
	var b strings.Builder
	for k, c := range n {
		fmt.Fprintf(&b, "%s %d, ", opKind(k), c)
	}
	fmt.Fprintf(&b, "no reply %d", unknown)
	return b.String()
}
