package shm

import (
	"context"
	"fmt"
)

// Whole-file writes (Install, Flush) replace every variable at once. They
// use the locks every reader and writer already honours, in every process:
// the index lock, then every slot's lock in slot order (the lock order of
// group.go), each taken as a writer. So the writer priority of the rest of
// the file holds: once the whole-file writer waits for a variable, no new
// reader or writer of it goes ahead, while variables it has not reached
// yet stay in use. Once it holds them all, optimistic readers and groups
// wait for each variable until the end, and it releases them only after
// every variable holds its new state: a reader sees each variable, and
// every MGet, all old or all new.
//
// The change is not one commit: it writes one variable after another, more
// than any lane could record. A crash in the middle is made visible
// instead: before the first change the file's header is marked as being
// installed (meta flag flagInstalling, a new meta page synced to disk), and
// the mark is cleared only after every change is in the mapping and
// flushed to disk. Open of a marked file waits for the index lock (held by
// a live whole-file writer until it ends, released by recovery if it
// died) and, if the mark is still there, refuses the file with
// ErrInstallIncomplete. This is the design rather than a redo through the
// lanes because an image has no size limit: a lane holds at most GroupMax
// variables, and a copy of the image in the file would double its size.
//
// Caveat: a process that already has the file open when a whole-file
// writer dies does not look at the header again. After the dead writer's
// locks are recovered it reads the part-installed state; only the next
// Open reports it. In a cluster the daemon is the only writer, and a
// node's daemon that dies in an install is restarted, reopens the file
// with Config.AllowIncomplete and installs its snapshot again.

// whole runs fn holding every lock of the file, with the file marked as
// being installed, and logs fn's records to the redo log in one call. It
// waits for the locks until ctx ends; nothing has changed if it fails
// before fn runs.
//
// If fn fails, what it changed stays, the file stays marked (the next
// Open refuses it, as after a crash) and whole returns fn's error.
func (m *Memory) whole(ctx context.Context, fn func() ([]Record, error)) error {
	if !m.enter() {
		return ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.lockWhole(ctx); err != nil {
		return err
	}
	defer m.unlockWhole(m.meta.vars)
	if err := m.markInstall(true); err != nil {
		return fmt.Errorf("mark the file as being installed: %w", err)
	}
	recs, err := fn()
	if j, ok := m.redoOn(); ok && len(recs) > 0 {
		j.Append(recs)
	}
	if err != nil {
		return err
	}
	// The new state reaches the disk before the mark goes, so that a power
	// loss cannot leave a cleared mark over part of the change.
	if err := m.flush(); err != nil {
		return err
	}
	if err := m.markInstall(false); err != nil {
		return fmt.Errorf("clear the install mark: %w", err)
	}
	m.incomplete.Store(false)
	return nil
}

// lockWhole takes the index lock and then every slot's lock, in slot
// order, as a writer; on failure it holds none.
func (m *Memory) lockWhole(ctx context.Context) error {
	if err := m.proc.Lock(ctx, m.index); err != nil {
		return err
	}
	for s := uint32(0); s < m.meta.vars; s++ {
		if err := m.proc.Lock(ctx, m.lockOf(s)); err != nil {
			m.unlockWhole(s)
			return err
		}
	}
	return nil
}

// unlockWhole releases the locks of slots [0, n) and the index lock.
func (m *Memory) unlockWhole(n uint32) {
	for s := uint32(0); s < n; s++ {
		m.proc.Unlock(m.lockOf(s))
	}
	m.proc.Unlock(m.index)
}

// markInstall sets or clears flagInstalling in the file's header: it
// writes the newest meta, with the flag changed and the next txid, over
// the other meta page and syncs the file. A write torn by a crash fails
// its checksum, and the page it did not touch wins. The caller holds the
// index lock, which serialises header writes.
func (m *Memory) markInstall(on bool) error {
	cur, err := readMeta(m.f)
	if err != nil {
		return err
	}
	next := cur
	next.txid++
	next.flags &^= flagInstalling
	if on {
		next.flags |= flagInstalling
	}
	page := make([]byte, pageSize)
	next.encode(page)
	if _, err := m.f.WriteAt(page, int64(1-cur.page)*pageSize); err != nil {
		return err
	}
	return m.f.Sync()
}

// settleInstall is Open's answer to a header marked as being installed.
// It waits for the index lock: a live installer holds it until it has
// cleared the mark; a dead one's is recovered (within lockd's bound).
// Then, if the mark is still there, it fails with ErrInstallIncomplete,
// or with allow notes the state for Incomplete.
func (m *Memory) settleInstall(allow bool) error {
	if err := m.proc.Lock(background, m.index); err != nil {
		return err
	}
	hdr, err := readMeta(m.f)
	m.proc.Unlock(m.index)
	switch {
	case err != nil:
		return err
	case hdr.flags&flagInstalling == 0:
		return nil
	case !allow:
		return ErrInstallIncomplete
	}
	m.incomplete.Store(true)
	return nil
}

// Incomplete reports whether the file was opened (with
// Config.AllowIncomplete) in the middle of an Install or Flush that was
// cut short, and no Install or Flush through this Memory has completed
// since: its variables are then part old and part new.
func (m *Memory) Incomplete() bool { return m.incomplete.Load() }
