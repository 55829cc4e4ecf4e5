package shm

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// A replicated file is a cluster node's: the node's daemon (the Memory
// opened with Config.Exclusive) applies every write the cluster commits,
// and is the only one to write the file. Other processes keep mapping it
// and read it at memory speed (the node's applied state); their writes
// (Set, SetWith, Add, CompareAndSwap, CompareVersionAndSwap, Delete, MSet
// and the Handle's) become commands to the daemon over the Unix socket
// beside the file (SocketPath), which return once the node has applied
// them, with the results they would have had here. What cannot be a
// command (write lock groups, Install, Flush, Restore) fails with
// ErrReplicated; SyncReads makes the reads that follow it linearizable.
//
// The mark is in both meta pages: in file format 1, header version 2
// (with flagReplicated), so that a program that reads only version 1,
// which would write around the log, refuses the file with its
// ErrVersion; in file format 2 (version 3), which such programs refuse
// anyway, flagReplicated alone. The daemon marks the file when its
// node starts; nothing unmarks it yet (a file taken out of a cluster is
// copied out with dsm, or its node's data moved away).
//
// A Memory opened before the mark learns of it at its next write: the
// writes check the format in the mapped header (two loads of a cache line
// that almost never changes) until they have seen it once.

// The format version's and the flags' offsets in a meta page.
const (
	metaVersionOff = 8
	metaFlagsOff   = 12
)

// SocketPath is where the daemon of a replicated file at path listens
// for its local processes: the file's path plus ".sock".
func SocketPath(path string) string { return path + ".sock" }

// Replicated reports whether the file is a cluster node's (MarkReplicated).
func (m *Memory) Replicated() bool {
	if m.replicated.Load() {
		return true
	}
	if m.closed.Load() {
		return false
	}
	for page := uint64(0); page < 2; page++ {
		v := atomic.LoadUint32(m.u32(page*pageSize + metaVersionOff))
		flags := atomic.LoadUint32(m.u32(page*pageSize + metaFlagsOff))
		if marked(v, flags) {
			m.replicated.Store(true)
			return true
		}
	}
	return false
}

// marked reports whether a meta page's version and flags mark the file
// replicated: format 1's version 2, or format 2's flag.
func marked(version, flags uint32) bool {
	return version == formatReplicated || (version == formatCompact && flags&flagReplicated != 0)
}

// viaDaemon reports whether this Memory's writes go to the node's daemon:
// the file is replicated and this is not the daemon's Memory.
func (m *Memory) viaDaemon() bool { return !m.writer && m.Replicated() }

// refuseReplicated returns ErrReplicated, naming what was refused, when
// this Memory may not write the file itself.
func (m *Memory) refuseReplicated(what string) error {
	if m.viaDaemon() {
		return fmt.Errorf("%w: %s of %s from a local process", ErrReplicated, what, m.path)
	}
	return nil
}

// MarkReplicated makes the file a cluster node's (see above):
// from then on only this Memory, which must be the daemon's
// (Config.Exclusive), writes it. Marking a marked file does nothing. It
// writes the newer meta page last, each write synced, so that a crash in
// between leaves the file marked in its newest page; the next call
// completes it.
func (m *Memory) MarkReplicated() error {
	if !m.enter() {
		return ErrClosed
	}
	defer m.life.RUnlock()
	if !m.writer {
		return fmt.Errorf("%w: only the daemon's Memory (Config.Exclusive) marks a file replicated", ErrConfig)
	}
	// The index lock serialises header writes (markInstall).
	if err := m.proc.Lock(background, m.index); err != nil {
		return err
	}
	defer m.proc.Unlock(m.index)
	cur, err := readMeta(m.f)
	if err != nil {
		return err
	}
	if marked, err := m.bothMarked(); marked || err != nil {
		m.replicated.Store(marked)
		return err
	}
	if err := m.writeMarked(cur); err != nil {
		return err
	}
	m.replicated.Store(true)
	return nil
}

// writeMarked writes both meta pages as a replicated file's, from cur (the
// file's current meta, readMeta's): the other page first, each synced, so
// that a crash between them leaves a valid page either way.
func (m *Memory) writeMarked(cur meta) error {
	next := cur
	next.flags |= flagReplicated
	if cur.version != formatCompact {
		next.version = formatReplicated
	}
	page := make([]byte, pageSize)
	for _, p := range []uint64{1 - cur.page, cur.page} {
		next.txid++
		next.encode(page)
		if _, err := m.f.WriteAt(page, int64(p)*pageSize); err != nil {
			return err
		}
		if err := m.f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// bothMarked reports whether both meta pages mark the file replicated.
func (m *Memory) bothMarked() (bool, error) {
	var b [2 * pageSize]byte
	if _, err := m.f.ReadAt(b[:], 0); err != nil {
		return false, err
	}
	le := binary.LittleEndian
	for p := 0; p < 2; p++ {
		if !marked(le.Uint32(b[p*pageSize+metaVersionOff:]), le.Uint32(b[p*pageSize+metaFlagsOff:])) {
			return false, nil
		}
	}
	return true, nil
}
