package lockd

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// A Lock names a lock record of LockSize bytes at that offset of the
// mapping. The record is zero when the lock is free; shm places one in every
// variable.
type Lock uint64

// The words of a lock record. Lock offsets come from the caller's validated
// layout; they are used without bounds checks because they are on every
// operation's path.
func (p *Proc) stateWord(l Lock) *uint64 { return (*uint64)(unsafe.Add(p.base, uint64(l))) }
func (p *Proc) seqWord(l Lock) *uint32   { return (*uint32)(unsafe.Add(p.base, uint64(l)+8)) }
func (p *Proc) sleepWord(l Lock) *uint32 { return (*uint32)(unsafe.Add(p.base, uint64(l)+12)) }

func (p *Proc) load(l Lock) state { return state(atomic.LoadUint64(p.stateWord(l))) }
func (p *Proc) cas(l Lock, old, new state) bool {
	return atomic.CompareAndSwapUint64(p.stateWord(l), uint64(old), uint64(new))
}

// TryLock takes l for writing if it is free and nobody waits for it.
func (p *Proc) TryLock(l Lock) bool {
	return atomic.CompareAndSwapUint64(p.stateWord(l), 0, uint64(state(0).withWriter(p.owner)))
}

// Lock takes l for writing, waiting while readers or another writer hold it.
// A writer that has to wait registers itself, and from then on no new reader
// is admitted (writer priority). It returns ctx.Err() if ctx ends first.
func (p *Proc) Lock(ctx context.Context, l Lock) error {
	if p.TryLock(l) {
		return nil
	}
	return p.lockSlow(ctx, l, nil)
}

// lockSlow registers the writer as waiting (recorded in ln, or, for a
// writer without a lane, in the Proc's shared wait lanes), then takes the
// lock when readers and writer are gone.
func (p *Proc) lockSlow(ctx context.Context, l Lock, ln *Lane) (err error) {
	shared := ln == nil
	registered := false
	var b backoff
	for {
		st := p.load(l)
		switch {
		case st == 0 && !registered:
			if p.cas(l, st, st.withWriter(p.owner)) {
				return nil
			}
		case registered && !st.writer() && st.readers() == 0 && !st.guarded():
			if p.cas(l, st, st.withGuard(p.owner)) {
				p.eraseWait(l, ln, shared)
				p.updateUnderGuard(l, func(s state) state { return (s - waitOne).withWriter(p.owner) })
				return nil
			}
		case st.guarded():
			p.guardWait(l, st, &b)
		case !registered && st.waiting() < MaxWaitingWriters && !shared:
			if registered, err = p.register(l, st, ln); err != nil {
				return err
			}
		case !registered && st.waiting() < MaxWaitingWriters:
			ln, registered = p.registerShared(l, st)
			if ln == nil {
				// No lane to record the wait in: a detached attachment
				// has none for good; otherwise wait unregistered (as when
				// MaxWaitingWriters wait) and try again.
				if p.detached.Load() {
					return ErrDetached
				}
				if err := p.wait(ctx, l, st, &b); err != nil {
					return err
				}
			}
		default:
			if err := p.wait(ctx, l, st, &b); err != nil {
				if registered {
					p.unregister(l, ln, shared)
				}
				return err
			}
		}
	}
}

// register adds the caller to l's waiting writers, under the guard.
func (p *Proc) register(l Lock, st state, ln *Lane) (bool, error) {
	if !p.cas(l, st, st.withGuard(p.owner)) {
		return false, nil
	}
	if err := ln.add(entryKey(l, modeWait)); err != nil {
		p.updateUnderGuard(l, func(s state) state { return s })
		return false, err
	}
	p.updateUnderGuard(l, func(s state) state { return s + waitOne })
	return true, nil
}

// unregister withdraws a waiting writer that gave up; the readers it held
// back are woken when it was the last one.
func (p *Proc) unregister(l Lock, ln *Lane, shared bool) {
	p.takeGuard(l)
	p.eraseWait(l, ln, shared)
	p.updateUnderGuard(l, func(s state) state {
		if s.waiting() == 0 {
			return s
		}
		return s - waitOne
	})
	p.wakeAll(l)
}

// Unlock releases a write lock taken with Lock or TryLock and wakes those
// waiting for it.
func (p *Proc) Unlock(l Lock) {
	// Fast path: nobody registered; the release is one compare-and-swap.
	if !atomic.CompareAndSwapUint64(p.stateWord(l), uint64(state(0).withWriter(p.owner)), 0) {
		p.unlockSlow(l)
		return
	}
	if atomic.LoadUint32(p.sleepWord(l)) != 0 {
		p.wakeAll(l)
	}
}

