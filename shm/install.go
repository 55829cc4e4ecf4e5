package shm

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
)

// An Image is the whole content of a memory file, for Install: its
// variables, and the hash seed and capacities of the file it describes,
// which must be the target file's.
type Image struct {
	Seed                                  uint64
	Capacity, NameMax, ValueMax, GroupMax int
	// Vars are the variables, each name once, in any order. The slice
	// and what it refers to must not change during Install.
	Vars []ImageVar
}

// An ImageVar is one variable of an Image: its name, its value (not the
// zero Value) and its version (at least 1).
type ImageVar struct {
	Name    []byte
	Value   Value
	Version uint64
}

// Install replaces the whole content of the file, in place, with img:
// afterwards the file holds exactly img's variables, each with exactly its
// value and version, and nothing else. It has no GroupMax limit; img may
// hold as many variables as the file has room for. The file's hash seed
// and capacities must be img's (ErrImage otherwise, and for a malformed
// image); the file is not changed then.
//
// It is a whole-file write (see whole.go): it waits, until ctx ends, for
// every variable's lock as a writer, with writer priority, and for the
// index lock; it must not be called by a goroutine that holds a LockGroup
// or while Close may run. Readers in every process meanwhile see each
// variable, and every MGet, all old or all new.
//
// What it publishes: a variable whose value and version img repeats is
// left alone. Every other changed variable's new version is stored (its
// commit point) and waiters and change feeds are woken, as any write
// does. Versions rise within one incarnation of a variable, and img may
// give a variable a version that is not above its current one (a file
// ahead of or diverged from the image): Install then replaces the
// variable in a new incarnation, as a delete and a create would, so that
// no reader takes the value for one of the old versions. Wait on such a
// variable returns ErrNotFound (the variable it waited for ended; a Get
// finds the new one), and a Feed reports the new state. A variable not in
// img is deleted (its version moves on with no value, as Delete does).
// The redo log, if any, gets one record per variable written or deleted,
// in one call.
//
// Crash safety: the header is marked before the first change and cleared
// after the last is flushed to disk, so Install is durable when it
// returns. A crash in the middle leaves the mark, and the next Open
// refuses the file with ErrInstallIncomplete (see Config.AllowIncomplete
// and Incomplete); installing again completes it.
func (m *Memory) Install(ctx context.Context, img Image) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if err := m.refuseReplicated("Install"); err != nil {
		return err
	}
	if err := m.checkImage(&img); err != nil {
		return err
	}
	return m.whole(ctx, func() ([]Record, error) {
		recs, _, err := m.installLocked(img.Vars)
		return recs, err
	})
}

// Flush deletes every variable in one whole-file write (Install of an
// empty image, with the same locks, publishing and crash safety) and
// returns how many had a value. Every waiter on a variable wakes with
// ErrNotFound.
func (m *Memory) Flush(ctx context.Context) (int, error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	if err := m.refuseReplicated("Flush"); err != nil {
		return 0, err
	}
	var n int
	err := m.whole(ctx, func() ([]Record, error) {
		recs, dropped, err := m.installLocked(nil)
		n = dropped
		return recs, err
	})
	return n, err
}

// checkImage checks img against the file and itself.
func (m *Memory) checkImage(img *Image) error {
	mt := &m.meta
	switch {
	case img.Seed != mt.seed:
		return fmt.Errorf("%w: hash seed %#x, the file's is %#x", ErrImage, img.Seed, mt.seed)
	case img.Capacity != int(mt.vars) || img.NameMax != int(mt.nameMax) ||
		img.ValueMax != int(mt.valueMax) || img.GroupMax != int(mt.groupMax):
		return fmt.Errorf("%w: capacities %d vars, names %d, values %d, groups %d; the file's are %d, %d, %d, %d",
			ErrImage, img.Capacity, img.NameMax, img.ValueMax, img.GroupMax, mt.vars, mt.nameMax, mt.valueMax, mt.groupMax)
	case len(img.Vars) > int(mt.vars):
		return fmt.Errorf("%w: %d variables, the file holds %d", ErrImage, len(img.Vars), mt.vars)
	}
	seen := make(map[string]struct{}, len(img.Vars))
	for _, v := range img.Vars {
		if err := m.checkImageVar(v); err != nil {
			return err
		}
		if _, dup := seen[string(v.Name)]; dup {
			return fmt.Errorf("%w: %q is listed twice", ErrImage, v.Name)
		}
		seen[string(v.Name)] = struct{}{}
	}
	return nil
}

func (m *Memory) checkImageVar(v ImageVar) error {
	if err := m.checkName(v.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrImage, err)
	}
	switch {
	case !v.Value.Valid():
		return fmt.Errorf("%w: %q has no value", ErrImage, v.Name)
	case v.Version == 0:
		return fmt.Errorf("%w: %q has version 0", ErrImage, v.Name)
	}
	if err := m.checkValue(v.Value); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrImage, v.Name, err)
	}
	return nil
}

