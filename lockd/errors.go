package lockd

import "errors"

var (
	// ErrNoSlot is returned by Attach when every process slot is taken by
	// a live attachment.
	ErrNoSlot = errors.New("lockd: every process slot is in use")
	// ErrLayout is returned by Attach when the layout does not fit the mapping.
	ErrLayout = errors.New("lockd: layout does not fit the mapping")
	// ErrTooManyHolds is returned when a lane holds as many locks as it has
	// entries.
	ErrTooManyHolds = errors.New("lockd: too many locks held in one lane")
	// ErrTooManyWaiters is returned when MaxWaitingWriters writers already
	// wait for a lock.
	ErrTooManyWaiters = errors.New("lockd: too many writers waiting for one lock")
	// ErrNoLane is wrapped by AcquireLane's error when no lane became free
	// before its context ended: as many goroutines hold lanes as the
	// layout has lanes per process slot.
	ErrNoLane = errors.New("lockd: no free lane")
	// ErrDetached is returned by calls on a Proc after Detach.
	ErrDetached = errors.New("lockd: detached")
)
