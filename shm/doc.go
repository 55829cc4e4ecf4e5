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
// Each variable keeps two value buffers (format 2: two cells); the parity
// of its version says which one is current. A writer fills the spare one
// and then stores the new version, a single 8-byte store that is the
// commit point: a process killed at any instant leaves the old or the new
// value, never a torn one.
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
// # File layout (format 1)
//
// Two file formats exist. Format 1, below, gives every slot two buffers
// of the longest value and never changes size. Format 2 (the next
// section) keeps small values in compact slots and long ones out of line,
// and is laid out to grow while in use and to let variables expire. The
// header's version field tells them apart: 1 or 2 is format 1 (plain or
// replicated), 3 is format 2.
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
// # File format 2
//
// Format 2 (header version 3) is format 1 made compact and ready to grow.
// A slot holds an integer, or a byte string of at most 8 bytes, in place;
// a longer value lives out of line, in a value block of an arena, which
// the slot's cell points to. A slot is 128 bytes at the defaults (format
// 1's was 768), so a write dirties and a flush writes back little more
// than the value. Each cell also holds the variable's expiry deadline and
// the time of its last change. The regions that grow (the index, the
// slots, the arenas) are extents listed in the header, so that growth
// appends extents and rewrites the header, and moves nothing.
//
// Files are numbered as the product speaks of them, and the header says
// which: version 1 or 2 is format 1 (plain, replicated), version 3 is
// format 2. Format 2 marks a replicated file with flag bit 1 alone, its
// version staying 3: the second number of format 1 existed only so that
// programs older than the mark would refuse the file, and every program
// that reads version 3 knows the flag.
//
// The file:
//
//	page 0, 1          meta A, meta B (as format 1: the valid one with the higher txid wins)
//	page 2             lock bytes (as format 1)
//	page 3             control block (as format 1, and the growth generation)
//	page 4             heap page: the allocator lock, free lists, free bytes
//	procsOff = 20480   process table: procs x 64 bytes
//	lanesOff           lane table, as format 1
//	then extents, page-aligned, in the order they were made; a new file has:
//	indexOff           hash index: indexSize x uint32 (as format 1)
//	chunk[0]           slot chunk 0: vars0 slots of slotSize bytes
//	arena[0]           arena 0: 2^a bytes of value blocks
//
// Slots come in chunks: chunk 0 holds vars0 slots (a power of two), and
// each growth adds chunk k holding vars0<<(k-1), doubling the capacity.
// Slot s lives in chunk k = bits.Len32(s >> log2(vars0)), at chunk[k] +
// (s - first(k))*slotSize, where first(0) = 0 and first(k) = vars0<<(k-1).
// A growth also builds a new index of twice the size (the old one is left
// unused) and may add an arena. Arena 0's size is Config.ValueArea rounded
// up to a power of two (by default 64 bytes per slot: 4 MiB at the
// defaults), at least 64 KiB and at least four blocks of the longest
// value (a variable may own two); a header is refused only if its arena
// cannot hold one.
//
// A meta page:
//
//	0   [8]byte  magic "DSMMEM\x00\x01"
//	8   uint32   format version: 3
//	12  uint32   flags: bit 0 an Install or Flush under way; bit 1 replicated
//	16  uint32   page size (4096)
//	20  uint32   slotSize: 112 + the bytes of a name kept in place; a multiple of 64, 128 at the defaults
//	24  uint64   txid: higher is newer
//	32  uint32   vars: capacity now, vars0 << (chunks-1)
//	36  uint32   nameMax
//	40  uint32   valueMax (65536 at the defaults)
//	44  uint32   procs
//	48  uint32   lanes
//	52  uint32   groupMax
//	56  uint64   hash seed
//	64  int64    creation time, Unix nanoseconds
//	72  uint32   vars0: the slots of chunk 0, a power of two
//	76  uint32   indexSize: the least power of two >= 2*vars
//	80  uint64   procsOff = 20480
//	88  uint64   lanesOff = roundup(procsOff + 64*procs, 4096)
//	96  uint64   indexOff: the current index
//	104 uint32   chunks: 1..32
//	108 uint32   arenas: 1..32
//	112 uint64   file size: the end of the last extent
//	120 uint64   maxSize: the most the file may grow to, a multiple of 4096
//	128 uint64   growth generation: 0 when created, one more per growth
//	136 [32]uint64 chunk offsets, chunk[0] first; 0 past the last
//	392 [32]uint64 arenas: offset | log2(size) in the low 6 bits; 0 past the last
//	648 uint32   CRC-32C (Castagnoli) of bytes 0..647
//
// The first 32 bytes mean the same in both formats. Open checks, in order:
// the magic (ErrNotDSM), the version (ErrVersion if newer than the
// program's; format 1 is refused with ErrUpgrade, which says how to
// upgrade it, once format 2 is the default), the checksum (ErrCorrupt),
// the capacities' ranges, that vars, indexSize and the extents follow from
// vars0 and the counts, that every extent is page-aligned, lies between
// the lane table's end and the file size, and overlaps no other, that an
// arena is at least 64 KiB and holds the largest value's block, and that
// vars <= maxVars and file size <= maxSize (ErrCorrupt); then the file's
// length (ErrTruncated). A file longer than its header says is accepted:
// the tail is what a growth cut short left, and the next growth writes
// over it. The header of a new file (generation 0) must be exactly the
// derived layout: index, chunk 0 and arena 0, each at the next page.
//
// The control block holds format 1's fields at format 1's offsets (the
// change feed's ring fills it from 256 to its end), and:
//
//	80  uint64   growth generation, published: the meta's, or behind it while a growth publishes
//
// The growth generation shares a cache line with the index sequence,
// which every lookup reads anyway. The heap page (page 4):
//
//	0   [16]byte lock record of the allocator lock (package lockd)
//	16  uint64   bytes in free value blocks (derived; for Stats and for growth's trigger)
//	64  [41]uint64 free list heads: the first free block of class k at 64+8k, 0 if none
//
// A slot (slotSize bytes, 64-byte aligned):
//
//	0   [16]byte lock record of the variable (package lockd)
//	16  uint64   version; version&1 selects the current cell
//	24  uint32   state: bit 31 live; bits 0-30 incarnation
//	28  uint32   goroutines in Wait
//	32  uint32   name length
//	36  uint32   next free slot + 1, while the slot is free
//	40  uint64   hash of the name
//	48  [32]     cell 0
//	80  [32]     cell 1
//	112 [slotSize-112] the name, if it fits; else uint64 offset of its name block
//
// A cell:
//
//	0   uint32   length: a byte string's; 8 for an integer; 0 for none
//	4   uint32   kind: 0 none, 1 int64, 2 bytes in place (length <= 8), 3 bytes in a value block
//	8   int64    changed: Unix nanoseconds, when the write that filled the cell was made (to a millisecond or so: clock.go)
//	16  int64    deadline: Unix milliseconds after which the value is gone (as Redis); 0 never
//	24  [8]byte  data: the int64, the bytes in place, or the value block's offset
//
// The fields before the cells are format 1's, at format 1's offsets. A
// cell is one state of the variable: value, deadline and time of change
// are written together into the spare cell and made current by the one
// version store, so a SET with an expiry, EXPIRE and PERSIST are writes
// like any other and a crash leaves the old state or the new, whole. A
// live slot whose current cell has kind 0 is a variable with no value, as
// in format 1. A current cell of another kind, a length over valueMax (or
// over 8 in place, or over its block), or a block offset that is not a
// used block of an arena is damage (ErrDamaged).
//
// # Value blocks and their allocator (format 2)
//
// An arena of 2^a bytes is cut into blocks by the binary buddy system: a
// block of class k is 2^k bytes (k >= 5) at a multiple of 2^k from its
// arena's start; its buddy is the block at that offset XOR 2^k. A new arena
// is one free block of class a. A value of n bytes takes a block of the
// least class with 2^k >= n+16.
//
//	0   uint8    class k
//	1   uint8    state: 1 free, 2 holds a value, 3 holds a name
//	2   [6]byte  zero
//	8   uint64   free: the next free block of the class, 0 at the end
//	16  uint64   free: the previous free block of the class, 0 at the start
//	16  [n]byte  used: the value's or name's bytes (the length is the cell's or the slot's)
//
// The allocator keeps these rules, which make it derived data:
//
//   - every block is either free (state 1, on its class's list) or named by
//     exactly one reference: a cell of kind 3 (current or spare, of any
//     slot) or a slot's name field (a name longer than the slot holds);
//   - references, block headers, free lists and the free-byte count change
//     only under the allocator lock, which is taken last, after the index
//     lock and a variable's lock, and held for a few stores;
//   - a split of a block of class k writes the upper half's header, then the
//     lower half's (class k-1: the split's commit); a merge of two free
//     buddies writes the lower one's header (class k+1) and nothing else.
//     So walking an arena from its start, block by block by the class in
//     each header, always finds its partition.
//
// If a holder of the allocator lock dies, lockd hands the lock to the
// repair, which rebuilds: it walks every arena by its headers, marks the
// blocks that references name (of live and free slots alike), merges free
// buddies, sets every header's state, relinks the free lists and recounts
// the free bytes. It is exact because nobody changes a reference while the
// repairer holds the lock. Check verifies the same rules (a block named
// twice, a used block named by nobody, a free list out of order are
// ErrIndexDamaged, which Repair rebuilds; a header the walk cannot pass is
// ErrDamaged).
//
// A write of one variable, holding its lock, at version v: the spare cell
// S is the one v+1 selects.
//
//  1. An integer or a string of at most 8 bytes: if S is of kind 3, free
//     its block under the allocator lock (S's kind becomes 0 there). Then
//     fill S (kind, length, data, deadline, changed).
//  2. A longer string of n bytes: if S is of kind 3 with a block of the
//     class n needs, or one class larger, reuse that block in place: no
//     allocator. Otherwise, under the allocator lock, free S's block if it
//     has one, take a block (splitting a larger one if need be; ErrFull,
//     naming the arenas, if there is none: the variable keeps its value)
//     and make S of kind 3 naming it. Then fill the block's bytes and S's
//     length, deadline and changed.
//  3. Store v+1: the commit point, as in format 1.
//
// Nothing is freed at the commit: the old current cell becomes the spare
// and keeps its block for the next write, which reuses it in place when
// its value takes the same class. A variable thus owns at most two blocks,
// each the size of a value it held, and a stream of same-sized writes
// never takes the allocator lock. A reader copies the block its current
// cell names with word loads and accepts the copy only if the version did
// not move (as format 1's buffers): a block is written only while it
// belongs to a spare cell, and is freed only by a writer of its variable
// or by the variable's deletion, each after a version store that made its
// cell the spare, so a copy accepted was never torn. A torn read of a cell
// is clamped to the arena before it is followed.
//
// A lock group's commit, and MSet's, first prepare every spare cell
// (steps 1 and 2) for all their variables; only then do they fill them and
// pass the commit point as in format 1. A group that finds no block fails
// before any value changed; the blocks it took stay with their spare
// cells, owned and reused later. Delete (freeLocked) frees both cells'
// blocks and the name block under the allocator lock after the slot stops
// being live, all under the index lock.
//
// # Crash points of format 2, and what recovers them
//
// A process may be killed at every instant; each case leaves the old
// value or the new one, and loses no block:
//
//   - In step 1 or 2 while holding the allocator lock: the allocator is
//     rebuilt (above). S names the block or does not; either way the
//     variable's current cell is untouched: the old value.
//   - Between step 2 and the commit point: S owns its block, which is the
//     spare's to keep. Recovery of the variable's lock has nothing to do:
//     the old value.
//   - After the commit point: the new value, the old block kept as the
//     spare's.
//   - In a group: as format 1 (the lane's commit point decides; a committed
//     group is rolled forward by storing its versions), since every spare
//     cell was prepared, and every block taken, before the first is filled.
//   - In Delete, after the slot stopped being live and before its blocks
//     were freed: the index lock's holder died, and the index rebuild,
//     which already walks every slot, frees the blocks that free slots
//     still name (under the allocator lock).
//   - In the creation of a variable with a long name, after its name block
//     was taken and before the slot was live: the same rebuild frees it.
//
// # Growth (format 2; planned)
//
// Each process reserves maxSize bytes of address space when it opens the
// file (PROT_NONE, nothing committed) and maps the file at its start, so
// addresses never move: a growth only maps more of the file in place
// (MAP_FIXED over the reserve). A grower holds the index lock, which
// serialises header writes:
//
//  1. fallocate the file to its new size and write the new extents with
//     pwrite: chunk k with its slots linked as a free list (not yet joined
//     to the file's), a new index of twice the size, a new arena as one
//     free block. Nothing names them yet.
//  2. Write the new meta (generation+1, the new capacities and extents, the
//     next txid) over the older meta page, and fsync: the durable commit
//     point of the growth.
//  3. In the mapping, inside an index change (the sequence odd): map the
//     new extents, rebuild the index into the new one and switch to it,
//     join the new slots to the free list and the new arena's block to the
//     free lists (allocator lock), then store the generation in the control
//     block and end the index change.
//
// A crash before step 2 leaves a file longer than its header, which Open
// accepts and the next growth reuses. A crash after it leaves the meta
// ahead of the control block's generation: the index lock's repair, and
// Open, finish step 3 from the meta before anything else (the steps may be
// repeated). A process notices a growth when a lookup finds the control
// block's generation not its own (read between the index sequence's two
// loads, so a lookup never trusts an old index), or when a slot number or
// block offset lies beyond what it maps; it then reads the meta again with
// pread, validated as at Open, extends its mapping and lockd's view of it,
// and retries. lockd's recovery asks for the same before it judges a lock
// beyond its mapping. In a cluster, a growth is a log entry, which every
// node applies to its own file.
//
// # Expiry (format 2; planned)
//
// A cell's deadline is wall-clock Unix milliseconds (files outlive
// boots). Once the clock is past it, the variable reads as missing for every
// reader in every process: reads compare the clock only when the deadline
// is not 0, so a variable without one pays nothing. A write treats an
// expired variable as having no value (SET NX stores, INCR starts from 0,
// a lock group's create version applies). The daemon deletes expired
// variables: it keeps their deadlines in a heap in its own memory, built
// by a scan at start and kept by the change feed, and deletes each at its
// deadline, under its lock, if it is still expired then; this is a Delete,
// with Delete's crash points, and its subscribers hear of it. Until a
// daemon deletes it, an expired variable keeps its slot. On a replicated
// file every entry carries the leader's clock, and the apply judges expiry
// and stamps the time of change by it, so every node decides alike; the
// leader proposes the deletions. Caveat: a clock stepped back makes an
// expired variable that is not yet deleted readable again until it is.
//
// # Upgrading format 1
//
// Upgrade (`dsm -file F upgrade`) rewrites a format-1 file in format 2.
// It takes the daemon byte (no daemon may run: ErrLocked), takes every
// lock of the file as Image does and checks that no other process is
// attached (ErrBusy); it writes a format-2 file beside it (F.new: the same
// seed, capacities and variables with their versions, a value area with
// room for every value twice over, fsynced), copies the old file to
// F.format1, renames F.new over F, and last marks the old inode (which its
// own descriptor still holds) replicated (version 2 and flag bit 1 in
// both meta pages), so that a process that attached in between sends its
// writes to a daemon (Replicated) instead of writing into a file nobody
// opens any more. A crash before the rename leaves F as it was (and a
// stray F.new, which the next upgrade replaces); after it, F is the new
// file. A replicated file stays replicated.
//
// Once format 2 is the default, Open will refuse a format-1 file with an
// error that names `dsm -file F upgrade` (planned).
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
