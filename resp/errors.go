package resp

// ProtocolError reports a request that breaks the protocol: a bad or too large
// length, a missing terminator, unbalanced quotes. Its Error text is the one
// Redis sends for the same fault, starting with "Protocol error: ", so a server
// replies "-ERR " + err.Error() and then closes the connection, as Redis does.
//
// The package's Err… values are *ProtocolError sentinels; errors.Is matches an
// error against them. Texts marked "dsm" below have no Redis counterpart,
// because Redis accepts the input silently or waits for more.
type ProtocolError struct {
	// Msg is the text after "Protocol error: ", e.g. "invalid bulk length".
	Msg string

	// kind is the sentinel this error is an instance of when Msg carries
	// details (the byte in "expected '$', got 'x'").
	kind *ProtocolError
}

// Error returns Redis' wording: "Protocol error: " followed by Msg.
func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// Is reports whether e is an instance of target, so that errors.Is matches a
// detailed error such as "expected '$', got 'x'" against ErrExpectedBulk.
func (e *ProtocolError) Is(target error) bool {
	return e.kind != nil && e.kind == target
}

// The protocol errors a Reader returns. Their texts follow Redis (networking.c)
// word for word, capital "P" included, because clients and tests match them.
var (
	// ErrInvalidMultibulkLength: a "*" count that is not a number in Redis'
	// strict form (no sign "+", no leading zeros, no spaces, at most 20
	// characters, no overflow), or above Limits.MaxArgs or 2^31-1.
	ErrInvalidMultibulkLength = &ProtocolError{Msg: "invalid multibulk length"}

	// ErrInvalidBulkLength: a "$" length that is not such a number, is
	// negative, or is above Limits.MaxBulk.
	ErrInvalidBulkLength = &ProtocolError{Msg: "invalid bulk length"}

	// ErrExpectedBulk: an array element that does not start with "$". The
	// error returned names the byte found: "expected '$', got 'x'".
	ErrExpectedBulk = &ProtocolError{Msg: "expected '$'"}

	// ErrTooBigInline: an inline command line longer than Limits.MaxInline.
	ErrTooBigInline = &ProtocolError{Msg: "too big inline request"}

	// ErrTooBigMultibulkCount: a "*" line longer than MaxCountLine bytes.
	ErrTooBigMultibulkCount = &ProtocolError{Msg: "too big mbulk count string"}

	// ErrTooBigBulkCount: a "$" line longer than MaxCountLine bytes.
	ErrTooBigBulkCount = &ProtocolError{Msg: "too big bulk count string"}

	// ErrUnbalancedQuotes: an inline command with an unterminated quote, or a
	// closing quote followed by something other than a space.
	ErrUnbalancedQuotes = &ProtocolError{Msg: "unbalanced quotes in request"}

	// ErrUnauthMultibulkLength replaces ErrInvalidMultibulkLength for a count
	// above MaxArgs when Limits.PreAuth is set.
	ErrUnauthMultibulkLength = &ProtocolError{Msg: "unauthenticated multibulk length"}

	// ErrUnauthBulkLength replaces ErrInvalidBulkLength for a length above
	// MaxBulk when Limits.PreAuth is set.
	ErrUnauthBulkLength = &ProtocolError{Msg: "unauthenticated bulk length"}

	// ErrBulkTerminator (dsm): a bulk string not followed by "\r\n". Redis
	// skips those two bytes unread; dsm checks them so a wrong length cannot
	// make the rest of the stream parse as different commands.
	ErrBulkTerminator = &ProtocolError{Msg: "expected CRLF after bulk string"}

	// ErrInlineNUL (dsm): a NUL byte in an inline command. Redis stops its
	// line search at a NUL and waits until the line is too big; dsm says so
	// at once.
	ErrInlineNUL = &ProtocolError{Msg: "NUL byte in inline request"}

	// ErrTooManyInlineArgs (dsm): an inline command with more than MaxArgs
	// words.
	ErrTooManyInlineArgs = &ProtocolError{Msg: "too many arguments in inline request"}

	// ErrTooBigRequest (dsm): a command whose arguments, counted as their
	// lengths plus ArgOverhead each, exceed Limits.MaxRequest. Redis closes
	// such a client without a reply when it passes client-query-buffer-limit.
	ErrTooBigRequest = &ProtocolError{Msg: "too big request"}
)

// expectedBulk returns the error for an array element starting with b instead
// of '$'. The byte is kept raw, as Redis prints it with %c; Writer.Error turns
// a CR or LF into a space.
func expectedBulk(b byte) error {
	return &ProtocolError{Msg: "expected '$', got '" + string([]byte{b}) + "'", kind: ErrExpectedBulk}
}
