// Package redolog is the daemon's redo log, kept under -sync always.
// Flushing the mapping for every batch of writes costs one random page
// write per variable written; the redo log instead appends the batch's
// records to a segment file beside the memory file and makes them durable
// with one synchronous write (O_DSYNC), and the mapping is flushed only at
// checkpoints. shm calls Log.Append for every write the daemon makes (the
// Log is the Memory's shm.RedoLog); a batch's replies wait for
// Log.Barrier, and concurrent callers share one write (group commit).
//
// The redo log is not part of the memory file's format (see shm's doc.go):
// it is the daemon's, and it lives only until the next checkpoint.
//
// # Segments
//
// Segment files are named <memory file>.journal.<n>, n increasing (the
// name is older than this package). This is format 2 of the segments;
// format 1 (before frames carried a sequence number) is refused by Replay
// with an error naming the file: a clean stop deletes every segment, so
// only a crash of an older dsmd leaves one, and that dsmd must replay it.
// A segment begins with 8 bytes, "dsmredo" and the format number 2,
// followed by frames and then zeros: each segment is filled with zeros 4
// MiB ahead of its frames (Log.Preallocate), so that a synchronous write
// lands on allocated blocks and needs no metadata update. A frame is:
//
//	u32 magic (the bytes d5 52 65 44), u32 payload length n, u64 sequence
//	number, u32 header check: CRC-32C of the 16 bytes before it
//	n bytes of payload: the records of one or more Append calls
//	u32 payload check: CRC-32C of the payload, continued from the header's
//
// all little-endian; each check has the top bit of each of its bytes set,
// so that it, like the magic, holds no zero byte. Sequence numbers rise by
// one from frame to frame, across segments and across starts (Replay
// accepts a gap only before the first segment left, where a checkpoint
// deleted the segments before it; a gap between two segments left is
// refused: frames or a segment were lost). A
// record is: u8 flags (1 = deleted), u64 version, u32 slot, u32
// incarnation, u16 name length, the name, u8 kind (0 no value, 1 integer,
// 2 bytes), u32 value length, the value (an integer as 8 bytes
// little-endian).
//
// # Checkpoints
//
// When the segment passes 64 MiB, or 10 s after the last checkpoint
// (Log.CheckpointDue), Log.Checkpoint opens a new segment and the next
// write switches to it; then the mapping is flushed (msync), which covers
// every change recorded in the old segment (each change was in the mapping
// before its record was appended, so before the switch), and the old
// segment is deleted. At a clean stop the mapping is flushed and Log.Close
// deletes every segment. Every write checks that its segment is still the
// file of its name: a segment deleted or replaced while in use fails the
// write (ErrSegmentGone), as a write error does, and the owner must stop.
//
// # Replay
//
// At start, whatever the sync mode, Replay applies the segments a crash
// left: the last record of each name, through shm's Restore; then it
// flushes the mapping and deletes the segments. It tells a torn last write
// from corruption. A frame is acknowledged only once its O_DSYNC write
// returned, and frames are written one at a time, so only the last frame
// can be torn; and a tear leaves what it did not write as it was, zeros, in
// whole 512-byte blocks at the least (a power loss loses whole sectors, a
// kill -9 stops a write between pages), or past the end of the file. So a
// damaged frame is corruption, and Replay refuses (ErrCorrupt, naming the
// segment, the byte and the way out) and deletes nothing, when any valid
// frame with a later sequence number lies after it (after its end, if its
// header is whole: its payload may hold a frame's bytes that a client
// stored), in its segment or a later one; or when its damage is not such a
// tear: its header is whole but for one byte or but for its magic, or every
// 512-byte block of it holds a byte that is not zero. Otherwise it is the
// torn last write, never acknowledged: the segment is cut there, durably,
// so that no later start meets it, and the frames before it are replayed.
// Zeros where a frame should be end a segment's frames, unless a valid
// frame follows them in the segment. Damage past the last frame, in the
// zeros, loses nothing and is ignored.
//
// One limit: a last frame whose payload holds 512 zero bytes filling a
// block, damaged elsewhere, is taken for a tear, and its writes are lost.
package redolog
