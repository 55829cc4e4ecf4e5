package lockd

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Sizes of the records that live in the mapping.
const (
	// LockSize is the size of one lock record: the state word, the wake
	// sequence (the futex word) and the count of sleepers.
	LockSize = 16
	// ProcSize is the size of one process slot.
	ProcSize = 64
	// laneHeader is the size of a lane's header; entries follow it.
	laneHeader = 64
	entrySize  = 16
)

// LaneSize is the size of one lane with room for n entries.
func LaneSize(n int) uint64 { return laneHeader + uint64(n)*entrySize }

// Layout says where the lock space's tables are.
type Layout struct {
	Procs       int    // process slots, 1..MaxProcs
	Lanes       int    // lanes per process slot, >= 1
	LaneEntries int    // entries per lane: the most locks one lane may hold, plus one
	ProcsOff    uint64 // offset of the process table in the mapping (8-aligned)
	LanesOff    uint64 // offset of the lane table in the mapping (8-aligned)
	LivenessOff int64  // file offset of the liveness bytes, one per process slot
	// SpillOff is the offset of the 8-byte spill record (8-aligned): the
	// spill sequence and the count of spilled waiters (see parker).
	SpillOff uint64
	// Locks lists every lock record of the space. Attach sweeps them for
	// holds left by earlier attachments of the slot it claims: an owner
	// name carries only part of the slot's generation, so such a hold,
	// left alone, would one day carry the new attachment's very name.
	Locks []LockRange
}

// A LockRange is Count lock records, Stride bytes apart from Off on.
type LockRange struct {
	Off    uint64
	Count  int
	Stride uint64
}

// ProcTableSize is the size of the process table.
func (l Layout) ProcTableSize() uint64 { return uint64(l.Procs) * ProcSize }

// LaneTableSize is the size of the lane table.
func (l Layout) LaneTableSize() uint64 {
	return uint64(l.Procs) * uint64(l.Lanes) * LaneSize(l.LaneEntries)
}

func (l Layout) check(memLen int) error {
	switch {
	case l.Procs < 1 || l.Procs > MaxProcs:
		return fmt.Errorf("%w: %d process slots", ErrLayout, l.Procs)
	case l.Lanes < 1 || l.LaneEntries < 2:
		return fmt.Errorf("%w: %d lanes of %d entries", ErrLayout, l.Lanes, l.LaneEntries)
	case l.ProcsOff%8 != 0 || l.LanesOff%8 != 0:
		return fmt.Errorf("%w: unaligned tables", ErrLayout)
	case l.ProcsOff+l.ProcTableSize() > uint64(memLen) || l.LanesOff+l.LaneTableSize() > uint64(memLen):
		return fmt.Errorf("%w: tables end past the mapping", ErrLayout)
	case l.SpillOff%8 != 0 || l.SpillOff+8 > uint64(memLen):
		return fmt.Errorf("%w: spill record at %d", ErrLayout, l.SpillOff)
	}
	for _, r := range l.Locks {
		if r.Count < 0 || r.Off%8 != 0 || (r.Count > 1 && (r.Stride < LockSize || r.Stride%8 != 0)) {
			return fmt.Errorf("%w: lock range %+v", ErrLayout, r)
		}
		if r.Count > 0 && r.Off+uint64(r.Count-1)*r.Stride+LockSize > uint64(memLen) {
			return fmt.Errorf("%w: lock range %+v ends past the mapping", ErrLayout, r)
		}
	}
	return nil
}

// RepairFunc is called when a write lock is taken over from a holder that
// died, before the lock is released. aux is the value the holder recorded
// for the lock with Lane.SetAux (0 if none) and committed tells whether the
// holder's lane had reached its commit point. The callback runs with the
// write lock held and must not take other locks.
type RepairFunc func(l Lock, aux uint64, committed bool)

// Options configure an attachment. The zero value is usable.
type Options struct {
	// Repair is called for every write lock taken from a dead holder.
	Repair RepairFunc
	// MaxSleepers bounds the goroutines of this process sleeping in the
	// kernel at once; 0 means 64.
	MaxSleepers int
	// Poll is how often a waiter wakes to check that the holders it waits
	// for are alive; 0 means 100ms.
	Poll time.Duration
}

