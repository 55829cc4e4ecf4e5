package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// AppliedName is the variable in which the FSM records the index of the
// last log entry it applied, in the same lock group as the entry's writes.
// It begins with a NUL byte and the prefix ReservedPrefix: the FSM refuses
// every replicated command that names a variable with that prefix, so no
// client can create or change it through the cluster, and the server hides
// the prefix from clients (KEYS, SCAN) and refuses it on its local paths.
const AppliedName = ReservedPrefix + "raft.applied"

// ReservedPrefix starts every variable name the cluster reserves for itself.
const ReservedPrefix = "\x00dsm."

// Reserved reports whether name is reserved for the cluster.
func Reserved(name []byte) bool {
	return bytes.HasPrefix(name, []byte(ReservedPrefix))
}

// Reply is what a replicated command returns to its proposer.
type Reply struct {
	// Stored reports whether SET, CAS or MSET stored.
	Stored bool
	// N is INCR's (and its kin's) new value, or how many variables DEL
	// removed.
	N int64
	// Old is SET ... GET's previous value (not Found if it had none).
	Old shm.Item
	// Index is the command's log index (set by Node.Propose): once a
	// node's FSM.Applied reaches it, the node's file holds the write.
	Index uint64
}

// exec runs one command's writes in g, which holds the write locks of the
// command's keys; it stages and never commits. A failing command stages
// nothing: each one validates before its first Set (shm's rules).
func exec(g *shm.LockGroup, args [][]byte) (Reply, error) {
	switch strings.ToUpper(string(args[0])) {
	case "SET":
		return execSet(g, args)
	case "INCR", "DECR", "INCRBY", "DECRBY":
		return execAdd(g, args)
	case "CAS":
		if len(args) != 4 {
			return Reply{}, fmt.Errorf("%w: CAS key old new", ErrSyntax)
		}
		ok, err := g.CompareAndSwap(args[1], shm.ParseValue(args[2]), shm.ParseValue(args[3]))
		return Reply{Stored: ok}, err
	case "MSET":
		return execMSet(g, args)
	case "DEL":
		return execDel(g, args)
	}
	return Reply{}, fmt.Errorf("%w: %q", ErrUnknownCommand, args[0])
}

func execSet(g *shm.LockGroup, args [][]byte) (Reply, error) {
	if len(args) < 3 {
		return Reply{}, fmt.Errorf("%w: SET key value [NX|XX] [GET]", ErrSyntax)
	}
	var o shm.SetOptions
	for _, a := range args[3:] {
		switch strings.ToUpper(string(a)) {
		case "NX":
			o.IfAbsent = true
		case "XX":
			o.IfExists = true
		case "GET":
		default:
			return Reply{}, fmt.Errorf("%w: SET option %q", ErrSyntax, a)
		}
	}
	if o.IfAbsent && o.IfExists {
		return Reply{}, fmt.Errorf("%w: SET with NX and XX", ErrSyntax)
	}
	old, stored, err := g.SetWith(args[1], shm.ParseValue(args[2]), o)
	return Reply{Stored: stored, Old: old}, err
}

func execAdd(g *shm.LockGroup, args [][]byte) (Reply, error) {
	name := strings.ToUpper(string(args[0]))
	by := strings.HasSuffix(name, "BY")
	if (by && len(args) != 3) || (!by && len(args) != 2) {
		return Reply{}, fmt.Errorf("%w: %s", ErrSyntax, name)
	}
	delta := int64(1)
	if by {
		d, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("%w: %s needs an integer", ErrSyntax, name)
		}
		delta = d
	}
	if strings.HasPrefix(name, "DECR") {
		if delta == -delta && delta != 0 {
			return Reply{}, fmt.Errorf("%w: decrement out of range", ErrSyntax)
		}
		delta = -delta
	}
	n, err := g.Add(args[1], delta)
	return Reply{N: n}, err
}

func execMSet(g *shm.LockGroup, args [][]byte) (Reply, error) {
	if len(args) < 3 || len(args)%2 == 0 {
		return Reply{}, fmt.Errorf("%w: MSET key value [key value ...]", ErrSyntax)
	}
	names := make([][]byte, 0, len(args)/2)
	vals := make([]shm.Value, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		names = append(names, args[i])
		vals = append(vals, shm.ParseValue(args[i+1]))
	}
	return Reply{Stored: true}, g.MSet(names, vals)
}

