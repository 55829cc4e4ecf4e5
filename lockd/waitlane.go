package lockd

import (
	"context"
	"slices"
	"sync"
)

// waitLanes journal the writers that wait without a lane of their own
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
// register does, with its entry in a shared wait lane. It waits, within
// ctx, for a lane from the pool only when every shared one is full.
func (p *Proc) registerShared(ctx context.Context, l Lock, st state) (*Lane, bool, error) {
	w := &p.waiters
	w.mu.Lock()
	ln := w.roomy(p.lay.LaneEntries)
	if ln == nil {
		w.mu.Unlock()
		got, err := p.AcquireLane(ctx)
		if err != nil {
			return nil, false, err
		}
		w.mu.Lock()
		w.lanes = append(w.lanes, got)
		ln = got
	}
	defer w.mu.Unlock()
	ok, err := p.register(l, st, ln)
	if !ok {
		w.dropIdle(ln)
	}
	return ln, ok, err
}

// unjournalWait removes the caller's wait for l from ln, a shared wait
// lane if shared. The caller holds l's guard.
func (p *Proc) unjournalWait(l Lock, ln *Lane, shared bool) {
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