// installLocked makes vars the file's content; the caller holds every
// lock (whole). It keeps each named variable in the live slot that holds
// its name, deletes every other live variable, puts the names that have
// no slot into free ones, and rebuilds the index and the free list from
// the slots, all inside one index change: lookups of missing names wait
// for the end (see lookup). It returns the redo records and how many
// deleted variables had a value. It fails, leaving the install cut short
// (see whole), only in format 2 when the heap has no block for a value or
// a name (ErrFull).
func (m *Memory) installLocked(vars []ImageVar) ([]Record, int, error) {
	want := make(map[string]int, len(vars))
	for i, v := range vars {
		want[string(v.Name)] = i
	}
	at := make([]uint32, len(vars))
	kept := make([]bool, len(vars))
	var recs []Record
	dropped := 0
	m.beginIndexChange()
	defer m.endIndexChange()
	for s := uint32(0); s < m.meta.vars; s++ {
		state := atomic.LoadUint32(m.stateWord(s))
		if state&stateLive == 0 {
			continue
		}
		if m.nameDamage(s) == nil {
			if i, ok := want[string(m.name(s))]; ok && !kept[i] {
				at[i], kept[i] = s, true
				continue
			}
		}
		rec, had, err := m.dropLocked(ref{slot: s, inc: state & incMask})
		if err != nil {
			return recs, dropped, err
		}
		recs = append(recs, rec)
		dropped += b2i(had)
	}
	free := uint32(0)
	for i := range vars {
		v := &vars[i]
		if !kept[i] {
			for atomic.LoadUint32(m.stateWord(free))&stateLive != 0 {
				free++
			}
			at[i] = free
		}
		inc, changed, err := m.installVar(at[i], v, kept[i])
		if err != nil {
			m.reindex()
			return recs, dropped, err
		}
		if changed {
			recs = append(recs, Record{Name: v.Name, Value: v.Value, Version: v.Version, Slot: at[i], Inc: inc})
		}
		failpoint(FailInstalling)
	}
	m.reindex()
	return recs, dropped, nil
}

// dropLocked deletes live variable r as freeLocked does, but leaves the
// index and the free list to the rebuild at the end of the install.
func (m *Memory) dropLocked(r ref) (Record, bool, error) {
	cur := m.readLocked(r)
	name := bytes.Clone(m.name(r.slot)) // the slot may take another name
	atomic.StoreUint32(m.stateWord(r.slot), (r.inc+1)&incMask)
	ver, err := m.writeLocked(r, Value{})
	failpoint(FailInstalling)
	return Record{Name: name, Version: ver, Slot: r.slot, Inc: r.inc, Deleted: true}, cur.Found || cur.err != nil, err
}

// installVar gives slot s the value and version of v: s is live with v's
// name if live, else free. It returns the slot's incarnation and whether
// anything changed.
//
// The rule of doc.go holds: a buffer is written only while the version
// selects the other one, or while no reader can take it for current.
// A free slot has no readers (its incarnation moves on when it becomes
// live). A live slot's version rises to v's, through the next version
// first when v's selects the current buffer; a version that does not rise
// moves the incarnation on first, so that every reader that noted the old
// state starts again from the name.
func (m *Memory) installVar(s uint32, v *ImageVar, live bool) (uint32, bool, error) {
	state := atomic.LoadUint32(m.stateWord(s))
	inc := state & incMask
	cur := atomic.LoadUint64(m.version(s))
	if !live {
		inc, err := m.placeVar(s, v, (inc+1)&incMask)
		return inc, true, err
	}
	if cur == v.Version {
		if old := m.loadBuf(s, cur); old.kind == v.Value.kind && old.Equal(v.Value) {
			return inc, false, nil
		}
	}
	if v.Version <= cur {
		inc = (inc + 1) & incMask
		atomic.StoreUint32(m.stateWord(s), stateLive|inc)
	}
	if (v.Version-cur)%2 == 0 {
		if err := m.commitOne(s, cur+1, &v.Value); err != nil {
			return inc, true, err
		}
	}
	return inc, true, m.commitOne(s, v.Version, &v.Value)
}

// placeVar puts v into free slot s as incarnation inc: name, value, then
// live, then the version's store publishes it. The index is rebuilt after.
// A slot dropped by this install may still name blocks (format 2): they
// go first.
func (m *Memory) placeVar(s uint32, v *ImageVar, inc uint32) (uint32, error) {
	off := m.slotOff(s)
	m.releaseBlocks(s)
	if err := m.setName(s, v.Name); err != nil {
		return inc, err
	}
	atomic.StoreUint64(m.u64(off+slotHash), m.hash(v.Name))
	w := write{slot: s, ver: v.Version, val: &v.Value}
	if err := m.prepare(s, w.ver, w.val); err != nil {
		return inc, err
	}
	m.stage(&w)
	atomic.StoreUint32(m.stateWord(s), stateLive|inc)
	m.publish(&w)
	return inc, nil
}
