package shm

import (
	"bytes"
	"fmt"
	"sync/atomic"
)

// A RedoLog receives a record of every write made through this Memory
// (not through other processes' Memories), so that its owner can make the
// writes durable by appending them to a log instead of flushing the
// mapping's scattered pages. The daemon's redo log (internal/redolog) is one;
// the redo log is not part of the memory file's format.
//
// Append is called once per operation: with one record for a write of one
// variable, and with all of a group's records in one call for MSet and
// LockGroup.Commit. It is called after the values are in the mapping and
// published, while the operation still holds the variables' write locks, so
// the records of a variable reach the redo log in the order of its
// versions, and a group is one unit. The names and values in recs are
// valid only during the call: the redo log copies what it keeps. Append must
// not call back into the Memory.
type RedoLog interface {
	Append(recs []Record)
}

// Record is one write as a RedoLog sees it.
type Record struct {
	Name    []byte
	Value   Value  // the new value; no value for a delete
	Version uint64 // the variable's version after the write
	// Slot and Inc say where the variable lived: its slot and the slot's
	// incarnation. Versions count per slot, so a variable deleted and
	// created again may start from a lower version in another slot;
	// Restore compares incarnations first to tell a newer state from an
	// older one.
	Slot    uint32
	Inc     uint32
	Deleted bool // the variable was deleted (its slot freed)
}

// redoBox holds the RedoLog for an atomic pointer.
type redoBox struct{ l RedoLog }

// SetRedoLog makes l receive the records of this Memory's writes from now
// on; nil stops it. Without a redo log the write paths pay one atomic load.
func (m *Memory) SetRedoLog(l RedoLog) {
	if l == nil {
		m.redo.Store(nil)
		return
	}
	m.redo.Store(&redoBox{l: l})
}

// redoOne records a write of one variable; the caller holds its lock.
func (m *Memory) redoOne(r ref, name []byte, v Value, version uint64) {
	if b := m.redo.Load(); b != nil {
		if name == nil {
			name = m.name(r.slot)
		}
		b.l.Append([]Record{{Name: name, Value: v, Version: version, Slot: r.slot, Inc: r.inc}})
	}
}

// redoDelete records the deletion of r; the caller holds its lock.
func (m *Memory) redoDelete(r ref, name []byte) {
	if b := m.redo.Load(); b != nil {
		ver := atomic.LoadUint64(m.version(r.slot))
		b.l.Append([]Record{{Name: name, Version: ver, Slot: r.slot, Inc: r.inc, Deleted: true}})
	}
}

// redoOn reports whether a redo log is set, for paths that build several
// records.
func (m *Memory) redoOn() (RedoLog, bool) {
	if b := m.redo.Load(); b != nil {
		return b.l, true
	}
	return nil, false
}

