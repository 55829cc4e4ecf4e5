package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// store is the node's Raft log and stable store (raft-boltdb) behind a
// gate that Shutdown closes before it closes the database.
//
// Why: Raft handles a heartbeat on the transport's goroutine, not its
// own, and such a handler can pass Raft's shutdown check just before
// Shutdown and reach the store after it (it saves a newer term, or reads
// the log to apply a commit). Raft panics on any store error there
// ("failed to save current term: database not open"), which ended test
// processes about once in 20 runs that stop nodes. Closing the gate waits
// for the calls in flight; a call that arrives later belongs to a
// stopped Raft whose work can only be lost, so it waits until the process
// ends instead of failing into Raft's panic. Only such a late heartbeat
// can come here after Shutdown: every other caller is Raft's own
// goroutines, which Shutdown has stopped.
type store struct {
	db *raftboltdb.BoltStore

	mu     sync.RWMutex
	closed bool
}

var (
	_ raft.LogStore    = (*store)(nil)
	_ raft.StableStore = (*store)(nil)
)

// stopped is never closed: a call after close waits on it for good.
var stopped = make(chan struct{})

// enter admits a call; the caller must call s.mu.RUnlock when done.
func (s *store) enter() {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		<-stopped
	}
}

// close waits for the calls in flight, bars later ones and closes the
// database.
func (s *store) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

func (s *store) FirstIndex() (uint64, error) {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.FirstIndex()
}

func (s *store) LastIndex() (uint64, error) {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.LastIndex()
}

func (s *store) GetLog(index uint64, log *raft.Log) error {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.GetLog(index, log)
}

func (s *store) StoreLog(log *raft.Log) error {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.StoreLog(log)
}

func (s *store) StoreLogs(logs []*raft.Log) error {
	s.enter()
	defer s.mu.RUnlock()
	if err := s.db.StoreLogs(logs); err != nil {
		return err
	}
	failpoint(FailLogStored)
	return nil
}

func (s *store) DeleteRange(min, max uint64) error {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.DeleteRange(min, max)
}

func (s *store) Set(key, val []byte) error {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.Set(key, val)
}

func (s *store) Get(key []byte) ([]byte, error) {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.Get(key)
}

func (s *store) SetUint64(key []byte, val uint64) error {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.SetUint64(key, val)
}

func (s *store) GetUint64(key []byte) (uint64, error) {
	s.enter()
	defer s.mu.RUnlock()
	return s.db.GetUint64(key)
}
