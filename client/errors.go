package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// kind is a sentinel error. A kind may name a parent kind, so that
// errors.Is(ErrAuth, ErrRefused) holds: a wrong password is one way of being
// refused.
type kind struct {
	msg    string
	parent error
}

func (k *kind) Error() string { return k.msg }

func (k *kind) Unwrap() error { return k.parent }

// The sentinel errors below classify every error a Client returns. Check them
// with errors.Is; the error itself also wraps the daemon's reply or the
// network error that caused it.
var (
	// ErrNotFound means the variable does not exist.
	ErrNotFound = &kind{msg: "no such variable"}

	// ErrNotInteger means an arithmetic operation met a value that is not a
	// 64-bit integer (Redis: "value is not an integer or out of range").
	ErrNotInteger = &kind{msg: "value is not an integer"}

	// ErrOverflow means an addition would overflow a signed 64-bit integer.
	ErrOverflow = &kind{msg: "integer overflow"}

	// ErrRefused means the daemon refused the request or the connection:
	// authentication, an access rule, protected mode or a limit such as the
	// maximum number of clients.
	ErrRefused = &kind{msg: "refused"}

	// ErrAuth means authentication is required or the password is wrong.
	// It is a kind of ErrRefused.
	ErrAuth = &kind{msg: "authentication failed", parent: ErrRefused}

	// ErrFull means the daemon's file has no room for another variable.
	ErrFull = &kind{msg: "memory full"}

	// ErrTooLarge means a name or a value is longer than the file allows.
	ErrTooLarge = &kind{msg: "name or value too large"}

	// ErrUnreachable means the daemon could not be reached or the connection
	// broke. A write whose connection broke after it was sent may or may not
	// have taken effect: its error is also ErrUncertain.
	ErrUnreachable = &kind{msg: "daemon unreachable"}

	// ErrUncertain means a write may or may not have taken effect: the
	// cluster answered UNCERTAIN (its leader changed before the write was
	// known to be committed), or the connection broke after the write was
	// sent (then the error is also ErrUnreachable). Such a write is never
	// repeated by the Client; the caller decides, for example by reading
	// the variable back.
	ErrUncertain = &kind{msg: "outcome unknown, it may or may not have taken effect"}

	// ErrClusterDown means the cluster had no leader (CLUSTERDOWN) for as
	// long as the call could wait, or kept redirecting it (MOVED). The
	// request was not applied.
	ErrClusterDown = &kind{msg: "cluster has no leader"}

	// ErrClosed means the Client was closed.
	ErrClosed = &kind{msg: "client closed"}

	// ErrInvalid means the call's arguments are invalid; nothing was sent.
	ErrInvalid = &kind{msg: "invalid argument"}

	// ErrLockTimeout means Lock could not take every lock within its wait.
	ErrLockTimeout = &kind{msg: "locks not free in time"}

	// ErrLockLost means the lease of the locks ended before Unlock: the
	// daemon released them, and a write through the Locked was refused.
	ErrLockLost = &kind{msg: "lock lease ended"}
)

// Error is the error type of every failed Client call. It names the operation
// and the variable, and matches (errors.Is) its sentinel kind and its cause.
type Error struct {
	// Op is the operation, as the command is spelled ("get", "cas").
	Op string
	// Name is the variable the operation was about, if any.
	Name string
	// Kind is one of the sentinel errors of this package, or nil when the
	// daemon answered with an error that none of them describes.
	Kind error
	// Err is the cause: the daemon's error reply or a network error. It may
	// be nil when Kind says all there is to say.
	Err error
}

// Error returns "op name: kind: cause", leaving out what is empty, and the
// cause when it only repeats the kind: the daemon's "ERR value is not an
// integer or out of range" says nothing that "value is not an integer"
// does not.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Name != "" {
		b.WriteString(" ")
		b.WriteString(e.Name)
	}
	for _, part := range []error{e.Kind, e.Err} {
		if part != nil && (part == e.Kind || !repeats(part, e.Kind)) {
			b.WriteString(": ")
			b.WriteString(part.Error())
		}
	}
	return b.String()
}

// repeats reports whether cause says what kind says.
func repeats(cause, kind error) bool {
	return kind != nil && strings.Contains(strings.ToLower(cause.Error()), strings.ToLower(kind.Error()))
}

// Unwrap returns the kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// wrapErr turns an error from go-redis into an *Error for op on name.
func wrapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	k, cause := classify(err)
	return &Error{Op: op, Name: name, Kind: k, Err: cause}
}

// classify returns the sentinel kind of err and the cause worth keeping.
func classify(err error) (error, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return ErrNotFound, nil
	case errors.Is(err, redis.ErrClosed):
		return ErrClosed, nil
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return classifyReply(reply.Error()), err
	}
	if isTransport(err) {
		return ErrUnreachable, err
	}
	return nil, err
}

// replyKinds maps fragments of the daemon's error replies to kinds. The
// texts are Redis' own (dsmd answers as Redis does) plus the daemon's words
// for its own limits. The first match wins, so the order matters.
var replyKinds = []struct {
	prefix, fragment string
	kind             error
}{
	{prefix: "NOAUTH", kind: ErrAuth},
	{prefix: "TIMEOUT", kind: ErrLockTimeout},
	{prefix: "LOCKLOST", kind: ErrLockLost},
	{prefix: "UNCERTAIN", kind: ErrUncertain},
	{prefix: "CLUSTERDOWN", kind: ErrClusterDown},
	{prefix: "MOVED", kind: ErrClusterDown},
	{prefix: "WRONGPASS", kind: ErrAuth},
	{fragment: "invalid password", kind: ErrAuth},
	{fragment: "without any password configured", kind: ErrAuth},
	{prefix: "DENIED", kind: ErrRefused},
	{prefix: "NOPERM", kind: ErrRefused},
	{fragment: "max number of clients", kind: ErrRefused},
	{fragment: "protected mode", kind: ErrRefused},
	{fragment: "not allowed", kind: ErrRefused},
	{fragment: "not an integer", kind: ErrNotInteger},
	{fragment: "overflow", kind: ErrOverflow},
	{fragment: "no such key", kind: ErrNotFound},
	{fragment: "no such variable", kind: ErrNotFound},
	{fragment: "full", kind: ErrFull},
	{fragment: "too large", kind: ErrTooLarge},
	{fragment: "too long", kind: ErrTooLarge},
}

func classifyReply(msg string) error {
	for _, rk := range replyKinds {
		if rk.prefix != "" && strings.HasPrefix(msg, rk.prefix) {
			return rk.kind
		}
		if rk.fragment != "" && strings.Contains(msg, rk.fragment) {
			return rk.kind
		}
	}
	return nil
}

// uncertain marks e, the error of a write whose connection broke after it
// was sent, as ErrUncertain too, keeping ErrUnreachable as its kind.
func uncertain(e *Error) *Error {
	if e.Err == nil {
		e.Err = ErrUncertain
	} else {
		e.Err = fmt.Errorf("%w: %w", ErrUncertain, e.Err)
	}
	return e
}

// isTransport reports whether err comes from the network rather than from
// the daemon's answer. The caller's own context ending is not a transport
// failure; a socket deadline that expired is (the daemon did not answer).
func isTransport(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
