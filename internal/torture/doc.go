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
package torture
