package cluster

import fp "github.com/dsm-dev/dsm/internal/failpoint"

// Failure points of a cluster node (internal/failpoint): in a build with
// the dsmfail tag, DSM_FAILPOINT=name@n makes dsmd kill itself with
// SIGKILL at the n-th pass of one of them; in a normal build they cost
// nothing. The cluster torture test (internal/torture) crashes nodes at
// each.
const (
	// FailLogStored: a batch of entries is in the Raft log, not yet
	// applied (between the log's write and apply).
	FailLogStored = "cluster-log-stored"
	// FailApply: an entry's writes and applied index are staged in their
	// lock group, not committed.
	FailApply = "cluster-apply"
	// FailSnapshotTake: a snapshot is written, not yet closed (so not
	// yet a snapshot Raft knows of).
	FailSnapshotTake = "cluster-snapshot-take"
	// FailSnapshotInstall: a received snapshot is read and checked, not
	// yet installed into the file. (shm's "installing" point is in the
	// middle of the install.)
	FailSnapshotInstall = "cluster-snapshot-install"
	// FailLockTable: a lock entry's table is in the lock file, its
	// applied index not yet in the memory file (FSM.applyLock).
	FailLockTable = "cluster-lock-table"
)

// FailPoints lists the cluster's failure points.
var FailPoints = []string{FailLogStored, FailApply, FailSnapshotTake, FailSnapshotInstall, FailLockTable}

func failpoint(name string) { fp.Pass(name) }
