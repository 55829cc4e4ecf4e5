// Package resp speaks the Redis serialization protocol (RESP) on the server
// side: a Reader parses the commands clients send, a Writer formats the
// replies, in RESP2 or, after HELLO 3, RESP3.
//
// # Requests
//
// A client sends each command in one of two forms, told apart by its first
// byte, as Redis does:
//
//   - multibulk, which every client library and redis-cli use: "*N\r\n"
//     followed by N bulk strings "$len\r\n<len bytes>\r\n";
//   - inline, for telnet: a line of words ending in "\n" (or "\r\n"), split as
//     Redis' sdssplitargs splits it: words are separated by blanks, "double
//     quotes" allow blanks and the escapes \xHH \n \r \t \b \a \" \\,
//     'single quotes' allow blanks and \', and a quote left open or followed
//     by something other than a blank is ErrUnbalancedQuotes.
//
// Clients may pipeline: send many commands without waiting for replies.
// Reader.Buffered tells a server whether more are waiting, so that it can
// flush its replies once per batch. A small multibulk command (up to 64
// arguments) that has arrived whole is parsed in place: its arguments
// point into the bufio buffer, with no copy. Anything else (a command still
// arriving, a large or malformed one) takes the careful path, which copies
// the arguments into the payload buffer as they arrive and reports the
// exact error; both give the same result.
//
// Numbers in "*N" and "$N" lines are read as Redis' string2ll reads them:
// optional "-", no "+", no leading zeros, no blanks, at most 20 characters,
// within int64, and the line must end in "\r\n". As in Redis, "*0" and "*-N"
// announce no command and are skipped, a negative "$" length is an error,
// and so is an array element that does not start with "$".
//
// # Limits
//
// A request comes from outside and is not trusted. Every length is checked
// against the Reader's Limits before anything is allocated for it, and the
// buffers grow only as bytes actually arrive: a header "*1000000" reserves
// at most 1024 argument slots, and "$1048576" with no payload behind it
// costs at most 64 KiB. DefaultLimits are for authenticated clients;
// PreAuthLimits are Redis' tighter ones (10 arguments of 16 KiB) for clients
// that have not sent AUTH yet.
//
//	limit       default  pre-auth  error when exceeded
//	MaxArgs     1<<20    10        ErrInvalidMultibulkLength (pre-auth: ErrUnauthMultibulkLength), ErrTooManyInlineArgs
//	MaxBulk     1 MiB    16 KiB    ErrInvalidBulkLength (pre-auth: ErrUnauthBulkLength)
//	MaxInline   64 KiB   64 KiB    ErrTooBigInline
//	MaxRequest  32 MiB   192 KiB   ErrTooBigRequest (arguments' bytes + ArgOverhead (48) each)
//	"*N", "$N"  64 bytes           ErrTooBigMultibulkCount, ErrTooBigBulkCount (MaxCountLine)
//
// # Memory
//
// A Reader built with a bufio size of S holds:
//
//   - while it reads a command: at most S + 2·MaxRequest + 24 KiB, that is
//     the bufio buffer, a payload buffer of at most MaxRequest bytes, and
//     argument slots (24 bytes each) of which there are at most twice the
//     arguments received, which ArgOverhead charges to MaxRequest, or the
//     first 1024. At the instant a buffer is copied into a larger one the old
//     one is alive too, so the peak is below S + 3·MaxRequest + 24 KiB: with
//     DefaultLimits and S = 4 KiB, 64 MiB steady and 96 MiB at the peak per
//     connection; with PreAuthLimits, about 600 KiB.
//   - between commands: S plus a payload buffer of at most 8 KiB, and a dst
//     of at most 128 slots (3 KiB). Buffers grown for a larger command are
//     dropped when the next ReadCommand starts.
//
// A Writer holds its buffer, which grows with the replies not yet flushed
// up to its limit (SetLimit), and 64 bytes; after a flush it keeps at most
// the size given to NewWriter. With the suggested 4 KiB buffers a
// connection's Reader and Writer idle in under 20 KiB.
//
// # Errors
//
// ReadCommand returns io.EOF when the client closes the connection between
// commands, io.ErrUnexpectedEOF when it closes it inside one, an error of the
// connection as is, and a *ProtocolError for input that breaks the protocol
// or a limit. The ProtocolError texts are Redis' own:
//
//	Protocol error: invalid multibulk length
//	Protocol error: invalid bulk length
//	Protocol error: expected '$', got 'x'
//	Protocol error: too big inline request
//	Protocol error: too big mbulk count string
//	Protocol error: too big bulk count string
//	Protocol error: unbalanced quotes in request
//	Protocol error: unauthenticated multibulk length
//	Protocol error: unauthenticated bulk length
//
// and four more where Redis has none, because it waits or accepts silently:
//
//	Protocol error: expected CRLF after bulk string
//	Protocol error: NUL byte in inline request
//	Protocol error: too many arguments in inline request
//	Protocol error: too big request
//
// After a ProtocolError the stream cannot be resynchronized: a server replies
// "-ERR " + err.Error(), flushes, and closes the connection, as Redis does.
// The Reader returns the same error from then on.
//
// # Replies
//
// A Writer formats each reply type for the protocol in force (SetProtocol):
// RESP3's null, map, set, push, double, boolean and verbatim string become
// their RESP2 equivalents (null bulk or null array, flat array, array,
// array, bulk string, integer 1 or 0, bulk string). Replies collect in the
// Writer's one buffer until Flush, which writes them in one write (or the
// caller takes them with Bytes and Reset). The reply methods allocate
// nothing once the buffer has grown to the size of a batch.
//
// Neither a Reader nor a Writer is safe for concurrent use; a connection
// usually owns one of each, used by one goroutine.
package resp
