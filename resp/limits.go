package resp

// Limits bound what a Reader accepts. The Reader checks every length it is
// sent against them before it allocates memory for it, and it grows its
// buffers only as the announced bytes actually arrive.
//
// A zero or negative field means the field's value in DefaultLimits, so
// Limits{} is DefaultLimits(). MaxInline above MaxRequest is lowered to
// MaxRequest.
type Limits struct {
	// MaxArgs is the largest number of arguments in one command: the count
	// of a multibulk array or the words of an inline line. Default 1<<20
	// (1048576, Redis' limit before 7.0). With small arguments MaxRequest
	// binds first: it admits at most MaxRequest/ArgOverhead arguments.
	MaxArgs int

	// MaxBulk is the largest argument of a multibulk command, in bytes.
	// Default 1 MiB (Redis: proto-max-bulk-len, 512 MiB).
	MaxBulk int

	// MaxInline is the longest inline command line, its "\n" included.
	// Default 64 KiB (Redis: PROTO_INLINE_MAX_SIZE).
	MaxInline int

	// MaxRequest bounds the memory one command may hold: the sum of its
	// arguments' lengths plus ArgOverhead bytes per argument. For an inline
	// command the whole line counts instead of the arguments' lengths.
	// Default 32 MiB (Redis' nearest is client-query-buffer-limit, 1 GiB).
	MaxRequest int

	// PreAuth selects Redis' texts for clients that have not authenticated
	// yet: a count above MaxArgs gives ErrUnauthMultibulkLength and a length
	// above MaxBulk gives ErrUnauthBulkLength.
	PreAuth bool
}

// ArgOverhead is what each argument costs against Limits.MaxRequest on top of
// its length: the 24-byte slice header in the returned slice, counted twice for
// the slack its growth by doubling may leave.
const ArgOverhead = 48

// MaxCountLine is the longest "*N" or "$N" line, "\r\n" included, that a
// Reader reads; a longer one is ErrTooBigMultibulkCount or ErrTooBigBulkCount.
// The longest valid line is 23 bytes. (Redis waits for 64 KiB.)
const MaxCountLine = 64

// DefaultBufferSize is the bufio buffer size NewReader and NewWriter use when
// given a size of 0 or less: small, so that an idle connection stays cheap.
const DefaultBufferSize = 4096

// DefaultLimits returns the limits for authenticated clients: MaxArgs 1<<20,
// MaxBulk 1 MiB, MaxInline 64 KiB, MaxRequest 32 MiB.
func DefaultLimits() Limits {
	return Limits{
		MaxArgs:    1 << 20,
		MaxBulk:    1 << 20,
		MaxInline:  64 << 10,
		MaxRequest: 32 << 20,
	}
}

// PreAuthLimits returns the tighter limits Redis applies, since the fix for
// CVE-2021-32675, to clients that have not authenticated: at most 10
// arguments of at most 16 KiB each. MaxInline stays 64 KiB as in Redis;
// MaxRequest is 192 KiB, enough for both. PreAuth is set.
func PreAuthLimits() Limits {
	return Limits{
		MaxArgs:    10,
		MaxBulk:    16 << 10,
		MaxInline:  64 << 10,
		MaxRequest: 192 << 10,
		PreAuth:    true,
	}
}

// normalize fills the fields that are zero or negative from DefaultLimits and
// keeps MaxInline within MaxRequest, so that one number bounds a command.
func (l Limits) normalize() Limits {
	d := DefaultLimits()
	if l.MaxArgs <= 0 {
		l.MaxArgs = d.MaxArgs
	}
	if l.MaxBulk <= 0 {
		l.MaxBulk = d.MaxBulk
	}
	if l.MaxInline <= 0 {
		l.MaxInline = d.MaxInline
	}
	if l.MaxRequest <= 0 {
		l.MaxRequest = d.MaxRequest
	}
	l.MaxInline = min(l.MaxInline, l.MaxRequest)
	return l
}
