package shm

import "errors"

// Errors returned by this package, to be checked with errors.Is. Errors
// about a file wrap one of the file errors with the path and the detail.
var (
	ErrNotFound      = errors.New("shm: no such variable")
	ErrNotInteger    = errors.New("shm: value is not an integer")
	ErrOverflow      = errors.New("shm: increment or decrement would overflow")
	ErrFull          = errors.New("shm: the file has no room for another variable")
	ErrNameTooLong   = errors.New("shm: name too long")
	ErrEmptyName     = errors.New("shm: empty name")
	ErrValueTooLarge = errors.New("shm: value too large")
	ErrTooMany       = errors.New("shm: too many variables in one atomic group")
	ErrClosed        = errors.New("shm: memory is closed")
	ErrLocked        = errors.New("shm: another daemon serves this file")
	ErrStale         = errors.New("shm: handle's variable was deleted")
	// ErrNoLane: Lock found every lock lane of this process held by
	// groups until its context ended (Limits.Lanes; Config.Lanes sets a
	// new file's count). The error also wraps the context's error.
	ErrNoLane = errors.New("shm: no free lock lane")

	// ErrNotHeld is returned for an operation through a LockGroup on a
	// variable it does not hold, or a write through a read group.
	ErrNotHeld = errors.New("shm: variable not locked by this group")

	// ErrCreateVersion is returned by LockGroup.Commit when the group's
	// create version (LockGroup.SetCreateVersion) is not above the
	// version of a slot it would create a variable in: versions would
	// fall. The error names the variable and both versions.
	ErrCreateVersion = errors.New("shm: create version is not above the slot's version")

	// ErrReplicated: a write lock group (Lock with write or create),
	// Install, Flush or Restore on a replicated file (a cluster node's,
	// MarkReplicated) from a process other than the node's daemon. Only
	// the node's apply writes the file; the single-variable writes and
	// MSet of a local process go through the daemon instead.
	ErrReplicated = errors.New("shm: the file is replicated: only the node's daemon writes it, and write lock groups, Install and Flush are its own")
	// ErrNoDaemon: a write (or SyncReads) on a replicated file from a local
	// process found the node's daemon not running, or lost it before its
	// reply (the error then says that the write may have been applied).
	// Reads from the mapping go on.
	ErrNoDaemon = errors.New("shm: the node's daemon is not running: writes to a replicated file go through it")
	// ErrDaemon: the node's daemon refused a local process' write or
	// SyncReads for a reason that is none of this package's errors (no
	// leader, an outcome it cannot know, a protocol failure); the error
	// carries the daemon's words.
	ErrDaemon = errors.New("shm: the node's daemon refused the request")

	// File errors, returned by Open.
	ErrNotDSM    = errors.New("shm: not a dsm memory file")
	ErrVersion   = errors.New("shm: file format is newer than this program")
	ErrCorrupt   = errors.New("shm: file header is corrupt")
	ErrTruncated = errors.New("shm: file is truncated")
	ErrConfig    = errors.New("shm: invalid configuration")

	// ErrBusy: Upgrade found another process attached to the file (or a
	// daemon serving it, which is ErrLocked); the error says how many.
	ErrBusy = errors.New("shm: the file is in use by other processes")

	// ErrInstallIncomplete: an Install or Flush into the file was cut
	// short (its process died): the file holds part of the old content
	// and part of the new. Open refuses it unless Config.AllowIncomplete
	// is set; an Install or Flush that completes ends the state.
	ErrInstallIncomplete = errors.New("shm: an install into the file was cut short; install again")
	// ErrImage: an image given to Install does not fit the file (another
	// hash seed or capacities) or is malformed (a name twice, a variable
	// without a value or with version 0).
	ErrImage = errors.New("shm: image does not fit the file")

	// ErrRedoRecord: a redo log record given to Restore does not fit the file
	// (its slot is out of range or holds another name).
	ErrRedoRecord = errors.New("shm: redo log record does not match the memory file")

	// Damage in the body of a file, found by Check or met by an
	// operation. ErrDamaged is damage to a slot's own content (a value of
	// an unknown kind or too long, a name no writer leaves, a name live in
	// two slots): the error names the slot and what is wrong, and nothing
	// can rebuild it. ErrIndexDamaged is damage to what is derived from the
	// slots (the index, the free list, a slot's stored hash), which Repair
	// rebuilds.
	ErrDamaged      = errors.New("shm: file is damaged")
	ErrIndexDamaged = errors.New("shm: index or free list is damaged")

	// Storage faults, found while the file is in use (fault.go).
	ErrFileGone = errors.New("shm: file was deleted or replaced")
	ErrFault    = errors.New("shm: memory access fault")
)