// Process slot fields.
const (
	procPid     = 0
	procGen     = 4
	procState   = 8
	procStarted = 16
	procSwept   = 24 // the generation at the last sweep (see claim)

	procFree     = 0
	procAttached = 1
)

// Lane header fields.
const (
	laneGen       = 0
	laneN         = 4
	laneCommitted = 8
)

// Entry modes, in the low bits of an entry's key (lock offsets are 8-aligned).
const (
	modeRead  = 1
	modeWait  = 2
	modeWrite = 3
	modeMask  = 7
)

// Proc is one attachment of a process to a lock space: it owns a process
// slot, and with it a set of lanes, until Detach. A Proc is safe for
// concurrent use by many goroutines. It must not be copied.
type Proc struct {
	f      *os.File
	mem    []byte
	base   unsafe.Pointer // &mem[0]; offsets are checked once, in Attach
	lay    Layout
	slot   int
	gen    uint32
	owner  Owner
	repair RepairFunc
	poll   time.Duration
	park   *parker
	lanes  chan *Lane // the lanes no goroutine has borrowed
	// waiters holds the lanes shared by writers that wait without one.
	waiters waitLanes

	recMu      sync.Mutex // serializes recoveries started by this Proc
	detachOnce sync.Once
	detached   atomic.Bool
}

// Attach claims a free process slot in the lock space that mem (a shared
// mapping of f) holds at lay. A slot whose previous owner died is recovered
// before it is reused. The Proc must be released with Detach.
func Attach(f *os.File, mem []byte, lay Layout, opt Options) (*Proc, error) {
	if err := lay.check(len(mem)); err != nil {
		return nil, err
	}
	p := &Proc{f: f, mem: mem, base: unsafe.Pointer(&mem[0]), lay: lay, repair: opt.Repair, poll: opt.Poll}
	if p.poll <= 0 {
		p.poll = 100 * time.Millisecond
	}
	if opt.MaxSleepers <= 0 {
		opt.MaxSleepers = 64
	}
	p.park = newParker(opt.MaxSleepers, word32(mem, lay.SpillOff), word32(mem, lay.SpillOff+4))
	for slot := 0; slot < lay.Procs; slot++ {
		ok, err := ofdLock(f, lay.LivenessOff+int64(slot))
		if err != nil {
			return nil, fmt.Errorf("lockd: claim process slot: %w", err)
		}
		if ok {
			p.claim(slot)
			return p, nil
		}
	}
	return nil, ErrNoSlot
}

// claim makes slot ours; we hold its liveness byte. Whatever a dead previous
// owner left behind is recovered first, then the generation moves on so that
// its remaining holds are recognised as dead by everybody.
func (p *Proc) claim(slot int) {
	p.slot = slot
	old := p.procGen(slot)
	p.gen = old + 1
	p.owner = makeOwner(slot, p.gen)
	p.recoverLanes(slot, makeOwner(slot, old))
	if swept := p.procWord(slot, procSwept); p.gen-atomic.LoadUint32(swept) >= sweepEvery {
		p.sweep(slot)
		atomic.StoreUint32(swept, p.gen)
	}
	atomic.StoreUint32(p.procWord(slot, procGen), p.gen)
	atomic.StoreUint32(p.procWord(slot, procPid), uint32(os.Getpid()))
	atomic.StoreUint64(word64(p.mem, p.procOff(slot)+procStarted), uint64(time.Now().UnixNano()))
	atomic.StoreUint32(p.procWord(slot, procState), procAttached)
	p.lanes = make(chan *Lane, p.lay.Lanes)
	for i := 0; i < p.lay.Lanes; i++ {
		ln := &Lane{p: p, off: p.laneOff(slot, i)}
		atomic.StoreUint32(ln.word(laneGen), p.gen)
		p.lanes <- ln
	}
}

// sweepEvery is how far a slot's generation may move between sweeps. A
// hold left behind carries the generation of its attachment modulo 128 and
// is mistaken for a live one only once the generation has moved on by 128;
// a claim moves it by at most 3 (a detach or a recovery, and the claim), so
// sweeping when it has moved 64 past the last sweep keeps that from
// happening, and spares most attaches a walk over every lock, which on a
// cold page cache reads the whole file.
const sweepEvery = 64

