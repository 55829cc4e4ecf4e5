package shm

import "time"

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
	return m.syncer.Barrier()
}

// SyncStats reports how many flushes ran and how long they took in all.
func (m *Memory) SyncStats() (flushes uint64, total time.Duration) {
	return m.syncer.Stats()
}
