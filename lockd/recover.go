package lockd

import (
	"sync/atomic"
)

// Recovery. A hold is dead when its owner's slot has moved to another
// generation, or when nobody holds the slot's liveness byte. In the first
// case the lanes of the dead owner were already repaired (the generation
// moves on only after that); in the second, the one who wins the liveness
// byte repairs them first. Only then may anyone release a dead writer's lock,
// so a group write that had committed is rolled forward before any of its
// variables is seen again.

// ownerDead reports whether o is dead, and whether its lanes are repaired.
func (p *Proc) ownerDead(o Owner) (dead, repaired bool) {
	s := o.Slot()
	switch {
	case o == p.owner:
		return false, false
	case s >= p.lay.Procs:
		return true, true
	case p.procGen(s)&genMask != o.Gen():
		return true, true
	}
	held, err := ofdHeld(p.f, p.lay.LivenessOff+int64(s))
	if err != nil || held {
		return false, false
	}
	return true, false
}

// recoverSlot repairs the lanes of slot s if its owner is dead and nobody
// else is at it, then frees the slot.
func (p *Proc) recoverSlot(s int) {
	if s == p.slot || s >= p.lay.Procs {
		return
	}
	// One recovery at a time per Proc; a recovery that needs another (its
	// guard wait audits) skips it rather than deadlock, and a later audit
	// comes back to it.
	if !p.recMu.TryLock() {
		return
	}
	defer p.recMu.Unlock()
	off := p.lay.LivenessOff + int64(s)
	ok, err := ofdLock(p.f, off)
	if err != nil || !ok {
		return
	}
	defer ofdUnlock(p.f, off)
	gen := p.procGen(s)
	p.recoverLanes(s, makeOwner(s, gen))
	atomic.StoreUint32(p.procWord(s, procState), procFree)
	atomic.StoreUint32(p.procWord(s, procPid), 0)
	atomic.StoreUint32(p.procWord(s, procGen), gen+1)
}

// recoverLanes repairs every lane of slot s, whose owner dead is gone and
// whose liveness byte the caller holds: write locks are repaired and
// released, and the locks it read or waited for are recounted.
func (p *Proc) recoverLanes(s int, dead Owner) {
	recount := map[Lock]bool{}
	for i := 0; i < p.lay.Lanes; i++ {
		ln := &Lane{p: p, off: p.laneOff(s, i)}
		n := int(atomic.LoadUint32(ln.word(laneN)))
		if n > p.lay.LaneEntries {
			n = p.lay.LaneEntries
		}
		committed := atomic.LoadUint32(ln.word(laneCommitted)) == 1
		for j := 0; j < n; j++ {
			key := atomic.LoadUint64(ln.key(j))
			l, mode := Lock(key&^modeMask), key&modeMask
			if key != 0 && p.validLock(l) {
				switch mode {
				case modeWrite:
					p.reclaimWrite(l, dead, atomic.LoadUint64(ln.aux(j)), committed)
				case modeRead, modeWait:
					recount[l] = true
				}
			}
			atomic.StoreUint64(ln.aux(j), 0)
			atomic.StoreUint64(ln.key(j), 0)
		}
		atomic.StoreUint32(ln.word(laneN), 0)
		atomic.StoreUint32(ln.word(laneCommitted), 0)
	}
	for l := range recount {
		p.takeGuardFrom(l, dead)
		p.recountLocked(l, s)
	}
}

func (p *Proc) validLock(l Lock) bool {
	return uint64(l)%8 == 0 && uint64(l)+LockSize <= uint64(len(p.mem))
}

// reclaimWrite takes l over from dead if dead still holds it, repairs it,
// and releases it.
func (p *Proc) reclaimWrite(l Lock, dead Owner, aux uint64, committed bool) {
	for {
		st := p.load(l)
		if !st.writer() || st.writerOwner() != dead {
			return
		}
		if p.cas(l, st, st.withWriter(p.owner)) {
			break
		}
	}
	if p.repair != nil {
		p.repair(l, aux, committed)
	}
	p.Unlock(l)
}

// takeGuardFrom takes l's guard, taking it over if dead holds it.
func (p *Proc) takeGuardFrom(l Lock, dead Owner) {
	var b backoff
	for {
		st := p.load(l)
		switch {
		case !st.guarded():
			if p.cas(l, st, st.withGuard(p.owner)) {
				return
			}
		case st.guardOwner() == dead:
			if p.cas(l, st, st.withGuard(p.owner)) {
				return
			}
		default:
			p.guardWait(l, st, &b)
		}
	}
}

