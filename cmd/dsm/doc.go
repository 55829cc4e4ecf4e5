// Command dsm is the command-line client of dsm: an interactive prompt like
// the seed's client, one-shot commands for scripts, and a local mode that
// maps the memory file directly, with no daemon.
//
// Usage:
//
//	dsm [-addr HOST:PORT[,HOST:PORT...]] [-p PORT] [-password P] [-file PATH] [-o json] [COMMAND ARGS...]
//
// Flags may come before or after the command, with one dash or two
// (-addr and --addr); after a "--" everything is the command's (dsm set --
// x -addr stores "-addr"). -p replaces the port of -addr, as redis-cli's
// -p does (of every address); $DSM_ADDR is the address when -addr is not
// given. dsm --help,
// dsm -h and dsm help COMMAND print help on stdout; dsm completion
// bash|zsh|fish prints a shell completion script.
//
// Several addresses, separated by commas, are the nodes of one cluster: dsm
// uses the first that answers, and when that node fails moves to another
// (package client says when a command is sent again and when not: a read,
// or a write that certainly was not applied, is; a write that may have
// been applied is not, and fails saying so). The prompt and the status
// show the node in use.
//
// # The prompt
//
// With no command, dsm connects to the daemon (default 127.0.0.1:12345) and
// prints a one-line hint and redis-cli's prompt, "dsm 127.0.0.1:12345> "
// (the file's path in local mode). R prints "Shared Value: N", the
// variable "value" read as the seed's 32-bit integer (0 when missing); W asks
// "Enter new value: ", stores a 32-bit integer and prints "Server: OK"; Q
// quits. Every command below works by name too ("get x", "set x 5"), and
// any other command goes to the daemon as it is, as redis-cli sends it.
// Arguments may be quoted ("hello world", 'x'). On a terminal the prompt
// edits lines (github.com/chzyer/readline), keeps a history searched with
// Ctrl-R (~/.dsm_history, or $DSM_HISTFILE; empty turns it off), completes
// command names and the daemon's variable names with Tab; Ctrl-C cancels
// the running command (or drops the line being typed) and Ctrl-D ends the
// session. On a pipe (dsm < script.txt) it reads plain lines and
// prints no banner, no prompts and no escape codes, only the results, and
// exits with the code of the first line that failed (0 if none did), so a
// shell script can run a script of commands and test the outcome.
// When the daemon restarts, or the prompt moves to another node of a
// cluster, it reconnects by itself and says so ("reconnected to
// HOST:PORT"); a command typed while the daemon is away
// waits up to -reconnect for it, and runs once it is back if that is safe
// (a read, or a write that never left).
//
// # One-shot commands
//
//	dsm get [-sync] NAME      the value (-sync: see Local mode)
//	dsm set NAME VALUE        OK
//	dsm add NAME DELTA        the new value
//	dsm cas NAME OLD NEW      1 if swapped, else 0
//	dsm mget NAME...          one value per line, an empty line if missing
//	dsm mset NAME VALUE...    OK (all or none)
//	dsm del NAME...           how many existed
//	dsm list [PATTERN]        the matching names, one per line, sorted
//	dsm info (or status)      server, file, sync mode, variables, clients
//	dsm watch [-n N] NAME...  every change, one line each, until interrupted
//	dsm lock NAME... -- CMD   CMD run on the locks of NAME..., then unlock
//
// Results go to stdout as redis-cli prints them when piped; errors go to
// stderr. With -o json each result is one JSON object per line:
// {"name":"x","value":"5"} for get ("version" too in local mode),
// {"ok":true} for set and mset, {"name":"x","value":6} for add,
// {"name":"x","swapped":true} for cas, {"deleted":2} for del,
// {"name":"a"} per name for list, {"name":"a","value":"1","found":true}
// per variable for mget, and one object for info. A value that is not
// valid UTF-8 is base64 with "encoding":"base64" beside it; get of a
// missing variable prints {"name":"x","value":null} and exits 2. An error
// is one object on stderr: {"error":MESSAGE,"kind":KIND,"exit":CODE}, KIND
// one of error, not_found, refused, unreachable.
//
// # Watching and locking
//
// dsm watch NAME... prints a line per change of the named variables, and of
// those matching the arguments that are glob patterns (with * ? or [):
// "TIME NAME VALUE (version N)", TIME in RFC 3339 with milliseconds, VALUE
// "(deleted)" when the change deleted the variable and "(damaged: ERROR)"
// when its new value is damaged in the file; with -o json one object
// {"time","name","value","version","deleted"}, with "damage" for damage. It runs until interrupted
// (SIGINT, SIGTERM: exit 0), or stops after -n N changes. Changes close
// together may be merged into the latest one, which is never missed. It
// subscribes to the daemon's channels __dsm__:NAME; with -file it reads the
// file's change feed, and sees the changes of every process.
//
// dsm lock [-read] [-wait D] [-lease D] NAME... -- COMMAND... takes write
// locks (read locks with -read) on the variables, all or none, waiting at
// most -wait (10s; 0 tries once), runs the command through the connection
// that holds them, and releases them; more commands may follow, each after
// its own "--" (dsm lock a b -- add a 1 -- add b -1). While it holds them,
// every other client and local process waits to write them. -lease (30s)
// bounds how long the daemon keeps them should dsm not release them. The
// first failing command ends the run with its exit code; locks that were
// not free in time exit 1. With -file, the locks are taken in the file
// directly. At the prompt, "lock NAME..." takes locks for the commands that
// follow and "unlock" releases them.
//
// # Clusters
//
// dsm cluster shows and changes the cluster of the nodes -addr names (any
// member will do). dsm cluster status lists every node of the cluster's
// configuration and asks each over its client address for its INFO
// cluster: a table of ID, role, voter or learner, cluster and client
// address, term, commit and applied index, and lag (how far its applied
// index is behind the leader's); a node that does not answer is
// unreachable there, and the command still exits 0. With -o json it is
// one object {"leader","term","nodes":[...]}. dsm cluster join ID
// CLUSTER-ADDR, remove ID, transfer [ID] and snapshot send CLUSTER JOIN,
// REMOVE, TRANSFER and SNAPSHOT and print OK; the first three wait up to
// -timeout, two minutes unless it is given, since a join waits for the
// node to catch up.
//
// dsm cluster recover -file PATH [-raft-dir DIR] -node-id ID -peers
// ID=HOST:PORT,... rewrites, offline, the Raft state of a node whose
// cluster lost its majority for good, so that the survivors (-peers)
// restart as a cluster of just them (server.RecoverCluster, and package
// cluster's "Recovering a cluster" for the procedure and what is lost).
//
// # Exit codes
//
//	0  success
//	1  usage or other error
//	2  no such variable
//	3  refused (authentication, access rules, limits)
//	4  unreachable (no daemon at the address, no leader in the cluster, or
//	   the file cannot be opened)
//
// # Local mode
//
// With -file PATH the same commands run through the mapping of the file
// (package shm), under the same locks as the daemon, so they work whether
// or not a daemon serves the file. A read of a file that does not exist
// fails (exit 4); a write creates the file, as dsmd does on first start.
// Local mode needs Linux (shm is built on its futexes and file locks): dsm
// builds for macOS and Windows as a remote client, and there -file says
// so and exits 1.
//
// On a cluster node's file (replicated) local mode reads the node's
// applied state from the mapping; get -sync first waits until the file
// holds every write acknowledged in the cluster, so the read is
// linearizable. Writes (set, add, cas, mset, del) go through the node's
// daemon over the socket beside the file (PATH.sock) and print once the
// node has applied them; with the daemon down they fail as unreachable
// (exit 4) while reads go on.
//
// Opening a file checks only its header, so that it stays fast. dsm -file
// PATH check [-repair] verifies the rest (shm's Check): every live slot's
// name and value, the index and the free list. It prints each problem on a
// line and exits 1 if any remain, or prints OK; -repair first rebuilds the
// index and free list from the slots when nothing else is damaged, as dsmd
// does at start, and prints each problem it repaired. With -o json each
// problem is {"problem","repairable","repaired"}. Both are safe while dsmd
// and other processes use the file.
//
// dsm -file PATH upgrade rewrites a file of file format 1 in file format
// 2 (shm's Upgrade): the same variables, values and versions, the old file
// kept as PATH.format1. It needs the file to itself: with dsmd or another
// process attached it fails and changes nothing. A file in format 2
// already is left alone.
//
// Backup and restore: dsm backup DEST writes a consistent copy of every
// variable, taken at one instant (shm's Image: readers and writers of
// every process wait meanwhile, a pause it prints), through the daemon
// (BACKUP) or with -file PATH beside it. DEST is written whole or not at
// all, in the cluster snapshot format. dsm -file PATH restore SRC, with
// dsmd stopped (it holds the file's daemon lock meanwhile), makes the file
// hold exactly the backup's variables, values and versions (shm's
// Install); a missing file is created with the backup's capacities and
// hash seed, and an existing one must have them.
//
// The password may come from $DSM_PASSWORD instead of -password, which
// keeps it out of the process list, and the address from $DSM_ADDR.
package main
