// Package lockd implements writer-priority reader/writer locks that live
// inside a shared file mapping, so that the goroutines of one process and the
// processes of one host lock the same variables with the same rules.
//
// # Fairness
//
// A Lock may be held by any number of readers or by one writer. Once a
// writer waits for a lock, no reader that arrives afterwards acquires it
// until that writer has acquired and released it: a writer waits only for
// the readers already inside, so a stream of readers never starves it. This
// is the rule of the classroom program dsm grew from. Writers that wait take
// the lock in no particular order among themselves, and a stream of writers
// may starve readers. Optimistic readers (Readable, WaitReadable: the way shm
// reads a single variable) obey the same rule: they wait while a writer holds
// or waits for the lock.
//
// # Records in the mapping
//
// A lock is a 16-byte record: a 64-bit state word changed only by
// compare-and-swap (readers, waiting writers, the writer bit and its owner,
// and a guard bit with its owner; see word.go), a 32-bit wake sequence (the
// futex word) and a 32-bit count of sleepers. A free lock is all zero, so a
// freshly allocated file needs no initialisation.
//
// The lock space also has a process table (one 64-byte slot per attached
// process: pid, generation, state, start time, generation at the last
// sweep) and a lane table (per slot, Layout.Lanes lanes of a 64-byte
// header — generation, entry count, commit flag — and Layout.LaneEntries
// entries of 16 bytes: the lock's offset with a mode in its low bits, and an
// auxiliary word).
//
// # Who may die, and what happens then
//
// Each attachment (Proc) holds an OFD byte-range lock on its slot's
// liveness byte in the file; the kernel drops it when the process dies. A
// writer's identity (slot and generation) is in the lock word itself. Read
// holds, waiting writers and group writes are recorded in lanes, and the
// reader and waiting counts are changed only while the lock's guard is held,
// together with the lane entries, so they can always be recounted exactly
// from the lanes of the live attachments.
//
// A waiter wakes at least every Options.Poll (100ms by default) and audits
// the lock: a writer or guard holder whose liveness byte is free or whose
// generation is over is dead. The first attachment to take a dead slot's
// liveness byte repairs it: write locks it recorded are handed to the
// RepairFunc (with the recorded value and whether the group had committed)
// and released; the locks it read or waited for are recounted; then the
// slot's generation moves on and it is freed. Only after that are the plain
// write locks of the dead owner released, by whoever waits for them. A dead
// holder's locks are thus released within about two poll intervals.
//
// # Waiting
//
// A writer that waits registers in the lock word and records the wait, so
// that a recovery can recount it. Proc.Lock's writers have no lane of their
// own: they record their waits in lanes they share, one entry each, so
// that however many writers wait, they take few lanes, and lanes stay free
// for the groups that hold locks. When every lane is borrowed, such a
// writer waits unregistered, and tries to register at each look, rather
// than wait for a lane: it may hold other locks, and a lane's borrower may
// be waiting for one of them. Writer priority holds for it from when it
// registers. AcquireLane waits for a lane (when its context ends first,
// its error wraps ErrNoLane); TryAcquireLane does not wait.
//
// Waiters spin briefly, then sleep on the lock's futex word with the shared
// (not private) futex operations, always with a timeout, and treat every
// return (EINTR, EAGAIN, time-out, spurious wake) as a reason to look again.
// At most Options.MaxSleepers goroutines of a process sleep in the kernel at
// once, and at most one per word; the others wait on a channel that the
// sleeper closes, so OS threads stay bounded under thousands of waiters.
// A goroutine that finds every sleeper token taken spills: it counts itself
// in the layout's spill record and waits, through one more sleeper per
// process, for the spill sequence, which every wake of any word moves while
// the count is not zero. So a wake from another process reaches every
// waiter at once, however many words they wait on, and a process has at
// most MaxSleepers+1 threads in futex waits.
//
// # Caveats
//
// A Proc must not be shared by two opens of the file; each open of the file
// attaches on its own. A process stopped (SIGSTOP) while holding a lock is
// alive, and its locks stay held. Owner names carry the slot's generation
// modulo 128, so a hold left by an earlier attachment of a slot could one
// day carry the name of a new one; Attach therefore sweeps every lock of
// Layout.Locks for holds naming the slot it claims and releases them
// (repairing write holds) before it uses the slot, whenever the slot's
// generation has moved 64 past its last sweep (recorded in the process
// slot), long before any such name can come back.
package lockd