// sweep releases every hold that names slot, which we now own: whoever
// took it (any earlier attachment of the slot) is gone. Holds in lanes were
// repaired by recoverLanes; these are the ones recorded in no lane.
func (p *Proc) sweep(slot int) {
	for _, r := range p.lay.Locks {
		for i := 0; i < r.Count; i++ {
			l := Lock(r.Off + uint64(i)*r.Stride)
			st := p.load(l)
			if st.writer() && st.writerOwner().Slot() == slot {
				p.reclaimWrite(l, st.writerOwner(), 0, false)
			}
			if st = p.load(l); st.guarded() && st.guardOwner().Slot() == slot {
				p.takeGuardFrom(l, st.guardOwner())
				p.recountLocked(l, -1)
			}
		}
	}
}

// Detach gives the slot back. Holds still open are left to recovery: the
// generation moves on, so waiters reclaim them as a dead holder's.
func (p *Proc) Detach() error {
	var err error
	p.detachOnce.Do(func() {
		p.detached.Store(true)
		atomic.StoreUint32(p.procWord(p.slot, procState), procFree)
		atomic.StoreUint32(p.procWord(p.slot, procPid), 0)
		atomic.StoreUint32(p.procWord(p.slot, procGen), p.gen+1)
		err = ofdUnlock(p.f, p.lay.LivenessOff+int64(p.slot))
	})
	return err
}

// Owner is this attachment's owner name, as it appears in lock words.
func (p *Proc) Owner() Owner { return p.owner }

// Slot is this attachment's process slot.
func (p *Proc) Slot() int { return p.slot }

func (p *Proc) procOff(slot int) uint64 { return p.lay.ProcsOff + uint64(slot)*ProcSize }
func (p *Proc) procWord(slot int, field uint64) *uint32 {
	return word32(p.mem, p.procOff(slot)+field)
}
func (p *Proc) procGen(slot int) uint32 { return atomic.LoadUint32(p.procWord(slot, procGen)) }
func (p *Proc) laneOff(slot, i int) uint64 {
	return p.lay.LanesOff + uint64(slot*p.lay.Lanes+i)*LaneSize(p.lay.LaneEntries)
}

// ProcInfo describes one process slot.
type ProcInfo struct {
	Slot     int
	Pid      int
	Attached bool
	Started  time.Time
}

// Procs lists the attached process slots.
func (p *Proc) Procs() []ProcInfo {
	var out []ProcInfo
	for s := 0; s < p.lay.Procs; s++ {
		if atomic.LoadUint32(p.procWord(s, procState)) != procAttached {
			continue
		}
		ns := atomic.LoadUint64(word64(p.mem, p.procOff(s)+procStarted))
		out = append(out, ProcInfo{Slot: s, Pid: int(atomic.LoadUint32(p.procWord(s, procPid))),
			Attached: true, Started: time.Unix(0, int64(ns))})
	}
	return out
}

// PidOf returns the pid recorded in an owner's slot, or 0 if the owner is
// not the slot's current generation.
func (p *Proc) PidOf(o Owner) int {
	s := o.Slot()
	if s >= p.lay.Procs || p.procGen(s)&genMask != o.Gen() {
		return 0
	}
	return int(atomic.LoadUint32(p.procWord(s, procPid)))
}

// TryAcquireLane borrows one of this attachment's lanes if one is free,
// and returns nil otherwise. The lane must be returned with Release.
func (p *Proc) TryAcquireLane() *Lane {
	if p.detached.Load() {
		return nil
	}
	select {
	case ln := <-p.lanes:
		return ln
	default:
		return nil
	}
}

// AcquireLane borrows one of this attachment's lanes. It waits for one if
// all are in use; if ctx ends first, the error wraps both ErrNoLane and
// ctx.Err(). The lane must be returned with Release.
func (p *Proc) AcquireLane(ctx context.Context) (*Lane, error) {
	if p.detached.Load() {
		return nil, ErrDetached
	}
	select {
	case ln := <-p.lanes:
		return ln, nil
	default:
	}
	select {
	case ln := <-p.lanes:
		return ln, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: all %d of this attachment are in use: %w", ErrNoLane, p.lay.Lanes, ctx.Err())
	}
}
