package server

import (
	"sort"
	"strings"
)

// cmdFlag describes a command for dispatch and for COMMAND INFO.
type cmdFlag uint16

const (
	flagWrite    cmdFlag = 1 << iota // changes variables: counts for SyncAlways
	flagReadonly                     // reads variables only
	flagDenyOOM                      // may create a variable
	flagFast                         // O(1) or O(number of arguments)
	flagNoAuth                       // allowed before AUTH
	flagAdmin                        // server administration
	flagHidden                       // a metrics label only, not a command

	// Dispatch only; COMMAND INFO does not report these.
	flagMulti      // may be queued inside MULTI
	flagTxControl  // runs at once inside MULTI instead of being queued
	flagSubscribed // allowed in RESP2's subscribed context
	flagHoldAware  // reads the connection's locked variables itself: not routed through its locks
	flagWholeSpace // lists or counts every variable: inside EXEC it sees the staged writes (txview.go)
)

var flagNames = []struct {
	f    cmdFlag
	name string
}{
	{flagWrite, "write"}, {flagReadonly, "readonly"}, {flagDenyOOM, "denyoom"},
	{flagAdmin, "admin"}, {flagNoAuth, "no_auth"}, {flagFast, "fast"},
}

// handler executes a command whose name and arity were checked. args[0] is
// the command name; the slices are valid only during the call.
type handler func(c *conn, args [][]byte)

// command is an entry of the command table.
type command struct {
	id       int
	name     string // lower case; "parent|sub" for a subcommand
	arity    int    // Redis' convention: n exact, -n at least n (name included)
	flags    cmdFlag
	keys     [3]int // first key, last key, step (COMMAND INFO)
	category string // the ACL category; COMMAND DOCS sends it as "group"
	since    string
	summary  string
	args     []arg      // COMMAND DOCS' arguments, for clients' hints
	run      handler    // set from vars for a variable command
	vars     varHandler // a variable command's, over the memory or a lock group
	subs     map[string]*command
}

// arg is an argument as COMMAND DOCS describes it: its name, its type
// (Redis' names: "key", "string", "integer", "pattern", "pure-token" for a
// bare keyword, "oneof" and "block" for a choice or a sequence of parts),
// the keyword that introduces it, and whether it may be left out or
// repeated. redis-cli builds its hints from these: SET's read
// "key value [NX|XX] [GET] [KEEPTTL]".
type arg struct {
	name, typ, token string
	flags            argFlag
	parts            []arg // of a oneof or a block
}

type argFlag uint8

const (
	argOptional      argFlag = 1 << iota
	argMultiple              // may be repeated
	argMultipleToken         // repeated with its token each time
)

var argFlagNames = []struct {
	f    argFlag
	name string
}{{argOptional, "optional"}, {argMultiple, "multiple"}, {argMultipleToken, "multiple_token"}}

func (cmd *command) arityOK(n int) bool {
	if cmd.arity >= 0 {
		return n == cmd.arity
	}
	return n >= -cmd.arity
}

// sub looks up a subcommand, ignoring case.
func (cmd *command) sub(name []byte) *command { return lookupFold(cmd.subs, name) }

// commandTable holds every command by name. It is built once per Server and
// not changed afterwards.
type commandTable struct {
	byName map[string]*command
	all    []*command // by id, subcommands and hidden entries included

	seedRead, seedWrite, unknown *command // hidden: metrics labels
}

// lookup finds a command by name, ignoring case.
func (t *commandTable) lookup(name []byte) *command { return lookupFold(t.byName, name) }

// lookupFold finds name in m, whose keys are lower case, ignoring case and
// without allocating. No name is longer than 32 bytes.
func lookupFold(m map[string]*command, name []byte) *command {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	return m[string(lowerASCII(buf[:0], name))]
}

// names returns every entry's name by id, for the metrics labels.
func (t *commandTable) names() []string {
	out := make([]string, len(t.all))
	for i, cmd := range t.all {
		out[i] = cmd.name
	}
	return out
}

// visible returns the top-level commands in name order.
func (t *commandTable) visible() []*command {
	out := make([]*command, 0, len(t.byName))
	for _, cmd := range t.byName {
		out = append(out, cmd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (t *commandTable) register(cmd *command) *command {
	if h := cmd.vars; h != nil {
		cmd.run = func(c *conn, args [][]byte) { h(c, memVars{c.s.mem}, args) }
	}
	cmd.id = len(t.all)
	t.all = append(t.all, cmd)
	if cmd.flags&flagHidden == 0 && !strings.Contains(cmd.name, "|") {
		t.byName[cmd.name] = cmd
	}
	for _, name := range sortedKeys(cmd.subs) {
		t.register(cmd.subs[name])
	}
	return cmd
}

func sortedKeys(m map[string]*command) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// newCommandTable builds the table from the specs in commands.go.
func newCommandTable() *commandTable {
	t := &commandTable{byName: map[string]*command{}}
	for _, cmd := range commandSpecs() {
		t.register(cmd)
	}
	t.seedRead = t.register(&command{name: "seed_read", flags: flagHidden})
	t.seedWrite = t.register(&command{name: "seed_write", flags: flagHidden})
	t.unknown = t.register(&command{name: "_unknown", flags: flagHidden})
	return t
}

// container makes a command with subcommands; each sub's name is prefixed
// with "parent|" as Redis names them.
func container(parent *command, subs ...*command) *command {
	parent.subs = map[string]*command{}
	for _, sub := range subs {
		key := sub.name
		sub.name = parent.name + "|" + sub.name
		if sub.category == "" {
			sub.category = parent.category
		}
		parent.subs[key] = sub
	}
	return parent
}

// lowerASCII appends b to dst with ASCII letters in lower case.
func lowerASCII(dst, b []byte) []byte {
	for _, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	return dst
}

// equalFoldASCII reports whether b equals the lower-case name, ignoring the
// case of ASCII letters in b. Not bytes.EqualFold, which also folds
// Unicode ("\u212a", the Kelvin sign, matches "k"): it must agree with
// lowerASCII, by which the table is searched.
func equalFoldASCII(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != name[i] {
			return false
		}
	}
	return true
}

// aclCategories derives a command's ACL categories from its flags and category.
func (cmd *command) aclCategories() []string {
	var out []string
	switch {
	case cmd.flags&flagWrite != 0:
		out = append(out, "@write")
	case cmd.flags&flagReadonly != 0:
		out = append(out, "@read")
	}
	out = append(out, "@"+cmd.category)
	if cmd.flags&flagFast != 0 {
		out = append(out, "@fast")
	} else {
		out = append(out, "@slow")
	}
	if cmd.flags&flagAdmin != 0 {
		out = append(out, "@admin", "@dangerous")
	}
	return out
}

// flagList names a command's flags for COMMAND INFO.
func (cmd *command) flagList() []string {
	var out []string
	for _, f := range flagNames {
		if cmd.flags&f.f != 0 {
			out = append(out, f.name)
		}
	}
	return out
}
