// Package groupcommit lets any number of goroutines share flushes to stable
// storage: shm uses it for msync of the mapping, the daemon's journal for
// its synchronous writes.
package groupcommit

import (
	"sync"
	"time"
)

// A Committer runs one flush at a time for any number of Barrier callers.
// A caller waits for the first flush that starts after it called (one
// already running may have started before the caller's write), so one
// flush covers every caller that arrived while the previous one ran. It
// must not be copied after first use.
type Committer struct {
	flush func() error

	mu      sync.Mutex // protects the fields below
	cond    *sync.Cond
	started uint64 // flushes started
	done    uint64 // flushes finished
	running bool
	lastErr error
	errGen  uint64 // the flush lastErr belongs to
	flushes uint64
	total   time.Duration
}

// New returns a Committer that calls flush.
func New(flush func() error) *Committer {
	c := &Committer{flush: flush}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Barrier returns once a flush that started after the call has finished,
// with that flush's error.
func (c *Committer) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := c.started + 1
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
	return c.flushes, c.total
}

// runLocked performs one flush with the mutex released meanwhile.
func (c *Committer) runLocked() {
	c.running = true
	c.started++
	gen := c.started
	c.mu.Unlock()
	t := time.Now()
	err := c.flush()
	d := time.Since(t)
	c.mu.Lock()
	c.running = false
	c.done = gen
	c.flushes++
	c.total += d
	if err != nil {
		c.lastErr, c.errGen = err, gen
	}
	c.cond.Broadcast()
}