// Restore brings variables forward to the states recs describe, where the
// mapping holds older states; it is how a redo log is replayed after a
// crash. recs holds at most one record per name: the last one the redo log
// has of it. Restore reports how many records changed something.
//
// Each record is judged against the mapping as it is at the call, before
// any is applied (applying one may allocate a slot another names). The
// mapping's state of a variable is older than its record when the record's
// slot has not yet reached the record's incarnation (the write that made
// the variable there is not in the mapping), or has reached it with a lower
// version. It is newer, and the record is ignored, when the slot has moved
// past that incarnation (the variable was deleted afterwards, and perhaps
// the slot reused) or holds the same or a higher version. In the same
// incarnation the value is stored at exactly the record's version;
// otherwise it is stored by name, as a write would, at the record's version
// or the next version of wherever the name lives, whichever is higher. A
// delete record removes the variable.
//
// So a replay never moves a variable back, whether the mapping on disk is
// older than the redo log (a power loss) or newer (the process was killed
// with records still unwritten). Restore is meant for a daemon starting up,
// before it serves; it does not call the redo log.
func (m *Memory) Restore(recs []Record) (applied int, err error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	if err := m.refuseReplicated("Restore"); err != nil {
		return 0, err
	}
	same, byName := make([]Record, 0, len(recs)), make([]Record, 0)
	for _, rec := range recs {
		isSame, skip, err := m.judge(rec)
		switch {
		case err != nil:
			return 0, err
		case skip:
		case isSame:
			same = append(same, rec)
		default:
			byName = append(byName, rec)
		}
	}
	for _, rec := range same {
		ok, err := m.restoreSame(rec)
		if err != nil {
			return applied, err
		}
		applied += b2i(ok)
	}
	for _, rec := range byName {
		ok, err := m.restoreByName(rec)
		if err != nil {
			return applied, err
		}
		applied += b2i(ok)
	}
	return applied, nil
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// judge tells how rec relates to the mapping: the same incarnation of its
// variable is live in its slot (same), or the slot has moved past it
// (skip), or else the mapping is older and rec is applied by name.
func (m *Memory) judge(rec Record) (same, skip bool, err error) {
	if err := m.checkName(rec.Name); err != nil {
		return false, false, err
	}
	if rec.Value.Valid() {
		if err := m.checkValue(rec.Value); err != nil {
			return false, false, err
		}
	}
	if rec.Slot >= m.meta.vars {
		return false, false, fmt.Errorf("%w: the record of %q names slot %d of %d", ErrRedoRecord, rec.Name, rec.Slot, m.meta.vars)
	}
	state := atomic.LoadUint32(m.stateWord(rec.Slot))
	switch d := (state&incMask - rec.Inc) & incMask; {
	case d == 0 && state&stateLive != 0:
		if !bytes.Equal(m.name(rec.Slot), rec.Name) {
			return false, false, fmt.Errorf("%w: the record of %q names slot %d, which holds %q", ErrRedoRecord, rec.Name, rec.Slot, m.name(rec.Slot))
		}
		return true, false, nil
	case d != 0 && d < incMask/2:
		return false, true, nil // the slot moved past rec's incarnation
	}
	return false, false, nil
}

// restoreSame applies rec to the variable of its own slot and incarnation.
func (m *Memory) restoreSame(rec Record) (bool, error) {
	r := ref{slot: rec.Slot, inc: rec.Inc}
	if rec.Deleted {
		return m.delete(rec.Name)
	}
	applied, _, err := m.restoreRef(r, rec, true)
	return applied, err
}

// restoreByName applies rec to the variable of its name, wherever it lives.
func (m *Memory) restoreByName(rec Record) (bool, error) {
	if rec.Deleted {
		return m.delete(rec.Name)
	}
	for {
		r, found, err := m.resolve(rec.Name, rec.Value.Valid())
		if err != nil || !found {
			return false, err
		}
		if applied, ok, err := m.restoreRef(r, rec, false); ok {
			return applied, err
		}
	}
}

// restoreRef stores rec's value in r under r's write lock: at exactly
// rec.Version if exact (and only if that is newer), else at rec.Version or
// the next version, whichever is higher (so that a version a client saw
// before the crash comes back with its value, not another). ok is false if
// r was deleted first.
func (m *Memory) restoreRef(r ref, rec Record, exact bool) (applied, ok bool, err error) {
	l := m.lockOf(r.slot)
	if err := m.proc.Lock(background, l); err != nil {
		return false, true, err
	}
	defer m.proc.Unlock(l)
	if !m.valid(r) {
		return false, false, nil
	}
	cur := atomic.LoadUint64(m.version(r.slot))
	next := max(cur+1, rec.Version)
	if exact {
		if cur >= rec.Version {
			return false, true, nil
		}
		next = rec.Version
	}
	if (next-cur)%2 == 0 {
		// next selects the current buffer, which a reader may be copying:
		// pass through the spare one first.
		if err := m.commitOne(r.slot, cur+1, &rec.Value); err != nil {
			return false, true, err
		}
	}
	if err := m.commitOne(r.slot, next, &rec.Value); err != nil {
		return false, true, err
	}
	return true, true, nil
}
