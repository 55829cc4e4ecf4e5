package lockd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// A parker puts goroutines to sleep on 32-bit words of the mapping.
//
// A futex wait blocks its OS thread, so a thousand goroutines waiting in the
// kernel would be a thousand threads. The parker keeps that bounded: for each
// word at most one goroutine of this process sleeps in the kernel (the
// sleeper), the others of this process wait on a channel that the sleeper
// closes when it returns, and at most maxSleepers sleepers exist at once.
//
// A goroutine that finds no free sleeper token spills: it counts itself in
// the lock space's spill record (shared by all processes) and waits for the
// spill sequence to move, through one more kernel sleeper per process, the
// spill sleeper. Every wake of any word checks the spill count and, if
// anyone spilled, bumps the sequence and wakes it: spilled waiters then wake
// and re-check, however many words they wait on. The cost falls on wakes
// that are already slow (they make a futex call), only while someone spills.
// So at most maxSleepers+1 threads of a process sleep in the kernel, and no
// wake, from this process or another, is missed for want of a sleeper.
type parker struct {
	tokens chan struct{}

	spillSeq   *uint32 // in the mapping: moves on every wake while spillCount != 0
	spillCount *uint32 // in the mapping: goroutines spilled, in every process

	mu            sync.Mutex // protects the fields below
	groups        map[*uint32]*parkGroup
	spillSleeping bool          // a goroutine of this process sleeps on spillSeq
	spillVal      uint32        // the value it sleeps on
	spillDone     chan struct{} // closed and replaced when it returns
}

type parkGroup struct {
	waiters  int
	sleeping bool
	done     chan struct{} // closed and replaced at every wake of the word
}

func newParker(maxSleepers int, spillSeq, spillCount *uint32) *parker {
	if maxSleepers < 1 {
		maxSleepers = 1
	}
	return &parker{
		tokens:     make(chan struct{}, maxSleepers),
		spillSeq:   spillSeq,
		spillCount: spillCount,
		groups:     make(map[*uint32]*parkGroup),
		spillDone:  make(chan struct{}),
	}
}

// park sleeps until *addr may differ from val, ctx ends, or d passes.
func (p *parker) park(ctx context.Context, addr *uint32, val uint32, d time.Duration) {
	p.mu.Lock()
	g := p.groups[addr]
	if g == nil {
		g = &parkGroup{done: make(chan struct{})}
		p.groups[addr] = g
	}
	g.waiters++
	if !g.sleeping && p.takeToken() {
		g.sleeping = true
		p.mu.Unlock()
		p.sleepInKernel(ctx, addr, val, d)
		p.mu.Lock()
		g.sleeping = false
		p.releaseGroupLocked(addr, g, true)
		p.mu.Unlock()
		<-p.tokens
		return
	}
	if g.sleeping {
		// Another goroutine of this process sleeps on addr; its return
		// wakes us.
		done := g.done
		p.mu.Unlock()
		p.waitChan(ctx, done, nil, d)
		p.mu.Lock()
		p.releaseGroupLocked(addr, g, false)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.spill(ctx, addr, val, d, g)
}

// spill waits for addr through the spill sequence; g counts the caller.
func (p *parker) spill(ctx context.Context, addr *uint32, val uint32, d time.Duration, g *parkGroup) {
	// Count ourselves before the last look at addr, and read the sequence
	// before it too: a waker that changes addr after that look sees the
	// count and moves the sequence away from seq.
	atomic.AddUint32(p.spillCount, 1)
	defer atomic.AddUint32(p.spillCount, ^uint32(0))
	seq := atomic.LoadUint32(p.spillSeq)
	p.mu.Lock()
	defer func() {
		p.releaseGroupLocked(addr, g, false)
		p.mu.Unlock()
	}()
	switch {
	case atomic.LoadUint32(addr) != val:
	case !p.spillSleeping:
		p.spillSleeping, p.spillVal = true, seq
		p.mu.Unlock()
		p.sleepInKernel(ctx, p.spillSeq, seq, d)
		p.mu.Lock()
		p.spillSleeping = false
		close(p.spillDone)
		p.spillDone = make(chan struct{})
	case p.spillVal == seq:
		// The spill sleeper sleeps on the value we read, so any wake
		// after our look at addr wakes it, and it wakes us.
		spillDone, done := p.spillDone, g.done
		p.mu.Unlock()
		p.waitChan(ctx, done, spillDone, d)
		p.mu.Lock()
	default:
		// The sequence moved since the spill sleeper read it: it is
		// returning; so do we, and the caller looks again.
	}
}

// waitChan waits for a or b to close, ctx to end or d to pass.
func (p *parker) waitChan(ctx context.Context, a, b <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	select {
	case <-a:
	case <-b:
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
}

func (p *parker) takeToken() bool {
	select {
	case p.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

// sleepInKernel waits on the futex for at most d, and no longer than ctx:
// its deadline shortens the wait, and its cancellation wakes the word (a
// spurious wake for any other sleeper on it, which looks again).
func (p *parker) sleepInKernel(ctx context.Context, addr *uint32, val uint32, d time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { futexWake(addr) })
		defer stop()
	}
	if ctx.Err() != nil {
		return
	}
	futexWait(addr, val, d)
}

// releaseGroupLocked drops one waiter; a returning sleeper also wakes the
// goroutines of this process that waited behind it, so they re-check.
func (p *parker) releaseGroupLocked(addr *uint32, g *parkGroup, wake bool) {
	g.waiters--
	if wake {
		close(g.done)
		g.done = make(chan struct{})
	}
	if g.waiters == 0 && p.groups[addr] == g {
		delete(p.groups, addr)
	}
}

// wakeLocal wakes the goroutines of this process parked on addr.
func (p *parker) wakeLocal(addr *uint32) {
	p.mu.Lock()
	if g := p.groups[addr]; g != nil {
		close(g.done)
		g.done = make(chan struct{})
	}
	p.mu.Unlock()
}

// wake wakes every goroutine parked on addr, here and in other processes.
func (p *parker) wake(addr *uint32) {
	futexWake(addr)
	p.wakeLocal(addr)
	if atomic.LoadUint32(p.spillCount) != 0 {
		atomic.AddUint32(p.spillSeq, 1)
		futexWake(p.spillSeq)
	}
}

func word32(b []byte, off uint64) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
func word64(b []byte, off uint64) *uint64 { return (*uint64)(unsafe.Pointer(&b[off])) }

// WaitWord sleeps while *addr == val, for at most d or until ctx ends,
// through this attachment's bounded set of kernel sleepers. Returns are
// hints: the caller re-checks what it waits for.
func (p *Proc) WaitWord(ctx context.Context, addr *uint32, val uint32, d time.Duration) {
	if atomic.LoadUint32(addr) != val {
		return
	}
	p.park.park(ctx, addr, val, d)
}

// WakeWord wakes every goroutine sleeping in WaitWord on addr, in this
// process and in others.
func (p *Proc) WakeWord(addr *uint32) { p.park.wake(addr) }

// WakeAll wakes every goroutine of this process parked on any word; used
// before the mapping goes away.
func (p *Proc) WakeAll() {
	p.park.mu.Lock()
	defer p.park.mu.Unlock()
	for addr, g := range p.park.groups {
		futexWake(addr)
		close(g.done)
		g.done = make(chan struct{})
	}
	close(p.park.spillDone)
	p.park.spillDone = make(chan struct{})
	if p.park.spillSleeping {
		atomic.AddUint32(p.park.spillSeq, 1)
		futexWake(p.park.spillSeq)
	}
}
