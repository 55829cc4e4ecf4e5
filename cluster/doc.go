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
// capacities gives every node the same variables, values, versions and
// slots; with the same hash seed (BootstrapSeed, shm.Config.Seed) the same
// index too, so a file's image is the same on every node. Snapshots carry
// the capacities and the seed, and a node refuses one that differs.
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
// At start a node trusts its file: Raft is told not to restore its latest
// snapshot (which would move local readers back in time) and replays the
// log; FSM.Apply skips every entry at or below the file's applied index,
// so none is applied twice. Only a file that is behind the latest snapshot
// (it lost writes, as after a power loss without the redo log) gets the
// snapshot installed first.
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
// # Snapshots
//
// FSM.Snapshot copies every variable (name, value, version), the applied
// index and the file's capacities while apply is paused; Persist writes
// the copy while apply goes on. FSM.Restore installs a snapshot in place,
// into the file local processes have mapped (never a new file renamed over
// it), as one lock group: a local reader sees every variable, and any MGet,
// either all old or all new.
//
// # Limits
//
//   - A snapshot install is one lock group: the variables of the file and
//     of the snapshot together must fit in it (the file's GroupMax), or
//     Restore fails with ErrSnapshotTooLarge. Likewise one command's names
//     and AppliedName must fit one group.
//   - An installed variable takes its slot's next version rather than the
//     snapshot's, so after an install versions (not values) can differ
//     from the leader's. Both limits need an shm primitive that installs a
//     whole image in place; the snapshot format already carries the
//     versions.
//   - Apply's writes must stay within the names Keys gave: the group
//     refuses any other, failing the command.
//
// # Next steps
//
//   - The server's Applier over its command table (Keys from the key
//     positions, Apply through heldVars), and its write path proposing to
//     the leader (or naming it) while reads stay local.
//   - The reserved prefix hidden from KEYS and SCAN and refused on the
//     server's local paths.
//   - An shm primitive to install a snapshot image in place, lifting both
//     snapshot limits.
package cluster
