package server

import (
	"fmt"
	"time"

	"github.com/dsm-dev/dsm/internal/redolog"
	"github.com/dsm-dev/dsm/shm"
)

// SyncMode says when written variables are flushed to the file's disk.
// Whatever the mode, a write is in the shared mapping (and so survives a
// crash of any process) before its reply is sent.
type SyncMode int

const (
	// SyncInterval flushes every Config.SyncInterval: a power loss loses at
	// most the last interval. It is the zero value.
	SyncInterval SyncMode = iota
	// SyncAlways sends a write's reply only after a flush that covers it:
	// a synchronous write of its record to the redo log beside the file
	// (internal/redolog). Concurrent writers share flushes (group
	// commit) and a pipelined batch waits for one flush.
	SyncAlways
	// SyncNever flushes only at shutdown; the kernel writes back when it
	// pleases.
	SyncNever
)

var syncModeNames = [...]string{SyncInterval: "interval", SyncAlways: "always", SyncNever: "never"}

// String returns "interval", "always" or "never".
func (m SyncMode) String() string {
	if m < 0 || int(m) >= len(syncModeNames) {
		return fmt.Sprintf("SyncMode(%d)", int(m))
	}
	return syncModeNames[m]
}

// MarshalText implements encoding.TextMarshaler.
func (m SyncMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so that a SyncMode can
// be a flag (flag.TextVar).
func (m *SyncMode) UnmarshalText(b []byte) error {
	for i, name := range syncModeNames {
		if string(b) == name {
			*m = SyncMode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown sync mode %q (want always, interval or never)", b)
}

// appendfsync names the mode as Redis' appendfsync setting would.
func (m SyncMode) appendfsync() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncNever:
		return "no"
	}
	return "everysec"
}

// syncLoop runs until the server stops: under SyncInterval it flushes the
// file every interval; under SyncAlways it runs redoTick every
// redoTickPeriod; under SyncNever it only checks that the file is still
// whole every watchPeriod (storage.go).
func (s *Server) syncLoop() {
	period, tick := watchPeriod, s.watchFile
	switch {
	case s.cfg.Sync == SyncInterval:
		period, tick = s.cfg.SyncInterval, func() { s.syncFile() }
	case s.redo != nil:
		period, tick = redoTickPeriod, s.redoTick
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			tick()
		}
	}
}

// syncFile flushes what changed and records how long it took.
func (s *Server) syncFile() error {
	return s.timedFlush("sync", "flush", s.mem.Sync)
}

// barrier waits until every write acknowledged so far is on disk. Concurrent
// callers share one flush (group commit): under SyncAlways a synchronous
// write of the redo log, else an msync of the mapping.
func (s *Server) barrier() error {
	flush := s.mem.SyncBarrier
	if s.redo != nil {
		flush = s.redo.Barrier
	}
	return s.timedFlush("barrier", "flush", flush)
}

// timedFlush runs flush, records it in the metrics (as kind) and INFO's
// figures, and stops the server if it failed, with what naming the step.
func (s *Server) timedFlush(kind, what string, flush func() error) error {
	start := time.Now()
	err := flush()
	s.metrics.observeFlush(kind, start, err)
	s.stats.noteSync(err)
	if err != nil {
		s.storageFailed(fmt.Errorf("%s: %w", what, err))
	}
	return err
}

// redoTickPeriod is how often the redo log's checkpoint is considered and
// the file checked (watchFile).
const redoTickPeriod = 250 * time.Millisecond

// startRedo replays what a crash left in the redo log, whatever the sync
// mode of this start, and under SyncAlways opens the redo log and hands it
// to shm.
func startRedo(mem *shm.Memory, st settings) (*redolog.Log, error) {
	end, err := redolog.Replay(mem, st.Logger)
	if err != nil || st.Sync != SyncAlways {
		return nil, err
	}
	j, err := redolog.Open(mem, end)
	if err != nil {
		return nil, err
	}
	mem.SetRedoLog(j)
	return j, nil
}

// redoTick checks the file and, when it is due, checkpoints the redo log:
// the mapping is flushed and the segments it covers deleted.
func (s *Server) redoTick() {
	s.watchFile()
	if err := s.redo.Preallocate(); err != nil {
		s.storageFailed(err)
		return
	}
	if !s.redo.CheckpointDue(time.Now()) {
		return
	}
	s.timedFlush("checkpoint", "redo log checkpoint", func() error { return s.redo.Checkpoint(s.mem.Sync) })
}
