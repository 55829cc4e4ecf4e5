package lockd

import (
	"slices"
	"sync"
)

// waitLanes record the writers that wait without a lane of their own
// (Proc.Lock's; shm's groups take their write locks that way before they
// take a lane). Each waiter needs one entry, for the lock it waits for, so
// they share lanes, as few as fit them, under one mutex of the Proc: a
// hundred writers waiting take one lane, not a hundred, and the lanes stay
// free for the groups that hold locks. A lane goes back to the Proc's pool
// when its last waiter leaves.
type waitLanes struct {
	mu    sync.Mutex // guards lanes and their entries; never held while waiting
	lanes []*Lane
}

// registerShared registers the caller as a writer waiting for l, as
// register does, with its entry in a shared wait lane. It takes a lane
// from the pool only when every shared one is full, and never waits for
// one: the caller may hold other locks, and whoever holds the lanes may be
// waiting for those. With no lane to be had it returns nil, and the caller
// waits unregistered and tries again.
func (p *Proc) registerShared(l Lock, st state) (*Lane, bool) {
	w := &p.waiters
	w.mu.Lock()
	defer w.mu.Unlock()
	ln := w.roomy(p.lay.LaneEntries)
	if ln == nil {
		if ln = p.TryAcquireLane(); ln == nil {
			return nil, false
		}
		w.lanes = append(w.lanes, ln)
	}
	ok, err := p.register(l, st, ln)
	if !ok || err != nil {
		w.dropIdle(ln)
	}
	return ln, ok && err == nil
}

// eraseWait erases the caller's wait for l from ln, a shared wait
// lane if shared. The caller holds l's guard.
func (p *Proc) eraseWait(l Lock, ln *Lane, shared bool) {
	if !shared {
		ln.remove(entryKey(l, modeWait))
		return
	}
	w := &p.waiters
	w.mu.Lock()
	defer w.mu.Unlock()
	ln.remove(entryKey(l, modeWait))
	w.dropIdle(ln)
}

// roomy returns a shared lane with a free entry, or nil.
func (w *waitLanes) roomy(entries int) *Lane {
	for _, ln := range w.lanes {
		if ln.Held() < entries {
			return ln
		}
	}
	return nil
}

// dropIdle gives ln back to the pool if no waiter uses it any more.
func (w *waitLanes) dropIdle(ln *Lane) {
	if ln.Held() != 0 {
		return
	}
	if i := slices.Index(w.lanes, ln); i >= 0 {
		w.lanes = slices.Delete(w.lanes, i, i+1)
		ln.Release()
	}
}
