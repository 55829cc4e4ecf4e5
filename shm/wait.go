package shm

import (
	"context"
	"sync/atomic"
	"time"
)

// waitSlice bounds one sleep of Wait; the futex is woken by every change,
// so this is only a guard against a wake lost to a 32-bit wrap of the word.
const waitSlice = time.Second

// Wait blocks until name's version is greater than after, and returns the
// new version. A change by any process wakes it (a futex on the version
// word, no polling). It returns ErrNotFound if the variable does not exist
// or is deleted while waiting, and ctx.Err() if ctx ends first. An Install
// that gives the variable a version not above its current one replaces it
// in a new incarnation, which ends the wait as a delete does
// (ErrNotFound): versions are compared within one incarnation only, and a
// Get finds the new one. Flush ends every wait so.
func (m *Memory) Wait(ctx context.Context, name []byte, after uint64) (uint64, error) {
	if !m.enter() {
		return 0, ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.checkName(name); err != nil {
		return 0, err
	}
	r, ok := m.lookup(name)
	if !ok {
		return 0, ErrNotFound
	}
	off := m.slotOff(r.slot)
	waiters, word := m.u32(off+slotWaiters), m.u32(off+slotVersion)
	atomic.AddUint32(waiters, 1)
	defer atomic.AddUint32(waiters, ^uint32(0))
	for {
		// Load before checking, so a change after the check moves the
		// word and the sleep returns at once.
		v := atomic.LoadUint64(m.version(r.slot))
		if !m.valid(r) {
			return 0, ErrNotFound
		}
		if v > after {
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		m.proc.WaitWord(ctx, word, uint32(v), waitSlice)
		if m.closed.Load() {
			return 0, ErrClosed
		}
	}
}
