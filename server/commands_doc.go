package server

import (
	"bytes"
	"fmt"
	"strings"
)

//go:generate go test -run ^TestCommandsDoc$ . -args -write-commands-doc

// commandsPreamble opens docs/COMMANDS.md: how the commands answer, and
// where dsm differs from Redis on purpose. What follows it is made from
// the command table.
const commandsPreamble = `# dsmd's commands

This file is generated from the server's command table (server/commands.go)
by ` + "`go generate ./server`" + `; a test fails when it is stale. Edit the table, not
this file.

dsmd answers RESP2, RESP3 (after HELLO 3) and inline commands as Redis 7
answers them: the same reply types and the same error texts, checked in
Redis' order (unknown command, then arity, then authentication). The
differential tests (server/redis_compat_test.go and its neighbours) run
each command against the installed redis-server and compare the replies
byte for byte. Integers are kept as integers: SET x 42 stores the integer
42, as Redis does.

## Where dsm differs from Redis

- Variables do not expire. SET ... EX|PX|EXAT|PXAT is refused with
  "ERR dsm variables do not expire ..." after the options are checked as
  Redis checks them; KEEPTTL is accepted (there is no TTL to keep). TTL
  and PTTL answer -1 for a variable and -2 for a missing one.
- SELECT accepts only database 0; FLUSHDB and FLUSHALL are alike, refused
  while dsmd runs with -protect-flush, and cannot be queued in MULTI.
- MGET reads its variables at one instant and MSET writes all or none;
  both name at most the file's group limit (dsmd -group-max, fixed when
  the file is created: 256 by default, 10001 to take the largest MSET
  Redis takes) and fail with "ERR too many variables in one atomic group"
  above it, naming the limit.
- Reading a name no variable can have (empty, or longer than the file
  allows) finds nothing, as in Redis; writing one is an error.
- A KEYS or SCAN MATCH pattern that could match no name (more elements
  other than '*' than the file's names have bytes) is refused; PSUBSCRIBE
  likewise, counted against "__dsm__:" and a name. A KEYS or SCAN whose
  client closes its side of the connection stops with "ERR scan stopped".
- CAS compares by text ("5" equals the integer 5); a missing variable
  replies 0, not an error. GETVER replies [value, version], or a null
  array for a missing variable; versions rise with every change.
- CONFIG GET answers the settings Redis tools ask for ("save" is "",
  "appendonly" is "no", "appendfsync" follows -sync, "maxmemory" is 0)
  plus dsm-* settings. CONFIG SET changes slowlog-log-slower-than,
  slowlog-max-len and notify-keyspace-events, and accepts the others only
  at their current value: dsmd takes them as flags.
- Keyspace notifications come from the memory's change feed: the events
  are "set" (class $) for any write that leaves a value and "del" (class
  g) for a deletion, and writes to one variable close together may show
  as one event. PUBLISH refuses __keyspace@, __keyevent@ and __dsm__:
  channels: only the memory speaks there.
- MONITOR shows the commands of RESP clients of this dsmd; local processes
  write the file directly and do not show.
- HELLO replies server "dsm", version 7.0.0 (the Redis whose replies are
  followed); INFO has redis_version 7.0.0 and dsm's own version.
- Errors for a full file or a too long name or value name the file's
  limits, which are fixed when it is created.
- dsm's own commands (group dsm below): CAS, GETVER, the client-held locks
  (LOCK, UNLOCK, LOCKS, FENCED), BACKUP, and on a cluster node's local
  socket SETVER, INCRVER and CASVER. The model behind them (versions,
  locks, leases, fencing) is in ` + "`go doc ./server`" + ` and docs/GUARANTEES.md.
`

// commandsMarkdown is docs/COMMANDS.md: the preamble, then every command
// of the table by group, each with its syntax, summary, arity, flags and
// subcommands.
func (t *commandTable) commandsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(commandsPreamble)
	var groups []string
	byGroup := map[string][]*command{}
	for _, cmd := range commandSpecs() { // the table's order
		if byGroup[cmd.category] == nil {
			groups = append(groups, cmd.category)
		}
		byGroup[cmd.category] = append(byGroup[cmd.category], t.byName[cmd.name])
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## %s\n", g)
		for _, cmd := range byGroup[g] {
			writeCommandDoc(&b, cmd, "###")
		}
	}
	return b.Bytes()
}

func writeCommandDoc(b *bytes.Buffer, cmd *command, heading string) {
	name := strings.ToUpper(strings.ReplaceAll(cmd.name, "|", " "))
	fmt.Fprintf(b, "\n%s %s\n\n", heading, name)
	if cmd.subs == nil {
		fmt.Fprintf(b, "    %s\n\n", strings.TrimSpace(name+" "+argsSyntax(cmd.args)))
	}
	fmt.Fprintf(b, "%s\n\n", cmd.summary)
	fmt.Fprintf(b, "Arity %d", cmd.arity)
	if flags := cmd.flagList(); len(flags) > 0 {
		fmt.Fprintf(b, "; flags %s", strings.Join(flags, ", "))
	}
	if cmd.flags&flagMulti != 0 {
		b.WriteString("; may be queued in MULTI")
	}
	fmt.Fprintf(b, "; since %s.\n", cmd.since)
	for _, sub := range sortedKeys(cmd.subs) {
		writeCommandDoc(b, cmd.subs[sub], heading+"#")
	}
}

// argsSyntax writes arguments as Redis' documentation does:
// "key value [NX | XX] [GET]".
func argsSyntax(args []arg) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = argSyntax(a)
	}
	return strings.Join(parts, " ")
}

func argSyntax(a arg) string {
	var s string
	switch a.typ {
	case "pure-token":
		s = a.token
	case "oneof":
		alts := make([]string, len(a.parts))
		for i, p := range a.parts {
			alts[i] = argSyntax(p)
		}
		s = strings.Join(alts, " | ")
		if a.token != "" {
			s = a.token + " " + s
		} else if a.flags&argOptional == 0 {
			s = "<" + s + ">"
		}
	case "block":
		s = argsSyntax(a.parts)
		if a.token != "" {
			s = a.token + " " + s
		}
	default:
		s = a.name
		if a.token != "" {
			s = a.token + " " + s
		}
	}
	switch {
	case a.flags&argMultiple != 0 && len(s) > 24:
		s += " ..." // a long repeated choice or sequence: not written twice
	case a.flags&argMultiple != 0:
		s += " [" + s + " ...]"
	}
	if a.flags&argOptional != 0 {
		s = "[" + s + "]"
	}
	return s
}
