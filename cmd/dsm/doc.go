// Command dsm is the command-line client of dsm: an interactive prompt like
// the seed's client, one-shot commands for scripts, and a local mode that
// maps the memory file directly, with no daemon.
//
// Usage:
//
//	dsm [-addr HOST:PORT] [-password P] [-file PATH] [-o json] [COMMAND ARGS...]
//
// # The prompt
//
// With no command, dsm connects to the daemon (default 127.0.0.1:12345) and
// prints the seed's banner and prompt. R prints "Shared Value: N", the
// variable "value" read as the seed's 32-bit integer (0 when missing); W asks
// "Enter new value: ", stores a 32-bit integer and prints "Server: OK"; Q
// quits. Every command below works by name too ("get x", "set x 5"), and
// any other command goes to the daemon as it is, as redis-cli sends it.
// Arguments may be quoted ("hello world", 'x'). On a terminal the prompt
// edits lines and keeps a history (~/.dsm_history, or $DSM_HISTFILE; empty
// turns it off); on a pipe it reads plain lines and prints no escape codes.
// When the daemon restarts the prompt reconnects by itself and says so
// ("reconnected to HOST:PORT"); a command typed while the daemon is away
// waits up to -reconnect for it, and runs once it is back if that is safe
// (a read, or a write that never left).
//
// # One-shot commands
//
//	dsm get NAME              the value
//	dsm set NAME VALUE        OK
//	dsm add NAME DELTA        the new value
//	dsm cas NAME OLD NEW      1 if swapped, else 0
//	dsm mget NAME...          one value per line, an empty line if missing
//	dsm mset NAME VALUE...    OK (all or none)
//	dsm del NAME...           how many existed
//	dsm list [PATTERN]        the matching names, one per line, sorted
//	dsm info (or status)      server, file, sync mode, variables, clients
//
// Results go to stdout as redis-cli prints them when piped; errors go to
// stderr. With -o json each result is one JSON object per line:
// {"name":"x","value":"5"} for get ("version" too in local mode),
// {"ok":true} for set and mset, {"name":"x","value":6} for add,
// {"name":"x","swapped":true} for cas, {"deleted":2} for del,
// {"name":"a"} per name for list, {"name":"a","value":"1","found":true}
// per variable for mget, and one object for info.
//
// # Exit codes
//
//	0  success
//	1  usage or other error
//	2  no such variable
//	3  refused (authentication, access rules, limits)
//	4  unreachable (no daemon at the address, or the file cannot be opened)
//
// # Local mode
//
// With -file PATH the same commands run through the mapping of the file
// (package shm), under the same locks as the daemon, so they work whether
// or not a daemon serves the file. A read of a file that does not exist
// fails (exit 4); a write creates the file, as dsmd does on first start.
//
// The password may come from $DSM_PASSWORD instead of -password, which
// keeps it out of the process list.
package main
