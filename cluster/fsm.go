package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

// Result is what FSM.Apply returns for a command entry: the Applier's
// reply or the command's error; an error wrapping ErrHalted means the FSM
// could not apply the entry at all. Skipped reports an entry at or below
// the file's applied index, applied before a restart and not applied again.
type Result struct {
	Reply   Reply
	Err     error
	Skipped bool
}

// FSM is the replicated state machine over one memory file. Raft's apply
// goroutine is its only writer: Apply, Snapshot and Restore never run at
// once, and local processes do not write a replicated file.
type FSM struct {
	m      *shm.Memory
	a      Applier
	decode func([]byte) ([][]byte, error) // DecodeEntry but in tests

	locks      *LockTable // client-held locks (locks.go)
	lockPath   string     // where the table is kept (LockFile); "" keeps it in memory
	locksAhead bool       // the lock file is ahead of the memory file: a snapshot install must follow

	mu      sync.Mutex    // guards applied, halted and changed
	applied uint64        // index of the last entry applied to the file
	halted  error         // why apply stopped, if it did
	changed chan struct{} // closed (and replaced) when either changes
}

// NewFSM returns the state machine of m, which executes commands through a,
// starting from the applied index recorded in m.
func NewFSM(m *shm.Memory, a Applier) (*FSM, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no Applier", ErrConfig)
	}
	n, err := appliedIndex(m)
	if err != nil {
		return nil, err
	}
	return &FSM{m: m, a: a, decode: DecodeEntry, applied: n, changed: make(chan struct{}), locks: newLockTable()}, nil
}

// loadLocks reads the lock table from path and keeps it there from now
// on. The table is written before the entry that changed it is committed
// to the memory file, so it may be one entry ahead (FSM.applyLock skips
// that entry's change when it comes again); further ahead means the file
// is behind a snapshot whose table was written before the file's install
// was, and that install must complete it (NewNode checks).
func (f *FSM) loadLocks(path string) error {
	t, err := readLockFile(path, time.Now())
	if err != nil {
		return err
	}
	f.locks.replace(t)
	f.lockPath, f.locksAhead = path, t.at > f.applied+1
	return nil
}

// Applied returns the index of the last entry applied to the file.
func (f *FSM) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// Halted returns why the FSM stopped applying, or nil.
func (f *FSM) Halted() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.halted
}

func (f *FSM) state() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, f.halted
}

// watch returns the applied index, why apply halted (if it did) and a
// channel closed at the next change of either: a waiter needs no polling.
func (f *FSM) watch() (applied uint64, changed <-chan struct{}, halted error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, f.changed, f.halted
}

// broadcastLocked wakes the waiters of watch; f.mu must be held.
func (f *FSM) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *FSM) setApplied(n uint64) {
	f.mu.Lock()
	f.applied = n
	f.broadcastLocked()
	f.mu.Unlock()
}

func (f *FSM) halt(err error) {
	f.mu.Lock()
	f.halted = err
	f.broadcastLocked()
	f.mu.Unlock()
}

// WaitApplied waits until the FSM has applied the entry at index (or a
// later one, or installed a snapshot that holds it). It fails if ctx ends
// first or if apply halts below index.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		applied, changed, halted := f.watch()
		switch {
		case applied >= index:
			return nil
		case halted != nil:
			return fmt.Errorf("%w: %w", ErrHalted, halted)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Apply applies one committed entry and returns a *Result. An entry at or
// below the applied index is skipped. An entry of a newer format halts the
// FSM: it applies nothing more (and does not advance its index), so that a
// node never diverges from newer ones by skipping what it cannot read;
// restarted with a newer dsm, it replays from there.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	applied, halted := f.state()
	switch {
	case halted != nil:
		return &Result{Err: fmt.Errorf("%w: %w", ErrHalted, halted)}
	case l.Index <= applied:
		return &Result{Skipped: true}
	}
	args, err := f.decode(l.Data)
	if err != nil {
		if errors.Is(err, ErrEntryVersion) {
			f.halt(fmt.Errorf("entry %d: %w", l.Index, err))
			return &Result{Err: fmt.Errorf("%w: %w", ErrHalted, err)}
		}
		if err := recordApplied(f.m, l.Index); err != nil {
			f.halt(err)
			return &Result{Err: fmt.Errorf("%w: %w", ErrHalted, err)}
		}
		f.setApplied(l.Index)
		return &Result{Err: err}
	}
	reply, cmdErr, err := f.applyArgs(l.Index, args)
	if err != nil {
		f.halt(fmt.Errorf("entry %d: %w", l.Index, err))
		return &Result{Err: fmt.Errorf("%w: %w", ErrHalted, err)}
	}
	f.setApplied(l.Index)
	return &Result{Reply: Reply{Data: reply}, Err: cmdErr}
}