// audit is run by a waiter that has waited a poll interval: it repairs what
// dead holders left on l.
func (p *Proc) audit(l Lock) {
	st := p.load(l)
	if st.writer() {
		p.reclaimIfDead(l, st.writerOwner())
	}
	if st.guarded() {
		o := st.guardOwner()
		if dead, repaired := p.ownerDead(o); dead {
			if !repaired {
				p.recoverSlot(o.Slot())
			}
			p.takeGuardFrom(l, o)
			p.recountLocked(l, -1)
		}
		return
	}
	if st.readers() == 0 && st.waiting() == 0 {
		return
	}
	readers, waiting, deadSlots := p.census(l, -1)
	for _, s := range deadSlots {
		p.recoverSlot(s)
	}
	if st = p.load(l); readers != st.readers() || waiting != st.waiting() {
		p.takeGuard(l)
		p.recountLocked(l, -1)
	}
}

// reclaimIfDead releases l if its writer o is dead.
func (p *Proc) reclaimIfDead(l Lock, o Owner) {
	dead, repaired := p.ownerDead(o)
	if !dead {
		return
	}
	if !repaired {
		p.recoverSlot(o.Slot())
		if p.procGen(o.Slot())&genMask == o.Gen() {
			return // somebody else is repairing the slot; look again later
		}
	}
	p.reclaimWrite(l, o, 0, false)
}

// reclaimRecovered releases l at once, without the poll interval an audit
// waits, if its writer o is dead and o's slot already recovered (its
// generation moved on): nothing is left to find out. A process that died
// holding many plain write locks (a whole-file write of package shm holds
// every variable's) then costs one poll interval in all, for the first
// lock whose waiter recovers its slot, not one per lock. It reports
// whether it released l.
func (p *Proc) reclaimRecovered(l Lock, o Owner) bool {
	if o == p.owner || o.Slot() >= p.lay.Procs || p.procGen(o.Slot())&genMask == o.Gen() {
		return false
	}
	p.reclaimWrite(l, o, 0, false)
	return true
}

// census counts the live read holds and waiting writers recorded for l,
// skipping slot exclude, and lists the slots that record l but are dead.
func (p *Proc) census(l Lock, exclude int) (readers, waiting int, deadSlots []int) {
	for s := 0; s < p.lay.Procs; s++ {
		if s == exclude || atomic.LoadUint32(p.procWord(s, procState)) != procAttached {
			continue
		}
		gen := p.procGen(s)
		r, w := p.slotHolds(s, gen, l)
		if r+w == 0 {
			continue
		}
		if s != p.slot {
			if dead, _ := p.ownerDead(makeOwner(s, gen)); dead {
				deadSlots = append(deadSlots, s)
				continue
			}
		}
		readers += r
		waiting += w
	}
	return readers, waiting, deadSlots
}

// slotHolds counts the entries for l in the lanes of slot s of generation gen.
func (p *Proc) slotHolds(s int, gen uint32, l Lock) (readers, waiting int) {
	for i := 0; i < p.lay.Lanes; i++ {
		ln := &Lane{p: p, off: p.laneOff(s, i)}
		if atomic.LoadUint32(ln.word(laneGen)) != gen {
			continue
		}
		n := int(atomic.LoadUint32(ln.word(laneN)))
		if n > p.lay.LaneEntries {
			n = p.lay.LaneEntries
		}
		for j := 0; j < n; j++ {
			switch atomic.LoadUint64(ln.key(j)) {
			case entryKey(l, modeRead):
				readers++
			case entryKey(l, modeWait):
				waiting++
			}
		}
	}
	return readers, waiting
}

// recountLocked sets l's readers and waiting writers to what the live lanes
// record, drops the guard (which the caller holds) and wakes everyone.
// Lane entries for l change only under l's guard, so the count is exact.
func (p *Proc) recountLocked(l Lock, exclude int) {
	readers, waiting, _ := p.census(l, exclude)
	readers = min(readers, readersMask)
	waiting = min(waiting, MaxWaitingWriters)
	p.updateUnderGuard(l, func(s state) state {
		return s&^(readersMask|waitMask) | state(readers) | state(waiting)<<16
	})
	atomic.AddUint32(p.seqWord(l), 1)
	p.park.wake(p.seqWord(l))
}
