package shm

import (
	"sync"
	"time"
)

// Sync writes every changed page of the file to stable storage (msync with
// MS_SYNC) and waits for it. The page cache is shared, so this covers the
// writes of every process that maps the file.
func (m *Memory) Sync() error {
	if m.closed.Load() {
		return ErrClosed
	}
	return m.flush()
}

// flush runs msync and then checks that the file is still whole: pages
// that another process cut off the file are dropped silently by msync.
func (m *Memory) flush() error {
	failpoint(FailBeforeFlush)
	err := m.mm.Flush()
	failpoint(FailAfterFlush)
	if err != nil {
		return err
	}
	return m.FileError()
}

// SyncBarrier returns once every write that completed before the call is on
// stable storage. Concurrent callers share flushes (group commit): a caller
// waits for the first flush that starts after it arrived, so one flush
// covers every caller that arrived while the previous one ran.
func (m *Memory) SyncBarrier() error {
	if m.closed.Load() {
		return ErrClosed
	}
	return m.syncer.barrier()
}

// SyncStats reports how many flushes ran and how long they took in all.
func (m *Memory) SyncStats() (flushes uint64, total time.Duration) {
	m.syncer.mu.Lock()
	defer m.syncer.mu.Unlock()
	return m.syncer.flushes, m.syncer.total
}

// syncer runs one flush at a time for any number of barrier callers.
type syncer struct {
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

func (y *syncer) init(flush func() error) {
	y.flush = flush
	y.cond = sync.NewCond(&y.mu)
}

func (y *syncer) barrier() error {
	y.mu.Lock()
	defer y.mu.Unlock()
	// The flush we need is the next one to start: one already running may
	// have started before our write.
	want := y.started + 1
	for y.done < want {
		if !y.running {
			y.runLocked()
			continue
		}
		y.cond.Wait()
	}
	if y.errGen >= want {
		return y.lastErr
	}
	return nil
}

// runLocked performs one flush with the mutex released meanwhile.
func (y *syncer) runLocked() {
	y.running = true
	y.started++
	gen := y.started
	y.mu.Unlock()
	t := time.Now()
	err := y.flush()
	d := time.Since(t)
	y.mu.Lock()
	y.running = false
	y.done = gen
	y.flushes++
	y.total += d
	if err != nil {
		y.lastErr, y.errGen = err, gen
	}
	y.cond.Broadcast()
}
