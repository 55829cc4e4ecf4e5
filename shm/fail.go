package shm

// Failure points: the places where a crash could hurt. In a normal build
// failpoint is an empty function that the compiler removes, so they cost
// nothing. A build with the dsmfail tag (fail_dsmfail.go, over
// internal/failpoint, which the redo log's points use too) makes them real:
// a process may be told to kill itself with SIGKILL at the n-th pass of a
// point (ArmFailpoint, or DSM_FAILPOINT=name[@n] in its environment), and a
// test may run a hook there (SetFailHook). The failure tests of this
// package and of package server use them; scripts/test runs those with
// -tags dsmfail.
//
// Every write passes FailBeforeValue, FailValueWritten and FailPublished
// for each variable it writes, in Memory.commit, and a group write passes
// FailGroupHalf and FailGroupCommitted there too.
const (
	// FailLocked: a writer holds a variable's lock and has written nothing.
	FailLocked = "locked"
	// FailBeforeValue: about to fill the spare buffer of a variable.
	FailBeforeValue = "before-value"
	// FailValueWritten: the spare buffer holds the new value; the version
	// (the commit point) is not yet stored.
	FailValueWritten = "value-written"
	// FailPublished: the new version is stored; the lock is still held.
	FailPublished = "published"
	// FailUnlocked: the writer has just released the variable's lock.
	FailUnlocked = "unlocked"
	// FailGroupHalf: a lock group's commit (or MSet's) has filled the spare
	// buffers of its first variable but not of the others; its commit
	// point is not set.
	FailGroupHalf = "group-half"
	// FailGroupCommitted: a group's commit point is set and its first
	// variable is published, the others not yet.
	FailGroupCommitted = "group-committed"
	// FailAllocating: a writer holds the allocator lock of a format-2
	// file and has taken a value block, which its cell does not yet name
	// (see Memory.prepare).
	FailAllocating = "allocating"
	// FailRebuilding: a rebuild of the index and free list (Repair, or the
	// repair of a dead holder's index change) has cleared the index and
	// placed no slot yet.
	FailRebuilding = "rebuilding"
	// FailInstalling: an Install or Flush has marked the file and written
	// one more of its variables; the others are not yet written.
	FailInstalling = "installing"
	// FailBeforeFlush: about to flush the file (msync).
	FailBeforeFlush = "before-flush"
	// FailAfterFlush: the flush returned.
	FailAfterFlush = "after-flush"
)

// FailPoints lists every failure point.
var FailPoints = []string{FailLocked, FailBeforeValue, FailValueWritten, FailPublished, FailUnlocked,
	FailGroupHalf, FailGroupCommitted, FailAllocating, FailRebuilding, FailInstalling, FailBeforeFlush, FailAfterFlush}
