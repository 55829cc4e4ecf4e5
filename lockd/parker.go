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
// closes when it returns, and at most maxSleepers sleepers exist at once. A
// goroutine that finds no free sleeper token waits on its channel with the
// same timeout, so a wake from another process reaches it at the latest when
// the timeout ends; a wake from this process reaches it at once through
// wakeLocal.
type parker struct {
	tokens chan struct{}

	mu     sync.Mutex // protects groups
	groups map[*uint32]*parkGroup
}

type parkGroup struct {
	waiters  int
	sleeping bool
	done     chan struct{} // closed and replaced at every wake of the word
}

func newParker(maxSleepers int) *parker {
	if maxSleepers < 1 {
		maxSleepers = 1
	}
	return &parker{
		tokens: make(chan struct{}, maxSleepers),
		groups: make(map[*uint32]*parkGroup),
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
	done := g.done
	p.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	p.mu.Lock()
	p.releaseGroupLocked(addr, g, false)
	p.mu.Unlock()
}

func (p *parker) takeToken() bool {
	select {
	case p.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

// sleepInKernel waits on the futex in slices short enough to notice ctx.
func (p *parker) sleepInKernel(ctx context.Context, addr *uint32, val uint32, d time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
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
}
