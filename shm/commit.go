package shm

import (
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// A write is one variable's part of a commit: val is to become the slot's
// value at version ver.
type write struct {
	slot uint32
	ver  uint64
	val  *Value
}

// commit makes the writes ws current; it is the one place where the
// crash-safe write sequence of doc.go (Model) is carried out, and where its
// failure points are passed. The caller holds the write locks of ws's
// slots, and each ver is above its slot's version.
//
// Each value goes first to the buffer its version selects, which no reader
// takes as current while the version is older (spare sees to it); storing the version is then
// the commit point of that variable, after which its waiters are woken and
// the change feed told. A crash before the store leaves the old value,
// after it the new one.
//
// For a group, ln is the lane that holds the locks (nil for a single
// variable): each new version is also recorded in the lane (SetAux), and
// the lane's commit point is set after every buffer is filled and before
// any version is stored. A crash before it leaves every old value; after
// it, recovery stores the versions not yet stored (Memory.repair).
//
// In format 2 every spare cell is prepared first (its value block taken,
// or freed: see prepare), so that a file whose heap is full fails the
// group (ErrFull) before any value changed.
func (m *Memory) commit(ln *lockd.Lane, ws []write) error {
	for i := range ws {
		if err := m.spare(&ws[i]); err != nil {
			return err
		}
	}
	for i := range ws {
		if err := m.prepare(ws[i].slot, ws[i].ver, ws[i].val); err != nil {
			return err
		}
	}
	for i := range ws {
		m.stage(&ws[i])
		if ln != nil {
			ln.SetAux(m.lockOf(ws[i].slot), ws[i].ver)
			failpoint(FailGroupHalf)
		}
	}
	if ln != nil {
		ln.Commit()
	}
	for i := range ws {
		m.publish(&ws[i])
		if ln != nil {
			failpoint(FailGroupCommitted)
		}
	}
	if ln != nil {
		ln.Uncommit()
	}
	return nil
}

// spare makes the buffer w's version selects the spare one. A version
// one above the slot's does; only a variable created at a group's create
// version (LockGroup.SetCreateVersion) can take a version further above,
// and if its parity selects the current buffer, which a reader may be
// copying, the slot first passes through the next version, still without
// a value (a created variable has none). That step is a write of its own,
// before the group's commit point: a crash after it leaves the variable
// without a value, one version on.
func (m *Memory) spare(w *write) error {
	if cur := atomic.LoadUint64(m.version(w.slot)); (w.ver-cur)%2 == 0 {
		return m.commitOne(w.slot, cur+1, &Value{})
	}
	return nil
}

// commitOne is commit of one variable, without a lane: the same steps
// without the group's loops, since Add and Set are the hottest writes.
// It fails only in format 2, when the heap has no block for val
// (ErrFull), having changed nothing.
func (m *Memory) commitOne(s uint32, ver uint64, val *Value) error {
	if err := m.prepare(s, ver, val); err != nil {
		return err
	}
	w := write{slot: s, ver: ver, val: val}
	m.stage(&w)
	m.publish(&w)
	return nil
}

// stage fills the buffer that w's version selects: no reader takes it as
// current until the version is stored.
func (m *Memory) stage(w *write) {
	failpoint(FailBeforeValue)
	m.storeBuf(w.slot, w.ver, w.val)
	failpoint(FailValueWritten)
}

// publish stores w's version, the variable's commit point, then wakes its
// waiters and tells the change feed.
func (m *Memory) publish(w *write) {
	off := m.slotOff(w.slot)
	atomic.StoreUint64(m.u64(off+slotVersion), w.ver)
	if atomic.LoadUint32(m.u32(off+slotWaiters)) != 0 {
		m.proc.WakeWord(m.u32(off + slotVersion))
	}
	if atomic.LoadUint32(m.feedWatchers()) != 0 {
		m.feedAppend(w.slot)
	}
	failpoint(FailPublished)
}
