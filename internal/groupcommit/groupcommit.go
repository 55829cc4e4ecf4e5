// Package groupcommit lets any number of goroutines share flushes to stable
// storage: shm uses it for msync of the mapping, the daemon's redo log for
// its synchronous writes.
package groupcommit

import (
	"sync"
	"time"
)

// How long a flush waits for the writers it expects (see gatherLocked):
// at most maxGather in all, and no longer than gatherGap after the last
// arrival. On loopback a whole request and reply take tens of
// microseconds (one client's median round trip in docs/BENCHMARKS.md is
// 55 to 63 µs), so a client's next write follows its reply soon; the gap
// ends the wait soon when the
// writers expected do not come (their next command reads, or they are
// gone), and the bound keeps the wait short next to a flush to a disk.
const (
	maxGather = time.Millisecond
	gatherGap = 100 * time.Microsecond
)

// A Committer runs one flush at a time for any number of Barrier callers.
// A caller waits for the first flush that starts after it called (one
// already running may have started before the caller's write), so one
// flush covers every caller that arrived while the previous one ran.
//
// Before it starts, a flush also waits a little for the callers the last
// flush served: writers that loop (a client's next write after its reply)
// come back together, and a flush that starts on the first of them would
// split them over two or more flushes, each as slow as one for all. See
// gatherLocked. It must not be copied after first use.
type Committer struct {
	flush          func() error
	maxGather, gap time.Duration

	mu        sync.Mutex // protects the fields below
	cond      *sync.Cond // callers wait here for their flush to end
	gather    *sync.Cond // a flush about to start waits here for its cohort
	started   uint64     // flushes started
	done      uint64     // flushes finished (one runs at a time)
	running   bool       // a flush runs or is gathering its callers
	gathering bool       // a flush waits in gatherLocked
	arrived   time.Time  // the last Barrier call while gathering
	next      int        // callers waiting for the next flush to start
	expect    int        // callers the next flush waits for (gatherLocked)
	lastErr   error
	errGen    uint64        // the flush lastErr belongs to
	total     time.Duration // time spent in the done flushes
}

// New returns a Committer that calls flush.
func New(flush func() error) *Committer {
	c := &Committer{flush: flush, maxGather: maxGather, gap: gatherGap}
	c.cond = sync.NewCond(&c.mu)
	c.gather = sync.NewCond(&c.mu)
	return c
}

// Barrier returns once a flush that started after the call has finished,
// with that flush's error.
func (c *Committer) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := c.started + 1
	c.next++
	if c.gathering {
		c.arrived = time.Now()
		if c.next == c.expect {
			c.gather.Signal()
		}
	}
	for c.done < want {
		if !c.running {
			c.runLocked()
			continue
		}
		c.cond.Wait()
	}
	if c.errGen >= want {
		return c.lastErr
	}
	return nil
}

// Stats reports how many flushes ran and how long they took in all.
func (c *Committer) Stats() (flushes uint64, total time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done, c.total
}

// runLocked performs one flush with the mutex released meanwhile.
func (c *Committer) runLocked() {
	c.running = true
	c.gatherLocked()
	c.started++
	gen, batch := c.started, c.next
	c.next = 0
	c.mu.Unlock()
	t := time.Now()
	err := c.flush()
	d := time.Since(t)
	c.mu.Lock()
	c.running = false
	c.done = gen
	// Those this flush served come back, and those that arrived while
	// it ran wait already: the next flush waits for both.
	c.expect = batch + c.next
	c.total += d
	if err != nil {
		c.lastErr, c.errGen = err, gen
	}
	c.cond.Broadcast()
}

// gatherLocked waits, before a flush starts, until the callers the last
// flush served and those that were waiting when it ended all wait for this
// one: for at most maxGather, and until no caller has come for gatherGap.
// Callers arriving meanwhile join this flush: it has not started. So
// groups of writers that loop merge, flush after flush, into one that a
// single flush serves, instead of taking turns at flushes each as slow as
// one for all.
func (c *Committer) gatherLocked() {
	if c.expect <= 1 || c.next >= c.expect {
		return
	}
	c.gathering = true
	now := time.Now()
	c.arrived = now
	end := now.Add(c.maxGather)
	for c.next < c.expect {
		wake := c.arrived.Add(c.gap)
		if wake.After(end) {
			wake = end
		}
		wait := time.Until(wake)
		if wait <= 0 {
			break
		}
		t := time.AfterFunc(wait, func() {
			c.mu.Lock()
			c.gather.Broadcast()
			c.mu.Unlock()
		})
		c.gather.Wait()
		t.Stop()
	}
	c.gathering = false
}
