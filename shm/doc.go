// Package shm is dsm's memory: one memory-mapped file of named variables
// that any process on the host may open and use directly, at memory speed,
// with the same guarantees as the daemon that serves it over the network.
//
// # Model
//
// A variable has a name of at most NameMax bytes, a value (a signed 64-bit
// integer or a byte string of at most ValueMax bytes) and a version that
// rises by one on every change, deletion included. Versions count per
// slot: a variable created in a slot starts from the slot's next version,
// unless a lock group that creates it gives it a version of its own
// (LockGroup.SetCreateVersion, which a cluster uses to give a variable
// the same version on every node). Every operation on one
// variable is linearizable; MGet reads several at one instant and MSet writes
// several all or nothing, also across a crash. Every access goes through the
// variable's writer-priority lock of package lockd: writers take it, Get is an
// optimistic read of it (it waits while a writer holds or waits, copies the
// value, and checks that the version did not move), and so is MGet of
// several (it takes read locks only if writers keep moving them).
//
// Each variable keeps two value buffers; the parity of its version says which
// one is current. A writer fills the spare buffer and then stores the new
// version, a single 8-byte store that is the commit point: a process killed
// at any instant leaves the old or the new value, never a torn one.
//
// # Processes
//
// Any number of processes (up to Config.Procs) may open a file at once; each
// open attaches to the lock space and takes an OFD lock on its liveness byte.
// The daemon also takes the file's daemon byte (Config.Exclusive), so there
// is one daemon per file; local processes do not take it and work whether a
// daemon runs or not.
//
// # Replicated files
//
// A cluster node's file is replicated (MarkReplicated, which its daemon
// calls when the node starts): only the daemon, whose apply executes what
// the cluster commits, writes it. Local processes still map it and read
// it at memory speed: what the node has applied, never torn, possibly
// behind the leader; SyncReads makes the reads after it linearizable.
// Their writes (Set, SetWith, Add, CompareAndSwap, CompareVersionAndSwap,
// Delete, MSet and a Handle's) are sent to the daemon over the Unix
// socket beside the file (SocketPath: the file's path plus ".sock") and
// return once the node has applied them, with the results and versions
// they would have had here; with the daemon down they fail with
// ErrNoDaemon while reads go on. Write lock groups, Install, Flush and
// Restore fail with ErrReplicated outside the daemon. See replicated.go
// and remote.go.
//
// # Whole-file writes
//
// Install replaces the whole content of the file in place with an image
// (each variable with exactly its version, every other variable deleted;
// a cluster node installs its snapshot so), and Flush deletes every
// variable. Both take every variable's lock and the index lock, as
// writers with writer priority, so readers in every process see each
// variable, and every MGet, all old or all new. They are not one commit:
// the header is marked while one runs, and Open refuses a file left
// marked by a crash with ErrInstallIncomplete (see whole.go and
// Config.AllowIncomplete).
//
// # Durability
//
// Writes reach the page cache at once and survive the crash of any process.
// Sync flushes the file (msync); SyncBarrier does so for a group of
// concurrent callers at once. Whether a power loss can lose writes depends on
// how often the owner of the file calls them (dsmd's -sync).
//
// A Memory may also hand a record of each of its own writes to a RedoLog
// (SetRedoLog), after the write is in the mapping and while it holds the
// write locks; Restore brings variables forward to logged states after a
// crash. dsmd's -sync always keeps such a redo log so that a durable batch
// costs one sequential synchronous write instead of a flush of scattered
// pages. The redo log is the daemon's: its files and format are not part of
// the memory file's format, and writes made through other Memories (other
// processes) are not in it.
//
// # Storage faults
//
// The mapping is valid only while the file keeps its size. A file that
// another process truncates makes accesses to the lost pages raise SIGBUS;
// FileError finds a truncated, deleted or replaced file (every flush calls
// it after msync, so such a flush fails), and FaultError turns a fault
// recovered under debug.SetPanicOnFault into an error. A long-lived owner
// must stop using the Memory after either (see fault.go and dsmd).
//
// # Failure points
//
// fail.go names the points where a crash could hurt (inside a write, a
// lock group's commit, a flush). They cost nothing in a normal build;
// built with -tags dsmfail a process can be made to kill itself at one of
// them, which the crash tests use.
//
// # File layout
//
// All integers are little-endian; offsets are from the start of the file.
// The file is allocated whole when it is created and never changes size.
//
//	page 0 (offset 0)     meta A
//	page 1 (offset 4096)  meta B; the valid one with the higher txid wins
//	page 2 (offset 8192)  lock bytes, never written: byte 0 is the daemon
//	                      lock, byte 64+i the liveness of process slot i
//	page 3 (offset 12288) control block
//	procsOff              process table: procs x 64 bytes (package lockd)
//	lanesOff              lane table: procs x lanes x (64 + 16*(groupMax+1))
//	indexOff              hash index: indexSize x uint32
//	slotsOff              slots: vars x slotSize
//
// A meta page:
//
//	0   [8]byte  magic "DSMMEM\x00\x01"
//	8   uint32   format version: 1, or 2 for a replicated file
//	12  uint32   flags: bit 0 an Install or Flush under way (see whole.go),
//	             bit 1 replicated (set in format 2 and only there)
//	16  uint32   page size (4096)
//	24  uint64   txid: higher is newer
//	32  uint32   vars: capacity in variables
//	36  uint32   nameMax
//	40  uint32   valueMax
//	44  uint32   procs: process slots
//	48  uint32   lanes per process slot (Config.Lanes; dsmd's -lock-lanes)
//	52  uint32   groupMax: most variables in one MGet or MSet
//	56  uint64   hash seed (Config.Seed, or random)
//	64  int64    creation time, Unix nanoseconds
//	72  uint32   slotSize = roundup(64 + roundup(nameMax,8) + 2*(8+roundup(valueMax,8)), 64)
//	76  uint32   indexSize: the least power of two >= 2*vars
//	80  uint64   procsOff = 16384
//	88  uint64   lanesOff = roundup(procsOff + 64*procs, 4096)
//	96  uint64   indexOff = roundup(lanesOff + lane table size, 4096)
//	104 uint64   slotsOff = roundup(indexOff + 4*indexSize, 4096)
//	112 uint64   file size = roundup(slotsOff + vars*slotSize, 4096)
//	136 uint32   CRC-32C (Castagnoli) of bytes 0..135
//
// Format 2 is format 1's layout with the replicated flag: a file carries
// the lowest format that describes it, so files of one host stay
// readable by older programs, while a program that reads only format 1
// refuses a replicated file (both meta pages are rewritten as format 2),
// rather than write around the cluster's log.
//
// Open checks, in order: the magic (ErrNotDSM), the format version
// (ErrVersion), the checksum (ErrCorrupt), the ranges of the capacities and
// that the stored layout equals the one derived from them (ErrCorrupt), and
// that the file is as long as the layout (ErrTruncated). The headers are
// read with pread, never through the mapping, so a damaged file is refused
// before anything is mapped. Growth will write a new meta with a higher txid
// and larger capacities; the two pages let that be done safely.
//
// The control block:
//
//	0   [16]byte lock record of the index lock (package lockd)
//	64  uint64   index sequence: odd while the index or free list changes
//	72  uint32   free list head: slot+1, 0 if the file is full
//	128 uint64   change feed sequence: changes appended so far
//	136 uint32   change feeds open, in any process
//	140 uint32   change feeds asleep on the sequence
//	144 uint32   spill sequence (package lockd: moves on wakes while someone spills)
//	148 uint32   spilled waiters, in any process
//	256 [240]    change feed ring, 16-byte entries: uint64 sequence+1, uint32 slot, 4 zero bytes
//
// The index is an open-addressing table with linear probing; an entry is
// slot+1, 0 is empty. The bucket of a name is the low bits of its hash: FNV-1a
// (64-bit) started from seed XOR the FNV offset basis, then the MurmurHash3
// fmix64 finaliser. Deletion shifts later entries back; there are no
// tombstones. Lookups take no lock: a hit is confirmed by the slot, a miss by
// an unchanged, even index sequence. The index and free list are derived
// data: if a holder of the index lock dies, they are rebuilt from the slots.
//
// Open reads only the header, so that it stays fast whatever the file's
// size; the body is verified by Check, which reads every slot, the index
// and the free list, and Repair rebuilds the derived data when that is all
// that is damaged (dsmd runs it before it serves; see check.go).
//
// A slot:
//
//	0   [16]byte lock record of the variable (package lockd)
//	16  uint64   version; version&1 selects the current buffer
//	24  uint32   state: bit 31 live; bits 0-30 incarnation (changes on reuse)
//	28  uint32   goroutines in Wait (a hint for writers to wake them)
//	32  uint32   name length
//	36  uint32   next free slot + 1, while the slot is free
//	40  uint64   hash of the name
//	64  [roundup(nameMax,8)]byte name
//	    buffer 0, then buffer 1, each 8+roundup(valueMax,8) bytes:
//	    0 uint32 length, 4 uint32 kind (0 none, 1 int64, 2 bytes), 8 data
//
// A live slot whose current buffer has kind 0 is a variable with no value:
// it reads as missing (MSet creates its variables that way before it fills
// them in one group).
// Writers leave length 0 with kind 0, 8 with kind 1 and at most valueMax
// with kind 2. A current buffer of another kind, or a byte string longer
// than valueMax, is damage: an operation that reads it fails with
// ErrDamaged naming the slot, and one that replaces the value (Set, MSet,
// Delete) writes over it.
//
// # Caveats
//
// A process that has the file open when an Install or Flush dies in
// another process reads the part-installed state once the dead writer's
// locks are recovered; only the next Open reports it.
//
// Linux only (futexes, OFD locks). Capacities are fixed when the file is
// created. Len and Stats read every slot (Limits does not). DEL of several names removes each
// atomically, not as a group.
package shm
