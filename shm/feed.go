package shm

import (
	"context"
	"sync/atomic"
	"time"
)

// The change feed tells a watcher which variables changed, whoever changed
// them, without polling. While anybody watches (the watcher count in the
// control block is not zero), every publish appends the slot to a ring in the
// control block and moves the feed sequence, whose low 32 bits are a futex
// word. A watcher that falls more than a ring behind, or catches an entry
// being overwritten, compares every slot's version and incarnation with the
// ones it saw last: it may miss intermediate values, never the latest one.
//
// A slot's version rises with every change within one incarnation of its
// variable. A new incarnation (a delete and a create, or an Install that
// replaces a variable with a version that does not rise) may start lower,
// so the feed tells a change by a higher version or another incarnation.
const (
	ctlFeedSeq      = 128 // uint64: changes appended
	ctlFeedWatchers = 136 // uint32: feeds open, in any process
	ctlFeedSleepers = 140 // uint32: feeds asleep on the sequence
	ctlSpill        = 144 // lockd's spill record, 8 bytes
	ctlFeedRing     = 256 // ring entries: uint64 seq+1, uint32 slot, uint32 pad
	feedEntry       = 16
	feedRing        = (pageSize - ctlFeedRing) / feedEntry
)

func (m *Memory) feedSeq() *uint64      { return m.u64(controlPage*pageSize + ctlFeedSeq) }
func (m *Memory) feedWatchers() *uint32 { return m.u32(controlPage*pageSize + ctlFeedWatchers) }
func (m *Memory) feedSlot(i uint64) uint64 {
	return controlPage*pageSize + ctlFeedRing + (i%feedRing)*feedEntry
}

// feedAppend records a change of slot s; publish calls it while watched.
func (m *Memory) feedAppend(s uint32) {
	i := atomic.AddUint64(m.feedSeq(), 1) - 1
	e := m.feedSlot(i)
	atomic.StoreUint32(m.u32(e+8), s)
	atomic.StoreUint64(m.u64(e), i+1)
	if atomic.LoadUint32(m.u32(controlPage*pageSize+ctlFeedSleepers)) != 0 {
		m.proc.WakeWord(m.u32(controlPage*pageSize + ctlFeedSeq))
	}
}

// A Change is one variable's state after it changed. Item.Found is false
// if the change deleted it, or if its value is damaged: then Err is the
// damage (it wraps ErrDamaged and names the slot), and the change is no
// deletion.
type Change struct {
	Name []byte
	Item Item
	Err  error
}

// A Feed reports the changes to every variable of the memory, made by any
// process. It must be closed with Close. A Feed is used by one goroutine.
type Feed struct {
	m      *Memory
	next   uint64              // the next feed sequence to read
	seen   map[uint32]feedMark // slot -> state last reported or known
	closed bool
}

// feedMark is a slot's state as a feed last knew it.
type feedMark struct {
	ver uint64
	inc uint32
}

// markOf returns slot s's state now.
func (m *Memory) markOf(s uint32) feedMark {
	return feedMark{ver: atomic.LoadUint64(m.version(s)), inc: atomic.LoadUint32(m.stateWord(s)) & incMask}
}

// after reports whether k is a later state of the slot than the one o
// marks: a higher version, or another incarnation.
func (k feedMark) after(o feedMark) bool {
	return k.inc != o.inc || k.ver > o.ver
}

// Feed opens a change feed starting now.
func (m *Memory) Feed() (*Feed, error) {
	if !m.enter() {
		return nil, ErrClosed
	}
	defer m.life.RUnlock()
	atomic.AddUint32(m.feedWatchers(), 1)
	f := &Feed{m: m, seen: make(map[uint32]feedMark)}
	f.next = atomic.LoadUint64(m.feedSeq())
	f.snapshot()
	return f, nil
}

// snapshot notes every slot's state, the basis of a rescan.
func (f *Feed) snapshot() {
	for s := uint32(0); s < f.m.meta.vars; s++ {
		if k := f.m.markOf(s); k != (feedMark{}) {
			f.seen[s] = k
		}
	}
}

// Close stops the feed.
func (f *Feed) Close() {
	if !f.closed && f.m.enter() {
		defer f.m.life.RUnlock()
		atomic.AddUint32(f.m.feedWatchers(), ^uint32(0))
	}
	f.closed = true
}

// Next waits for changes and returns them, at most one per variable (its
// latest state), in slot order within a rescan and in feed order otherwise.
// It returns ctx.Err() when ctx ends.
func (f *Feed) Next(ctx context.Context) ([]Change, error) {
	m := f.m
	if !m.enter() {
		return nil, ErrClosed
	}
	defer m.life.RUnlock()
	for {
		if m.closed.Load() {
			return nil, ErrClosed
		}
		seq := atomic.LoadUint64(m.feedSeq())
		if seq != f.next {
			if out := f.collect(seq); len(out) > 0 {
				return out, nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Count ourselves asleep before the last look at the sequence, so
		// an appender either sees us or we see its append.
		sleepers := m.u32(controlPage*pageSize + ctlFeedSleepers)
		atomic.AddUint32(sleepers, 1)
		if atomic.LoadUint64(m.feedSeq()) == seq {
			m.proc.WaitWord(ctx, m.u32(controlPage*pageSize+ctlFeedSeq), uint32(seq), time.Second)
		}
		atomic.AddUint32(sleepers, ^uint32(0))
	}
}

// collect gathers the slots changed in [f.next, seq) and reads their state.
func (f *Feed) collect(seq uint64) []Change {
	m := f.m
	var slots []uint32
	lost := seq-f.next > feedRing
	for i := f.next; i < seq && !lost; i++ {
		e := m.feedSlot(i)
		if atomic.LoadUint64(m.u64(e)) != i+1 {
			lost = true // overwritten, or its writer is between its two stores
			break
		}
		slots = append(slots, atomic.LoadUint32(m.u32(e+8)))
		if atomic.LoadUint64(m.u64(e)) != i+1 {
			lost = true
		}
	}
	f.next = seq
	if lost {
		slots = slots[:0]
		for s := uint32(0); s < m.meta.vars; s++ {
			if m.markOf(s) != f.seen[s] {
				slots = append(slots, s)
			}
		}
	}
	var out []Change
	for _, s := range slots {
		if s >= m.meta.vars {
			continue
		}
		if c, ok := f.read(s); ok {
			out = append(out, c)
		}
	}
	return out
}

// read returns slot s's state if its version moved past the one reported.
func (f *Feed) read(s uint32) (Change, bool) {
	m := f.m
	for {
		state := atomic.LoadUint32(m.stateWord(s))
		name := append([]byte(nil), m.name(s)...)
		r := ref{slot: s, inc: state & incMask}
		it := Item{Version: atomic.LoadUint64(m.version(s))}
		if state&stateLive != 0 {
			var ok bool
			if it, ok = m.read(r); !ok {
				continue
			}
		}
		k := feedMark{ver: it.Version, inc: state & incMask}
		if !k.after(f.seen[s]) {
			return Change{}, false
		}
		f.seen[s] = k
		if atomic.LoadUint32(m.stateWord(s)) != state {
			continue
		}
		return Change{Name: name, Item: it, Err: it.err}, true
	}
}