// applyArgs applies a decoded entry: a lock-table operation, a holder's or
// a fenced write, or the Applier's command, which the lock table may hold
// back (ErrLocked: every node refuses it alike, and its proposer may send
// it again once the lock is gone).
func (f *FSM) applyArgs(index uint64, args [][]byte) (reply []byte, cmdErr, err error) {
	var holder, token uint64
	switch string(args[0]) {
	case entryLock:
		return f.applyLock(index, args[1:])
	case entryFlush:
		reply, err = f.applyFlush(index)
		return reply, nil, err
	case entryHeld, entryFenced:
		if len(args) < 3 {
			return nil, ErrLockArgs, recordApplied(f.m, index)
		}
		n, perr := strconv.ParseUint(string(args[1]), 10, 64)
		if perr != nil || n == 0 {
			return nil, ErrLockArgs, recordApplied(f.m, index)
		}
		if holder = n; string(args[0]) == entryFenced {
			holder, token = 0, n
		}
		args = args[2:]
	}
	ks, cmdErr := keys(f.a, args)
	if cmdErr == nil && (holder != 0 || token != 0 || !f.locks.Empty()) {
		cmdErr = f.locks.checkWrite(ks, holder, token)
	}
	if cmdErr != nil {
		return nil, cmdErr, recordApplied(f.m, index)
	}
	return applyKeys(f.m, f.a, index, args, ks)
}

// applyLock applies a lock-table operation: the table changes, is written
// to its file, and only then does the applied index move in the memory
// file. An operation the table already holds (written before a crash that
// came before the index moved) is not applied twice.
func (f *FSM) applyLock(index uint64, args [][]byte) (reply []byte, cmdErr, err error) {
	if index <= f.locks.lastIndex() {
		return nil, nil, recordApplied(f.m, index)
	}
	reply, cmdErr = f.locks.apply(index, args, time.Now())
	if cmdErr == nil && f.lockPath != "" {
		if err := writeLockFile(f.lockPath, f.locks); err != nil {
			return nil, nil, fmt.Errorf("write the lock table: %w", err)
		}
		failpoint(FailLockTable)
	}
	return reply, cmdErr, recordApplied(f.m, index)
}

// Snapshot copies every variable (name, value, version) and the applied
// index while apply is paused; Persist then writes the copy while apply
// goes on. Local readers are not disturbed: the copy is read like any read.
// A halted FSM refuses: Raft would label the copy with an index beyond what
// the file holds and compact away the entries it still has to apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	applied, halted := f.state()
	if halted != nil {
		return nil, fmt.Errorf("%w: %w", ErrHalted, halted)
	}
	s, err := takeSnapshot(f.m, applied)
	if err != nil {
		return nil, err
	}
	s.locks = f.locks.encode(applied)
	return s, nil
}

// Restore installs a snapshot in place into the FSM's file (see
// installSnapshot) and takes its applied index.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	return f.install(s)
}

func (f *FSM) install(s *snapshot) error {
	t, err := s.lockTable(time.Now())
	if err != nil {
		return err
	}
	// The table first: a crash before the file's install completes leaves
	// the file behind it, and the start installs this snapshot again.
	if f.lockPath != "" {
		if err := writeLockFile(f.lockPath, t); err != nil {
			return fmt.Errorf("write the lock table: %w", err)
		}
	}
	if err := installSnapshot(f.m, s); err != nil {
		return err
	}
	f.locks.replace(t)
	f.locksAhead = false
	f.mu.Lock()
	f.applied, f.halted = s.applied, nil
	f.broadcastLocked()
	f.mu.Unlock()
	return nil
}

// Locks returns the FSM's lock table.
func (f *FSM) Locks() *LockTable { return f.locks }
