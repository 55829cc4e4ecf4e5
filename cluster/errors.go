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
	// ErrNoLeader: the cluster had no leader this node could reach within
	// the bounded wait (Config.LeaderWait or the caller's context). A write
	// that fails with it was certainly not applied.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrUnknownOutcome: a write may or may not have been applied: its
	// entry may have been appended, but leadership was lost, the
	// connection to the leader broke or the context ended before the
	// outcome was known. The caller must not report it as a failure.
	ErrUnknownOutcome = errors.New("cluster: outcome unknown")
	// ErrCommand: a write was applied as a failed command (the Applier
	// refused it, it names a reserved variable, its names do not fit one
	// group), alike on every node. The text after this error's own is
	// the apply error's message, for the client.
	ErrCommand = errors.New("cluster: command failed")
	// ErrAuth: a connection to a cluster port failed the handshake: a
	// side does not know the cluster secret, or the peer is not a node.
	ErrAuth = errors.New("cluster: authentication failed")
	// ErrIncomplete: the memory file holds an install cut short
	// (shm.Memory.Incomplete) and the node has no snapshot to install
	// again. Moving the file away lets the node start from an empty one
	// and catch up.
	ErrIncomplete = errors.New("cluster: the memory file holds an install cut short and the node has no snapshot to complete it; move the file away and start again")
	// ErrShutdown: the node was shut down.
	ErrShutdown = errors.New("cluster: node shut down")
	// ErrInUse: Recover found the node's Raft log held by a running node.
	ErrInUse = errors.New("cluster: raft state in use")
	// ErrNoState: Recover found no Raft state to recover.
	ErrNoState = errors.New("cluster: no raft state")
)
