package server

import (
	"fmt"
	"time"
)

// SyncMode says when written variables are flushed to the file's disk.
// Whatever the mode, a write is in the shared mapping (and so survives a
// crash of any process) before its reply is sent.
type SyncMode int

const (
	// SyncInterval flushes every Config.SyncInterval: a power loss loses at
	// most the last interval. It is the zero value.
	SyncInterval SyncMode = iota
	// SyncAlways sends a write's reply only after a flush that covers it.
	// Concurrent writers share flushes (group commit) and a pipelined batch
	// waits for one flush.
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

// syncLoop flushes the file every interval (SyncInterval) until the server
// stops; in the other modes it only checks that the file is still whole
// every watchPeriod (storage.go).
func (s *Server) syncLoop() {
	period, tick := watchPeriod, s.watchFile
	if s.cfg.Sync == SyncInterval {
		period, tick = s.cfg.SyncInterval, func() { s.syncFile() }
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
	start := time.Now()
	err := s.mem.Sync()
	s.metrics.observeFlush("sync", start, err)
	s.stats.noteSync(err)
	if err != nil {
		s.storageFailed(fmt.Errorf("flush: %w", err))
	}
	return err
}

// barrier waits until every write acknowledged so far is on disk. Concurrent
// callers share one flush (shm's group commit).
func (s *Server) barrier() error {
	start := time.Now()
	err := s.mem.SyncBarrier()
	s.metrics.observeFlush("barrier", start, err)
	s.stats.noteSync(err)
	if err != nil {
		s.storageFailed(fmt.Errorf("flush: %w", err))
	}
	return err
}
