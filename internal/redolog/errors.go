package redolog

import "errors"

// Errors of the redo log. Check them with errors.Is; the returned error
// wraps them with the segment, the byte and what to do.
var (
	// ErrCorrupt is wrapped by Replay's error for a segment of another
	// format, or damage that may hide acknowledged writes: the start must
	// not go on.
	ErrCorrupt = errors.New("redolog: the redo log is damaged")

	// ErrSegmentGone fails a write, and so every Barrier after it, when
	// the segment in use was deleted or replaced.
	ErrSegmentGone = errors.New("redolog: redo log segment was deleted or replaced while in use")

	// ErrClosed fails every Barrier after Close.
	ErrClosed = errors.New("redolog: closed")

	// errRecord is a record that does not parse inside a frame whose
	// checks passed: a bug, or a segment of another format.
	errRecord = errors.New("redolog: malformed record")
)
