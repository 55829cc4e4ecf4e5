package cluster

import "errors"

var (
	// ErrEntryVersion: a log entry or snapshot has a format newer than this
	// node understands. The node stops applying rather than skip it.
	ErrEntryVersion = errors.New("cluster: entry format newer than this node understands")
	// ErrBadEntry: a log entry does not decode.
	ErrBadEntry = errors.New("cluster: malformed log entry")
	// ErrNoCommand: Propose was given no arguments.
	ErrNoCommand = errors.New("cluster: no command")
	// ErrReservedName: a command names a variable reserved for the cluster.
	ErrReservedName = errors.New("cluster: reserved variable name")
	// ErrHalted: the node met an entry it cannot apply and applies no more.
	ErrHalted = errors.New("cluster: apply halted")
	// ErrBadSnapshot: a snapshot does not decode or does not fit this file.
	ErrBadSnapshot = errors.New("cluster: bad snapshot")
	// ErrNotLeader: Propose was called on a node that is not the leader.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrConfig: a Config is incomplete or wrong.
	ErrConfig = errors.New("cluster: bad config")
	// ErrAuth: a connection to a cluster port failed the handshake: a
	// side does not know the cluster secret, or the peer is not a node.
	ErrAuth = errors.New("cluster: authentication failed")
	// ErrShutdown: the node was shut down.
	ErrShutdown = errors.New("cluster: node shut down")
)
