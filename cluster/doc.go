// Package cluster replicates a memory file (package shm) across machines
// through Raft (hashicorp/raft, with its log in raft-boltdb).
//
// # Model
//
// Write commands, not their results, are replicated: the leader encodes a
// command's arguments as a log entry (EncodeEntry) and every node, once the
// entry is committed, executes it on its own file (FSM.Apply). Raft's apply
// goroutine is the only writer of a replicated file; local processes only
// read it. Applying the same entries in the same order to files of the same
// capacities gives every node the same variables, values and versions (see
// Versions); until a node installs a snapshot, the same slots too, and with
// the same hash seed (BootstrapSeed, shm.Config.Seed) the same index.
// Snapshots carry the capacities and the seed, and a node refuses one that
// differs.
//
// # What the server provides
//
// The cluster does not know what a command means: it orders, stores and
// applies entries, and asks an Applier (Config.Applier) for the rest. The
// server builds its Applier from its command table, so each command is
// written once and the cluster is one more user of it: Keys from the
// table's key positions, Apply by running the command's handler over the
// lock group (the same handlers that run over a LOCK or EXEC group) and
// returning the reply it wrote. The Applier must be deterministic and the
// same on every node. The reply reaches the proposer as opaque bytes
// (Reply.Data); the cluster reads none of it.
//
// # Applied index
//
// Apply executes an entry as one shm lock group that also writes the
// entry's index into the variable AppliedName, so the data and the applied
// index move together, also across a crash (a crash before the group's
// commit point leaves both old, after it recovery completes both). The
// cluster, not the Applier, locks and commits that group: it asks
// Applier.Keys for the names, adds AppliedName, locks them all, lets
// Applier.Apply stage the writes, stages the index and commits. A command
// that fails (Keys or Apply refuses it, it names a reserved variable, its
// names do not fit one group) changes no data, whatever Apply staged
// being discarded, but still advances the index, in a group of its own:
// every node fails it alike.
//
// AppliedName starts with ReservedPrefix, "\x00dsm.": the FSM refuses any
// replicated command that names such a variable (among the names Keys
// gives) before the Applier runs it, so clients cannot create
// or change it through the cluster, and the server is to hide the prefix
// from KEYS and SCAN and refuse it on its local paths.
//
// At start a node trusts its file, unless its host crashed (see Restart
// after a crash): Raft is told not to restore its latest snapshot (which
// would move local readers back in time) and replays the log; FSM.Apply
// skips every entry at or below the file's applied index, so none is
// applied twice. Only a file that is behind the latest snapshot (an empty
// one, say) or holds an install cut short gets the snapshot installed
// first.
//
// # Restart after a crash
//
// The memory file is a mapping. After a process crash (kill -9 of the
// daemon) the page cache still holds every write, so the file and its
// applied index, which move in one lock group, are consistent: the node
// trusts the file and replays the log after its applied index. After a
// host crash (power loss, kernel panic) the kernel may have written the
// file's dirty pages back in any order: any part of it may be older than
// the applied index it records, and nothing in it can be trusted.
//
// A node tells the two apart by its run state, a small file in its Raft
// directory (RunStateFile): NewNode records "running" and the host's boot
// ID (Config.BootID, by default Linux's, which the kernel draws anew at
// every boot) before it changes the file; Shutdown, once Raft has stopped
// and the file is flushed to disk, records "stopped". At the next start,
// HostCrashed reports "running" under another boot ID: the host went down
// under the node. The caller (dsmd) then discards the file and starts the
// node over an empty one, which NewNode fills from its latest snapshot
// (if it has one) before Raft replays the log after it (from its first
// entry without a snapshot), as for a new node.
//
// Discarding the file, rather than emptying it in place with shm's Flush,
// keeps CreateVersion sound: a slot keeps its version when its variable
// is deleted, and a replay from an older index would create variables at
// versions below their slots', which shm refuses (the FSM would halt).
// Local processes that mapped the old file since the boot keep reading
// it; start the node before them after a host crash.
//
// A file that holds an install cut short (shm.ErrInstallIncomplete: the
// daemon died in FSM.Restore or in the install of the start) is opened
// with shm.Config.AllowIncomplete and gets the node's latest snapshot
// installed again, whatever its applied index says: the snapshot the
// install came from is the node's latest, Raft having stored it before
// restoring it. Without a snapshot NewNode fails with ErrIncomplete.
//
// # Versions
//
// WATCH and EXEC compare a variable's (name, version) on each node at
// apply, so every node must give every variable the same version. shm
// counts versions per slot, and a snapshot carries each variable's
// version but not its slot nor the versions of free slots: after an
// install a node's slots differ from the leader's. So the FSM does not
// let a slot choose a new variable's version: every lock group it
// commits gives the variables it creates the version CreateVersion of
// the entry's index (shm.LockGroup.SetCreateVersion), and every later
// change moves a variable by one, on every node alike. Versions are
// therefore equal everywhere, after an install as before, for the
// variables the install brought and those created since. CreateVersion
// documents why such a version is always above any its slot had; shm
// refuses one that is not (shm.ErrCreateVersion) and the FSM then halts
// rather than diverge. The reserved variables' versions are each node's
// own.
//
// # The cluster port
//
// A node has one TCP port for everything between nodes (Config.Addr): Raft
// (hashicorp/raft's network transport over the node's own stream layer)
// and the node's requests to other nodes (rpc.go: Hello, forwarded writes,
// read indexes, membership). The dialer of a connection says which kind of
// stream it wants in the handshake it sends first. Every connection is
// authenticated before anything else is read: both sides prove they know
// the cluster secret (Config.Secret) by an HMAC-SHA256 over a nonce each
// side chose, its role and the stream kind (auth.go), so the secret never
// crosses the wire and a recorded handshake opens nothing. A connection
// that fails is closed unserved and counted (Metrics.RefusedConns).
// Config.TLS wraps the port in TLS, mutual if it verifies client
// certificates; the handshake runs inside it all the same.
//
// Nodes learn each other's client addresses (Config.ClientAddr) through
// Hello; Probe asks a member from outside the cluster, so that a new node
// can create its file with the cluster's hash seed and capacities.
//
// # Writes
//
// Node.Write works on every node: the leader proposes, a follower forwards
// the command to the leader over the cluster port and, once the leader
// answers, waits until its own file holds the write (Reply.Index), so
// that the writer's next local read sees it. Every failure says what the
// caller may conclude: ErrNoLeader (no leader within Config.LeaderWait;
// certainly not applied), ErrUnknownOutcome (the entry may have been
// appended; it may yet be applied) and ErrCommand (applied as a failed
// command, alike everywhere; the text after it is for the client).
// Attempts that certainly did nothing (a refused connection, a node that
// is no longer leader and appended nothing) are retried at the next
// leader within the same bound.
//
// # Reads
//
// Local reads of a node's file are never torn but may be stale, by how far
// the node's apply lags the leader's. Node.ReadBarrier makes the reads
// that follow it linearizable: it returns once the node's file holds
// every write acknowledged, on any node, before the call. The leader
// serves read indexes only after a barrier has completed in its current
// term and VerifyLeader succeeded after the call began; the read index is
// its FSM's applied index (read.go explains why not Raft's commit index).
// A follower asks the leader for it and waits for its own file
// (Node.WaitApplied, which sleeps until the FSM applies, without
// polling). Concurrent calls on a node share one round.
//
// # Membership
//
// Join adds a node as a non-voter, waits until its file has caught up
// (from a snapshot when the log it needs was compacted), then makes it a
// voter; Remove and Transfer move members and leadership. All three work
// from any member (the leader does them, one change at a time), JoinVia
// from outside. A node started with neither Raft state nor Voters waits
// to be added.
//
// # Recovering a cluster
//
// A cluster that has lost its majority for good (two of three nodes, three
// of five) elects no leader, and so can neither take writes nor change its
// membership through the log. Recover is the way back: it rewrites a
// stopped node's Raft state so that the node restarts in a cluster of the
// voters it is given, the survivors. The operator (dsm cluster recover):
//
//  1. stops dsmd on every survivor, and makes sure the lost nodes stay
//     down for good (a lost node that came back with its old state would
//     still count itself a member of the old cluster);
//  2. runs Recover on each survivor with the same voters, the survivors'
//     IDs and cluster addresses; it refuses while a dsmd holds the file or
//     the Raft log (ErrInUse);
//  3. starts dsmd on the survivors again, with the flags they had: their
//     Raft state now names the new voters, whatever -peers says;
//  4. adds new nodes with Join, as to any cluster.
//
// Recover applies every command entry of the node's log to its file,
// committed or not: with the majority gone, nothing can tell which entries
// were committed. With several survivors the first election goes to the
// one whose log is the most up to date (Raft's vote rule), and the others
// take its state in a snapshot, so the new cluster keeps every write the
// most up-to-date survivor had. What is lost is what only the lost nodes
// had: writes whose entries reached none of the survivors, acknowledged
// ones among them (in a cluster of three, the lost leader and the lost
// follower are a majority: they may have acknowledged writes the survivor
// never received). Writes a survivor had in its log that were never
// committed (their clients got an error or no answer) become committed:
// their outcome was unknown, and now is known.
//
// # Failover
//
// The default timing (DefaultHeartbeatTimeout, DefaultElectionTimeout,
// DefaultLeaderLease, 200 ms each) acknowledges the next write 265-540 ms
// after the leader dies (measured on loopback); node.go says why those
// values and what they cost under load. Config.OnRoleChange reports each
// change of role or leader; Node.Metrics counts leader changes,
// proposals, forwarded writes, read rounds and refused connections.
//
// # Formats
//
// Log entries and snapshots begin with a format version (EntryVersion,
// SnapshotVersion). A node refuses an entry newer than it understands with
// ErrEntryVersion and halts its FSM: it applies nothing more, and does not
// advance its applied index, rather than diverge from newer nodes by
// skipping it; a newer dsm on that node replays from there. A malformed
// entry (ErrBadEntry) is refused alike by every node and applied as a
// failed command.
//
// So a rolling upgrade is safe in any order: upgrade one node at a time
// (stop it, replace the binary, start it, wait until it has caught up).
// A dsm that brings a new entry format must go on writing the old one
// until every node runs it: until then an old node that meets a new entry
// halts there, its file frozen at the entry before (local readers see it
// stale; ReadBarrier and WaitApplied through it fail with ErrHalted; it
// takes no snapshot, so its log is not compacted), while it still stores
// and acknowledges log entries for the others. Upgraded, it replays from
// the entry it stopped at. TestNewerEntryHaltsUntilUpgrade shows this
// with a newer decoder standing in for a newer dsm; no test runs two
// builds.
//
// # Snapshots
//
// FSM.Snapshot copies every variable (name, value, version), the applied
// index and the file's capacities while apply is paused; Persist writes
// the copy while apply goes on. FSM.Restore installs a snapshot in place,
// into the file local processes have mapped (never a new file renamed over
// it), as one shm.Install with AppliedName in the same image: every
// variable takes exactly the snapshot's version, so versions after an
// install are the leader's; a local reader sees every variable, and any
// MGet, either all old or all new. A crash in the middle of an install
// leaves the file marked: shm.Open then fails with
// shm.ErrInstallIncomplete unless told shm.Config.AllowIncomplete, and
// NewNode installs the latest snapshot again (see Restart after a crash).
//
// # Limits
//
//   - A snapshot install has no group limit: it holds at most the file's
//     capacity. One command's names and AppliedName must fit one group
//     (the file's GroupMax).
//   - A host crash costs the node its file: it is rebuilt from the
//     latest snapshot and the log, as fast as the node can apply them.
//   - The run state trusts the boot ID: a host whose page cache is lost
//     without a new boot ID (a virtual machine restored from a memory
//     checkpoint over a disk that moved on) is taken for a process
//     crash.
//   - Apply's writes must stay within the names Keys gave: the group
//     refuses any other, failing the command.
//
// # Not yet
//
//   - Reads have one linearizable level (ReadBarrier) besides the local
//     one; there is no lease-based read, which would trade safety under
//     clock pauses for a round trip.
//   - A node's client address is learnt by Hello, not stored in the Raft
//     configuration: a node knows another's only once they have met.
package cluster
