package server

import "errors"

// Sentinel errors returned by the server. Check them with errors.Is; the
// returned error may wrap them with more context.
var (
	// ErrServerClosed is returned by Serve and ServeMetrics after Shutdown
	// or Close, and when they are called after either.
	ErrServerClosed = errors.New("server: closed")

	// ErrInvalidConfig is wrapped by New's error when a Config field is out
	// of range; the message names the field.
	ErrInvalidConfig = errors.New("server: invalid config")

	// ErrCapacity is wrapped by New's error when Config.Strict is set and
	// Config.Vars, NameMax or ValueMax differs from the existing file's;
	// the message names the file's values.
	ErrCapacity = errors.New("server: capacities differ from the file's")

	// ErrReplicatedFile is wrapped by New's error when the file is a
	// cluster node's (shm.Memory.Replicated) and Config.Cluster is not
	// set: serving it as a single host would write around the log.
	ErrReplicatedFile = errors.New("server: the file is a cluster node's")

	// ErrStorage is wrapped by the error Serve returns when the memory file
	// failed under the server (truncated, deleted, a flush failed, a memory
	// fault); the message says what happened. See storage.go.
	ErrStorage = errors.New("server: memory file failed")
)

// Reasons a connection ends; its disconnect log line names them.
var (
	// errOutputLimit ends a connection whose pending replies exceed
	// Config.OutputLimit.
	errOutputLimit = errors.New("server: client output buffer limit reached")

	// errDenied ends a connection that the access rules refuse.
	errDenied = errors.New("server: access denied")

	// errSyncFailed ends a connection whose replies could not be released
	// because the flush that had to cover them failed (Config.Sync is
	// SyncAlways).
	errSyncFailed = errors.New("server: flush to the file failed")

	// errShuttingDown ends a connection's read loop once Shutdown began.
	errShuttingDown = errors.New("server: shutting down")

	// errNoTLS ends a connection that opens with a TLS handshake when TLS
	// is not enabled.
	errNoTLS = errors.New("server: TLS handshake but TLS is not enabled")
)

// errNoHolderLane is reported by a LOCK whose wait ended while every
// holder slot (holderSlots) was taken.
var errNoHolderLane = errors.New("server: every lock lane for LOCK is held")

// errLockLost is reported by a read through locks whose lease ended.
var errLockLost = errors.New("server: lock lease ended")

// Reply texts that clients match on: Redis 7's wording where Redis has the
// case (checked against redis-server by TestMatchesRedis), then dsm's own.
const (
	msgNotInteger    = "ERR value is not an integer or out of range"
	msgOverflow      = "ERR increment or decrement would overflow"
	msgDecrOverflow  = "ERR decrement would overflow"
	msgSyntax        = "ERR syntax error"
	msgNoAuth        = "NOAUTH Authentication required."
	msgWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	msgNoPassword    = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	msgHelloNoAuth   = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	msgNoProto       = "NOPROTO unsupported protocol version"
	msgProtoNotInt   = "ERR Protocol version is not an integer or out of range"
	msgDBRange       = "ERR DB index is out of range"
	msgInvalidCursor = "ERR invalid cursor"
	msgMaxClients    = "ERR max number of clients reached"
	msgBadName       = "ERR Client names cannot contain spaces, newlines or special characters."

	msgNoExpiry = "ERR dsm variables do not expire: EX, PX, EXAT and PXAT are not supported (KEEPTTL is accepted)"
	msgNoTLS    = "ERR TLS is not enabled on this port: start dsmd with -tls-cert and -tls-key"
	msgClosing  = "ERR server is shutting down"

	msgScanHungUp = "ERR scan stopped: the client closed its side of the connection"
)
