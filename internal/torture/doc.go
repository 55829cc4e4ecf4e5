// Package torture proves dsm's first and fourth guarantees under fire: many
// remote clients (RESP through go-redis, and the seed's one-byte protocol)
// and several local processes (through the mapping, package shm) run get,
// set, add and compare-and-swap on a few shared variables while a real dsmd
// process is killed with SIGKILL and restarted every few seconds, and the
// local processes are killed and restarted too. Every operation is recorded
// with its call and return instants on the host's monotonic clock (the same
// clock in every process), and the history is checked for linearizability
// with porcupine, one register per variable.
//
// # Operations whose reply never came
//
// An operation whose process or connection died before it returned may or
// may not have taken effect. It is recorded with an unknown result and a
// return instant no earlier than the moment the process that could still
// apply it was seen dead: the killed local process (after wait), or the dsmd
// generation the request was sent to (after wait). No process can act after
// it is dead, so this bound is sound and tighter than "the end of the
// history"; requests to the dsmd that is still running at the end get the
// end of the history. Reads without a reply are dropped (they constrain
// nothing).
//
// # Rounds
//
// A long run is cut into rounds: each round starts with every variable set
// through the mapping while nothing else runs, runs the chaos, then kills and
// restarts dsmd one last time and reads every variable through RESP, the
// seed protocol and the mapping. Those final reads are part of the round's
// history, so a lost acknowledged write fails the check. Rounds keep each
// history small enough for the checker; the file carries over from round to
// round.
//
// # Running
//
// TestTorture runs for DSM_TORTURE_DURATION (a Go duration, default 45s;
// scripts/test runs the default). scripts/torture runs it for as long as
// asked and prints the figures: operations checked, daemon kills survived,
// local process kills. A failed check saves porcupine's HTML visualization
// of the round's history in DSM_TORTURE_OUT (default: the system's temporary
// directory) and names the file.
//
// # The cluster under fire
//
// TestClusterTorture does the same to a cluster (guarantee 9): three dsmd
// nodes (five with DSM_TORTURE_NODES=5), each in a network namespace of its
// own on a bridge (cluster_net_test.go), built with the dsmfail tag. Clients
// on other hosts (namespaces: their sockets are opened there) use go-redis
// against random nodes, so writes reach the leader directly or forwarded;
// a local process on each node's host writes through its daemon and reads
// after SyncReads; counter, MSET/MGET and READONLY clients run beside them.
// One fault at a time, every one or two seconds, each healed before the
// next (cluster_faults_test.go): partitions by iptables (the leader alone, a
// minority, a bridge node that sees both sides), a link down, packet loss
// (iptables statistic), delay (a proxy in front of the cluster port, as this
// kernel has no netem), kill -9 of the leader, a follower or every node,
// SIGSTOP of the leader, a member removed and added again with an empty
// file, a follower cut off until it must install a snapshot, and crashes at
// the cluster's failure points (cluster.FailPoints).
//
// Each round uses variables of its own and ends with a heal, then the
// checkers: porcupine over every register operation (one compare-and-swap
// register per variable; an operation without a reply, or answered
// UNCERTAIN, stays open to the end of the round, never dropped; one
// answered CLUSTERDOWN was not applied and is left out), the final reads
// through every node included; the counter's final value between the
// increments acknowledged and those attempted; no MGET of the MSET group
// torn; READONLY reads only of values some client wrote, with versions
// never going backwards on a connection; and every node's applied index
// and DEBUG DIGEST alike. TestClusterTortureCatchesPlantedBugs runs short
// rounds on builds with each planted bug (internal/planted) and fails
// unless a checker catches it. A failed run keeps its directory (histories,
// porcupine's HTML view, the nodes' logs and data) and names it.
// scripts/torture-cluster runs it for as long as asked.
package torture
