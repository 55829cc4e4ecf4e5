package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dsm-dev/dsm/internal/planted"
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

// Applier executes replicated commands: the cluster knows how to order,
// store and apply log entries, the Applier what a command means. The
// server supplies one built from its command table, so each command's
// semantics stay written once.
//
// The FSM calls Keys, checks the names (none reserved), locks them and
// AppliedName for writing as one lock group, calls Apply with that group,
// then commits the group itself: a command's writes and the applied index
// move together. Both methods must be deterministic, depending only on
// args and the variables the group holds, since every node applies the
// same entries and must end with the same file.
type Applier interface {
	// Keys lists the variables args may write (a name may repeat), or
	// fails for a command that is not replicated or is malformed; the
	// FSM then records the entry as applied, a failed command.
	Keys(args [][]byte) ([][]byte, error)
	// Apply stages args' writes in g, which holds the write locks of the
	// names Keys gave, and returns the reply for the proposer (opaque to
	// the cluster, such as the RESP reply). It must not commit or unlock
	// g. On error the FSM discards what Apply staged and records the
	// entry as applied, a failed command; a command that reports its
	// failure in its reply instead must stage nothing.
	Apply(g *shm.LockGroup, args [][]byte) (reply []byte, err error)
}

// Reply is what a replicated command returns to its proposer.
type Reply struct {
	// Data is the Applier's reply.
	Data []byte
	// Index is the command's log index (set by Node.Write and
	// Node.Propose): once a node's FSM.Applied reaches it, the node's
	// file holds the write.
	Index uint64
}

// keys asks a for the names args writes, refuses reserved ones and drops
// repeats, for the command's lock group.
func keys(a Applier, args [][]byte) ([][]byte, error) {
	ks, err := a.Keys(args)
	if err != nil {
		return nil, err
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

// refusedAlike reports whether shm.Lock's err comes from the names
// themselves (too many for one group, one too long or empty), so that
// every node refuses the command alike.
func refusedAlike(err error) bool {
	return errors.Is(err, shm.ErrTooMany) || errors.Is(err, shm.ErrFull) ||
		errors.Is(err, shm.ErrNameTooLong) || errors.Is(err, shm.ErrEmptyName)
}

// applyKeys executes args, whose names are ks (keys), through a and records index in AppliedName, all
// in one lock group, so data and applied index move together also across a
// crash; the variables it creates take CreateVersion(index). A command
// that fails (cmdErr) still advances the applied index, through a group of
// the index alone: every node fails it alike. err reports that the file
// could not be written at all; the node must then stop applying.
func applyKeys(m *shm.Memory, a Applier, index uint64, args, ks [][]byte) (reply []byte, cmdErr, err error) {
	g, err := m.Lock(bgctx, append(ks, []byte(AppliedName)), true, true)
	if err != nil {
		if refusedAlike(err) {
			return nil, err, recordApplied(m, index)
		}
		return nil, nil, err
	}
	defer g.Unlock()
	g.SetCreateVersion(CreateVersion(index))
	if reply, cmdErr = a.Apply(g, args); cmdErr != nil {
		g.Unlock() // discards what Apply staged
		return nil, cmdErr, recordApplied(m, index)
	}
	if err := g.Set([]byte(AppliedName), shm.Int(int64(index))); err != nil {
		return nil, nil, err
	}
	failpoint(FailApply)
	return reply, nil, g.Commit()
}

// bgctx is for lock waits of the apply goroutine, which waits out local
// readers.
var bgctx = context.Background()

// recordApplied moves the applied index alone.
func recordApplied(m *shm.Memory, index uint64) error {
	g, err := m.Lock(bgctx, [][]byte{[]byte(AppliedName)}, true, true)
	if err != nil {
		return err
	}
	defer g.Unlock()
	g.SetCreateVersion(CreateVersion(index))
	if err := g.Set([]byte(AppliedName), shm.Int(int64(index))); err != nil {
		return err
	}
	return g.Commit()
}

// CreateVersion is the version that the entry at index gives every
// variable it creates, on every node: 2*index. Versions count per slot in
// shm, and after a snapshot install a node's slots differ from the
// leader's (which slot holds which variable, the versions of the free
// ones), so a variable's first version must not come from its slot.
// Later changes count on from it alike everywhere, one per entry that
// writes the variable.
//
// It is safe, that is, above every version the new variable's slot ever
// had (a slot's versions must rise, and shm refuses the commit with
// shm.ErrCreateVersion otherwise), because once the entry at index i is
// applied no slot's version exceeds 2i+1, on any node:
//
//   - An entry is one lock group committed once, so it moves a slot by at
//     most two: one for its commit (a write, a delete), one more if the
//     group leaves the variable without a value and Unlock frees the slot
//     (a delete, a variable created only to be locked). A failed command
//     only frees, then moves AppliedName alone. A slot at most 2i-1
//     before entry i is at most 2i+1 after it, and a variable the entry
//     creates takes 2i, above 2i-1.
//   - A snapshot install at index S leaves its variables at the leader's
//     versions, at most 2S+1 by the same argument, and the node's own
//     slots at most one above their bound 2A+1 for its applied index
//     A < S (a dropped variable, AppliedName), so at most 2S+1 too.
//   - Raft indexes that apply nothing (no-ops, configuration) only widen
//     the margin.
//
// The factor 2 is what the free adds: with the index itself, a variable
// written by entry i-1 and deleted by entry i would leave its slot at
// i+1, and entry i+1 creating a variable there (the free list is last in,
// first out) would be refused.
func CreateVersion(index uint64) uint64 { return 2 * index }

// appliedIndex reads the applied index recorded in m; 0 if none.
func appliedIndex(m *shm.Memory) (uint64, error) {
	if planted.On(planted.RestartIgnoresApplied) {
		return 0, nil
	}
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