func execDel(g *shm.LockGroup, args [][]byte) (Reply, error) {
	if len(args) < 2 {
		return Reply{}, fmt.Errorf("%w: DEL key [key ...]", ErrSyntax)
	}
	var n int64
	seen := make(map[string]bool, len(args)-1)
	for _, k := range args[1:] {
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		it, err := g.Get(k)
		if err != nil {
			return Reply{}, err
		}
		if !it.Found {
			continue
		}
		if err := g.Delete(k); err != nil {
			return Reply{}, err
		}
		n++
	}
	return Reply{N: n}, nil
}

// keys lists the variables a command writes, each once, for its lock
// group. Every argument after the name is a key for DEL, every other one for
// MSET; the first for the rest.
func keys(args [][]byte) ([][]byte, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("%w: %q without a key", ErrSyntax, args[0])
	}
	var ks [][]byte
	switch strings.ToUpper(string(args[0])) {
	case "DEL":
		ks = args[1:]
	case "MSET":
		for i := 1; i < len(args); i += 2 {
			ks = append(ks, args[i])
		}
	default:
		ks = args[1:2]
	}
	out := make([][]byte, 0, len(ks)+1)
	seen := make(map[string]bool, len(ks))
	for _, k := range ks {
		if Reserved(k) {
			return nil, fmt.Errorf("%w: %q", ErrReservedName, k)
		}
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// applyEntry executes args and records index in AppliedName, all in one lock
// group, so data and applied index move together also across a crash. A
// command that fails (cmdErr) still advances the applied index, through a
// group of the index alone: every node fails it alike. err reports that the
// file could not be written at all; the node must then stop applying.
func applyEntry(m *shm.Memory, index uint64, args [][]byte) (r Reply, cmdErr, err error) {
	ks, cmdErr := keys(args)
	if cmdErr == nil {
		if _, known := commandNames[strings.ToUpper(string(args[0]))]; !known {
			cmdErr = fmt.Errorf("%w: %q", ErrUnknownCommand, args[0])
		}
	}
	if cmdErr != nil {
		return Reply{}, cmdErr, recordApplied(m, index)
	}
	g, err := m.Lock(bgctx, append(ks, []byte(AppliedName)), true, true)
	if err != nil {
		// Too many keys for one group, or a key too long: every node
		// refuses it alike.
		if errors.Is(err, shm.ErrTooMany) || errors.Is(err, shm.ErrFull) || errors.Is(err, shm.ErrNameTooLong) || errors.Is(err, shm.ErrEmptyName) {
			return Reply{}, err, recordApplied(m, index)
		}
		return Reply{}, nil, err
	}
	defer g.Unlock()
	if r, cmdErr = exec(g, args); cmdErr != nil {
		g.Unlock()
		return Reply{}, cmdErr, recordApplied(m, index)
	}
	if err := g.Set([]byte(AppliedName), shm.Int(int64(index))); err != nil {
		return Reply{}, nil, err
	}
	return r, nil, g.Commit()
}

// bgctx is for lock waits of the apply goroutine, which waits out local
// readers.
var bgctx = context.Background()

// commandNames are the replicated write commands.
var commandNames = map[string]struct{}{
	"SET": {}, "INCR": {}, "DECR": {}, "INCRBY": {}, "DECRBY": {},
	"CAS": {}, "MSET": {}, "DEL": {},
}

// recordApplied moves the applied index alone.
func recordApplied(m *shm.Memory, index uint64) error {
	g, err := m.Lock(bgctx, [][]byte{[]byte(AppliedName)}, true, true)
	if err != nil {
		return err
	}
	defer g.Unlock()
	if err := g.Set([]byte(AppliedName), shm.Int(int64(index))); err != nil {
		return err
	}
	return g.Commit()
}

// appliedIndex reads the applied index recorded in m; 0 if none.
func appliedIndex(m *shm.Memory) (uint64, error) {
	v, _, err := m.Get([]byte(AppliedName))
	if err != nil {
		if errors.Is(err, shm.ErrNotFound) {
			return 0, nil
		}
		return 0, err
	}
	n, ok := v.Int()
	if !ok || n < 0 {
		return 0, fmt.Errorf("%w: %q holds %v, not an index", ErrBadSnapshot, AppliedName, v)
	}
	return uint64(n), nil
}
