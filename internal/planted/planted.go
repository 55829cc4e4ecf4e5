// Package planted switches on the bugs planted in a build made with the
// dsmbug tag, so that the cluster torture test (internal/torture) can show
// that its checkers catch each of them. In a normal build On is a constant
// false that the compiler removes with the code it guards, and the bugs'
// code (files tagged dsmbug in packages cluster and server) is not built.
// In a dsmbug build the bug named by DSM_BUG in the environment is on,
// none if it is empty.
package planted

// The planted bugs.
const (
	// AckBeforeCommit: a node answers OK to SET before the write is
	// committed (the write goes on in the background).
	AckBeforeCommit = "ack-before-commit"
	// ReadSkipsLeaderCheck: a linearizable read is served from the
	// node's own state, without asking the leader for a read index.
	ReadSkipsLeaderCheck = "read-skips-leader-check"
	// RestartIgnoresApplied: a node starts as if its file held no entry,
	// so that Raft's replay applies entries a second time.
	RestartIgnoresApplied = "restart-ignores-applied"
	// InstallByRename: a snapshot is written to a new file renamed over
	// the node's file, which the daemon and local processes still map.
	InstallByRename = "install-by-rename"
	// ForwardRetried: a follower sends a forwarded write again when the
	// leader's answer takes more than a few milliseconds.
	ForwardRetried = "forward-retried"
	// LeaseCutShort: the leader ends a lock's lease at half its length.
	LeaseCutShort = "lease-cut-short"
)

// All lists the planted bugs.
var All = []string{AckBeforeCommit, ReadSkipsLeaderCheck, RestartIgnoresApplied, InstallByRename, ForwardRetried, LeaseCutShort}

// Env names the bug to switch on in a dsmbug build.
const Env = "DSM_BUG"