func (p *Proc) unlockSlow(l Lock) {
	for {
		st := p.load(l)
		if !st.writer() || st.writerOwner() != p.owner {
			panic("lockd: Unlock of a lock not held for writing by this Proc")
		}
		if p.cas(l, st, st.withoutWriter()) {
			break
		}
	}
	p.wakeAll(l)
}

// wakeAll wakes everyone parked on l, if anyone is.
func (p *Proc) wakeAll(l Lock) {
	if atomic.LoadUint32(p.sleepWord(l)) == 0 {
		return
	}
	atomic.AddUint32(p.seqWord(l), 1)
	p.park.wake(p.seqWord(l))
}

// Readable reports whether an optimistic reader may go ahead: no writer
// holds l and none waits for it.
func (p *Proc) Readable(l Lock) bool {
	return atomic.LoadUint64(p.stateWord(l))&(writerBit|waitMask) == 0
}

// WaitReadable waits until Readable(l) holds. Optimistic readers call it so
// that they, too, yield to writers (see the package documentation).
func (p *Proc) WaitReadable(ctx context.Context, l Lock) error {
	var b backoff
	for {
		st := p.load(l)
		switch {
		case !st.writer() && st.waiting() == 0:
			return nil
		case st.guarded():
			p.guardWait(l, st, &b)
		default:
			if err := p.wait(ctx, l, st, &b); err != nil {
				return err
			}
		}
	}
}

// updateUnderGuard applies f to l's state and drops the guard in the same
// compare-and-swap. The caller holds the guard; only the writer bits can
// change meanwhile (a writer releasing), hence the loop.
func (p *Proc) updateUnderGuard(l Lock, f func(state) state) state {
	for {
		st := p.load(l)
		nst := f(st).withoutGuard()
		if p.cas(l, st, nst) {
			return nst
		}
	}
}

// takeGuard takes l's guard, waiting for its holder (and taking it over from
// a dead one, with a recount, before returning).
func (p *Proc) takeGuard(l Lock) {
	var b backoff
	for {
		st := p.load(l)
		if !st.guarded() {
			if p.cas(l, st, st.withGuard(p.owner)) {
				return
			}
			continue
		}
		p.guardWait(l, st, &b)
	}
}

// A backoff paces one waiter: a few yields first (holds are short), then
// parking, and every poll interval a check that the holders are alive.
type backoff struct {
	spins     int
	lastAudit time.Time
}

const spinLimit = 8

// guardWait waits for a guard, which is held for a few instructions only;
// if it stays held past the poll interval its holder may be dead.
func (p *Proc) guardWait(l Lock, st state, b *backoff) {
	b.spins++
	if b.spins < 4*spinLimit {
		runtime.Gosched()
		return
	}
	if b.lastAudit.IsZero() {
		b.lastAudit = time.Now()
	}
	time.Sleep(20 * time.Microsecond)
	if time.Since(b.lastAudit) >= p.poll {
		b.lastAudit = time.Now()
		p.audit(l)
	}
}

// wait parks until l's state may have changed from st, ctx ends, or the
// poll interval passes (then the holders are audited).
func (p *Proc) wait(ctx context.Context, l Lock, st state, b *backoff) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.spins++
	if b.spins < spinLimit {
		runtime.Gosched()
		return nil
	}
	if st.writer() && p.reclaimRecovered(l, st.writerOwner()) {
		return nil
	}
	if b.lastAudit.IsZero() {
		b.lastAudit = time.Now()
	}
	atomic.AddUint32(p.sleepWord(l), 1)
	seq := atomic.LoadUint32(p.seqWord(l))
	if p.load(l) == st {
		left := p.poll - time.Since(b.lastAudit)
		if left < time.Millisecond {
			left = time.Millisecond
		}
		p.park.park(ctx, p.seqWord(l), seq, left)
	}
	atomic.AddUint32(p.sleepWord(l), ^uint32(0))
	if time.Since(b.lastAudit) >= p.poll {
		b.lastAudit = time.Now()
		p.audit(l)
	}
	return ctx.Err()
}

// LockInfo describes a lock's state at one instant.
type LockInfo struct {
	Readers     int   // read holds
	Waiting     int   // writers waiting
	Writer      bool  // a writer holds it
	WriterOwner Owner // meaningful if Writer
	WriterPid   int   // the writer's pid if known, else 0
}

// Inspect reads l's state, for display.
func (p *Proc) Inspect(l Lock) LockInfo {
	st := p.load(l)
	li := LockInfo{Readers: st.readers(), Waiting: st.waiting(), Writer: st.writer()}
	if li.Writer {
		li.WriterOwner = st.writerOwner()
		li.WriterPid = p.PidOf(li.WriterOwner)
	}
	return li
}
