package server

import (
	"fmt"
	"runtime/debug"
	"time"
)

// Storage faults. The memory file can fail under the daemon: another
// process truncates it (the kernel then drops the mapped pages past the new
// end, and touching them raises SIGBUS), deletes or replaces it, or the disk
// fails a flush (EIO, ENOSPC). Any of these is fatal: the server records the
// first such error, logs it, stops accepting, closes every connection
// without sending the replies it still holds (so that nothing it could not
// store is acknowledged), and Serve returns an error wrapping ErrStorage
// that says what happened. The Memory is then abandoned, not closed
// (closing touches the mapping); the process must exit, as dsmd does.
//
// How each fault is found: every flush checks the file after its msync
// (shm's FileError), and so does every redo log write under SyncAlways
// (internal/redolog), so a write is then acknowledged only if the file was
// whole after the flush that covers it; a failed redo log write (also one
// whose segment was deleted or replaced) stops the server
// the same way; a watchdog checks the file every watchPeriod in the other
// modes (the interval flush does it in SyncInterval, the redo log's tick
// under SyncAlways); and every connection goroutine runs with panic-on-fault,
// so that a SIGBUS in a command becomes a recovered panic that shm's
// FaultError turns into an error, instead of killing the process.

// watchPeriod is how often the file is checked when no interval flush
// does it.
const watchPeriod = time.Second

// abandonWait bounds how long a failed server waits for its goroutines: one
// may be stuck on a lock in the mapping that will never be released.
const abandonWait = 2 * time.Second

// storageFailed records the first fatal storage error and stops the server.
// It may be called from any goroutine, several times.
func (s *Server) storageFailed(err error) {
	err = fmt.Errorf("%w: %w", ErrStorage, err)
	if !s.fatal.CompareAndSwap(nil, &err) {
		return
	}
	s.log.Error("memory file failed; stopping without sending the replies still held", "file", s.cfg.File, "err", err)
	s.stopListening()
	s.closeConns()
}

// stopListening begins Close, Shutdown and the stop after a storage
// failure: it marks the server closing, ends lock waits and the change feed
// reader, and closes the listeners and HTTP servers. It touches nothing in
// the mapping, which may fault after a storage failure.
func (s *Server) stopListening() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	s.live.stop() // a context, not the mapping
	for c := range s.closers {
		c.Close()
	}
}

// storageErr returns the fatal storage error, or nil.
func (s *Server) storageErr() error {
	if p := s.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// closedErr is what Serve returns once the server is closing.
func (s *Server) closedErr() error {
	if err := s.storageErr(); err != nil {
		return err
	}
	return ErrServerClosed
}

// guardFaults makes a memory fault in the calling goroutine a panic that
// endFaulted can recover; it must be called first thing in a goroutine
// that touches the mapping.
func guardFaults() { debug.SetPanicOnFault(true) }

// endFaulted is deferred by a connection's goroutine: it recovers a memory
// fault, fails the server with it, and ends the connection without sending
// its pending replies. Any other panic goes on.
func (c *conn) endFaulted() {
	r := recover()
	if r == nil {
		return
	}
	err := c.s.mem.FaultError(r)
	if err == nil {
		panic(r)
	}
	c.wr.Reset()
	c.raw.Close()
	c.releaseMem()
	c.endSubscriber() // its pusher goroutine; locks stay to lockd's recovery
	c.s.untrackConn(c)
	c.s.storageFailed(err)
	if c.logged {
		c.s.log.Info("client disconnected", "addr", c.remote, "id", c.id, "proto", c.proto, "reason", "memory fault")
	}
}

// recoverFault is deferred by the server's own goroutines that touch the
// mapping (they run guardFaults first): a memory fault there fails the
// server, as in a connection's goroutine, instead of killing the process.
func (s *Server) recoverFault() {
	r := recover()
	if r == nil {
		return
	}
	err := s.mem.FaultError(r)
	if err == nil {
		panic(r)
	}
	s.storageFailed(err)
}

// watchFile checks the file once; see syncLoop.
func (s *Server) watchFile() {
	if err := s.mem.FileError(); err != nil {
		s.storageFailed(err)
	}
}

// abandon ends a server whose storage failed: it waits a bounded time for
// its goroutines and leaves the Memory mapped.
func (s *Server) abandon(err error) error {
	done := make(chan struct{})
	go func() { // ends when the last goroutine does, or with the process
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(abandonWait):
		s.log.Warn("goroutines still running after the storage failure; the process must exit", "count", s.goroutines.Load())
	}
	s.log.Info("memory abandoned", "file", s.cfg.File, "err", err)
	return err
}
