package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

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
	return &FSM{m: m, a: a, decode: DecodeEntry, applied: n, changed: make(chan struct{})}, nil
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
	reply, cmdErr, err := applyEntry(f.m, f.a, l.Index, args)
	if err != nil {
		f.halt(fmt.Errorf("entry %d: %w", l.Index, err))
		return &Result{Err: fmt.Errorf("%w: %w", ErrHalted, err)}
	}
	f.setApplied(l.Index)
	return &Result{Reply: Reply{Data: reply}, Err: cmdErr}
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
	return takeSnapshot(f.m, applied)
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
	if err := installSnapshot(f.m, s); err != nil {
		return err
	}
	f.mu.Lock()
	f.applied, f.halted = s.applied, nil
	f.broadcastLocked()
	f.mu.Unlock()
	return nil
}
