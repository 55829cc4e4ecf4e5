package shm

import (
	"sync"
	"sync/atomic"
	"time"
)

// A clock gives format 2's writes the time they stamp in a cell (the time
// of change) without calling time.Now on each write, which costs more
// than the rest of a write of an integer (about 110 ns against 60 on the
// 2-core test machine, whose clock source is kvm-clock). A goroutine
// refreshes the clock's word every clockTick while writes come; it stops
// after clockIdle ticks without one, and the next write starts it again,
// reading time.Now itself. A stamp is thus never later than its write and
// about one tick earlier, more only while the ticker waits for a CPU (on
// the loaded test machine up to some 15 ms): good for the time of last
// change, which is shown and compared in seconds, not for ordering
// writes (versions do that).
//
// The clock belongs to its Memory, which stops it at Close.
type clock struct {
	now     atomic.Int64 // Unix nanoseconds, as of the last tick
	demand  atomic.Bool  // a write read the clock since the last tick
	running atomic.Bool  // the ticker runs
	stop    chan struct{}
	done    sync.WaitGroup
}

const (
	clockTick = time.Millisecond
	clockIdle = 100 // ticks without a write before the ticker stops
)

func newClock() *clock { return &clock{stop: make(chan struct{})} }

// read returns the time to stamp a write with, in Unix nanoseconds.
func (c *clock) read() int64 {
	if !c.demand.Load() {
		c.demand.Store(true)
	}
	if c.running.Load() {
		return c.now.Load()
	}
	n := time.Now().UnixNano()
	if c.running.CompareAndSwap(false, true) {
		c.now.Store(n)
		c.done.Add(1)
		go c.tick()
	}
	return n
}

// tick refreshes the clock until it has been idle for clockIdle ticks or
// the clock is closed.
func (c *clock) tick() {
	defer c.done.Done()
	t := time.NewTicker(clockTick)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-c.stop:
			c.running.Store(false)
			return
		case now := <-t.C:
			c.now.Store(now.UnixNano())
			if c.demand.Swap(false) {
				idle = 0
			} else if idle++; idle >= clockIdle {
				c.running.Store(false)
				return
			}
		}
	}
}

// close stops the ticker and waits for it. The caller (Memory.Close)
// makes sure no write reads the clock afterwards.
func (c *clock) close() {
	close(c.stop)
	c.done.Wait()
}
