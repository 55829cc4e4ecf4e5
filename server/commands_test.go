package server

import (
	"strings"
	"testing"
	"time"
)

// step is one command and the raw reply it must get.
type step struct {
	args []string
	want string
}

func st(want string, args ...string) step { return step{args: args, want: want} }

const (
	wrongArgs = "ERR wrong number of arguments for '%s' command"
	okReply   = "+OK\r\n"
)

func arity(name string) string { return errReply(strings.Replace(wrongArgs, "%s", name, 1)) }

// commandScripts are conversations on one RESP2 connection to a server with
// an empty file and no password. Each reply is compared byte for byte; the
// texts are those Redis 7 sends (checked against redis-server 7.0).
var commandScripts = map[string][]step{
	"ping echo select quit-less": {
		st(simple("PONG"), "PING"),
		st(bulk("hi"), "ping", "hi"),
		st(arity("ping"), "ping", "a", "b"),
		st(bulk("x y"), "ECHO", "x y"),
		st(arity("echo"), "echo"),
		st(okReply, "select", "0"),
		st(errReply(msgDBRange), "select", "1"),
		st(errReply(msgNotInteger), "select", "x"),
	},
	"unknown": {
		st(errReply("ERR unknown command 'foo', with args beginning with: "), "foo"),
		st(errReply("ERR unknown command 'FOO', with args beginning with: 'Bar' 'b z' "), "FOO", "Bar", "b z"),
		st(errReply("ERR unknown command '', with args beginning with: "), ""),
		st(errReply("ERR unknown subcommand 'nope'. Try CLIENT HELP."), "client", "nope"),
		st(arity("client"), "client"),
	},
	"get set": {
		st(null2, "GET", "k"),
		st(arity("get"), "get"),
		st(arity("get"), "get", "a", "b"),
		st(okReply, "SET", "k", "v"),
		st(bulk("v"), "get", "k"),
		st(arity("set"), "set", "k"),
		st(null2, "set", "k", "w", "NX"),
		st(okReply, "set", "k", "w", "xx"),
		st(bulk("w"), "set", "k", "x", "GET"),
		st(null2, "set", "new", "1", "GET"),
		st(null2, "set", "absent", "1", "XX"),
		st(null2, "get", "absent"),
		st(bulk("x"), "set", "k", "y", "nx", "get"),
		st(bulk("x"), "get", "k"),
		st(errReply(msgSyntax), "set", "k", "v", "nx", "xx"),
		st(errReply(msgSyntax), "set", "k", "v", "ex"),
		st(errReply(msgSyntax), "set", "k", "v", "ex", "10", "px", "10"),
		st(errReply(msgSyntax), "set", "k", "v", "bogus"),
		st(errReply(msgNotInteger), "set", "k", "v", "ex", "abc"),
		st(errReply(msgNoExpiry), "set", "k", "v", "ex", "10"),
		st(errReply(msgNoExpiry), "set", "k", "v", "PXAT", "10"),
		st(okReply, "set", "k", "v", "keepttl"),
		st(errReply(msgSyntax), "set", "k", "v", "keepttl", "ex", "1"),
		st(okReply, "set", "n", "42"),
		st(bulk("42"), "get", "n"),
		st(okReply, "set", "bin", "a\x00b\r\nc"),
		st(bulk("a\x00b\r\nc"), "get", "bin"),
		st(okReply, "set", "empty", ""),
		st(bulk(""), "get", "empty"),
	},
	"getset mget mset": {
		st(null2, "getset", "a", "1"),
		st(bulk("1"), "getset", "a", "2"),
		st(arity("getset"), "getset", "a"),
		st(okReply, "mset", "a", "1", "b", "2"),
		st(arity("mset"), "mset", "a", "1", "b"),
		st(arity("mset"), "mset", "a"),
		st("*3\r\n"+bulk("1")+bulk("2")+null2, "mget", "a", "b", "c"),
		st(arity("mget"), "mget"),
		st(okReply, "mset", "a", "3", "a", "4"),
		st(bulk("4"), "get", "a"),
	},
	"del exists type ttl dbsize": {
		st(okReply, "mset", "a", "1", "b", "2"),
		st(integer(2), "dbsize"),
		st(integer(3), "exists", "a", "a", "b", "zz"),
		st(simple("string"), "type", "a"),
		st(simple("none"), "type", "zz"),
		st(integer(-1), "ttl", "a"),
		st(integer(-2), "pttl", "zz"),
		st(integer(1), "del", "a", "a", "zz"),
		st(integer(1), "unlink", "b"),
		st(integer(0), "dbsize"),
		st(arity("del"), "del"),
		st(arity("dbsize"), "dbsize", "x"),
	},
	"incr decr": {
		st(integer(1), "incr", "c"),
		st(integer(11), "incrby", "c", "10"),
		st(integer(10), "decr", "c"),
		st(integer(-5), "decrby", "c", "15"),
		st(errReply(msgNotInteger), "incrby", "c", "abc"),
		st(errReply(msgNotInteger), "incrby", "c", "+1"),
		st(errReply(msgNotInteger), "incrby", "c", "01"),
		st(errReply(msgNotInteger), "incrby", "c", " 1"),
		st(errReply(msgNotInteger), "incrby", "c", "99999999999999999999"),
		st(okReply, "set", "c", "9223372036854775806"),
		st(integer(9223372036854775807), "incr", "c"),
		st(errReply(msgOverflow), "incr", "c"),
		st(errReply(msgDecrOverflow), "decrby", "c", "-9223372036854775808"),
		st(okReply, "set", "s", "hello"),
		st(errReply(msgNotInteger), "incr", "s"),
		st(okReply, "set", "s", "007"),
		st(errReply(msgNotInteger), "incr", "s"),
		st(arity("incr"), "incr"),
		st(arity("incrby"), "incrby", "c"),
	},
	"cas": {
		st(integer(0), "cas", "v", "0", "1"),
		st(okReply, "set", "v", "5"),
		st(integer(0), "cas", "v", "4", "6"),
		st(integer(1), "CAS", "v", "5", "6"),
		st(bulk("6"), "get", "v"),
		st(integer(1), "cas", "v", "6", "text"),
		st(integer(1), "cas", "v", "text", "7"),
		st(integer(8), "incr", "v"),
		st(arity("cas"), "cas", "v", "1"),
	},
	"keys scan": {
		st(okReply, "mset", "user:1", "a", "user:2", "b", "item:1", "c", "u[x]", "d"),
		st("*0\r\n", "keys", "nomatch*"),
		st("*1\r\n"+bulk("item:1"), "keys", "item:*"),
		st("*1\r\n"+bulk("u[x]"), "keys", `u\[x\]`),
		st("*1\r\n"+bulk("user:2"), "keys", "user:[^1]"),
		st(arity("keys"), "keys"),
		st(errReply(msgInvalidCursor), "scan", "abc"),
		st(errReply(msgNotInteger), "scan", "0", "count", "abc"),
		st(errReply(msgSyntax), "scan", "0", "count", "0"),
		st(errReply(msgSyntax), "scan", "0", "match"),
		st(errReply(msgSyntax), "scan", "0", "bogus", "1"),
		st("*2\r\n"+bulk("0")+"*0\r\n", "scan", "0", "type", "list"),
		st("*2\r\n"+bulk("0")+"*1\r\n"+bulk("item:1"), "scan", "0", "match", "item*", "count", "100", "type", "string"),
	},
	"config": {
		st("*2\r\n"+bulk("save")+bulk(""), "config", "get", "save"),
		st("*2\r\n"+bulk("appendonly")+bulk("no"), "CONFIG", "GET", "appendonly"),
		st("*4\r\n"+bulk("maxmemory")+bulk("0")+bulk("maxmemory-policy")+bulk("noeviction"), "config", "get", "maxmemory*"),
		st("*2\r\n"+bulk("databases")+bulk("1"), "config", "get", "DATABASES"),
		st("*0\r\n", "config", "get", "nonesuch"),
		st(arity("config|get"), "config", "get"),
		st(errReply("ERR unknown subcommand 'foo'. Try CONFIG HELP."), "config", "foo"),
		st(errReply("ERR Unknown option or number of arguments for CONFIG SET - 'foo'"), "config", "set", "foo", "bar"),
		st(okReply, "config", "set", "appendonly", "no"),
		st(errReply(msgSyntax), "config", "set", "appendonly", "no", "save"),
		st(okReply, "config", "resetstat"),
		st(errReply("ERR The server is running without a config file"), "config", "rewrite"),
	},
	"client": {
		st(null2, "client", "getname"),
		st(okReply, "client", "setname", "worker-1"),
		st(bulk("worker-1"), "client", "getname"),
		st(errReply(msgBadName), "client", "setname", "a b"),
		st(arity("client|setname"), "client", "setname"),
		st(okReply, "client", "setinfo", "lib-name", "go-redis(x)"),
		st(okReply, "client", "setinfo", "LIB-VER", "9.0"),
		st(errReply("ERR Unrecognized option 'lib-foo'"), "client", "setinfo", "lib-foo", "x"),
		st(okReply, "client", "no-evict", "on"),
		st(errReply(msgSyntax), "client", "no-evict", "maybe"),
		st(okReply, "client", "no-touch", "off"),
		st(errReply(msgSyntax), "client", "list", "bogus"),
	},
	"command": {
		st(integer(int64(len(newCommandTable().byName))), "command", "count"),
		st("*1\r\n"+null2, "command", "info", "nonesuch"),
		st("*1\r\n*10\r\n"+bulk("get")+":2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n", "command", "info", "GET"),
		st("*0\r\n", "command", "docs", "nonesuch"),
		st(errReply("ERR unknown subcommand 'foo'. Try COMMAND HELP."), "command", "foo"),
	},
	"hello": {
		st(errReply(msgNoProto), "hello", "4"),
		st(errReply(msgProtoNotInt), "hello", "x"),
		st(errReply("ERR Syntax error in HELLO option 'bogus'"), "hello", "2", "bogus"),
		st(errReply(msgNoPassword), "auth", "pw"),
		st(okReply, "auth", "default", "anything"),
		st(errReply(msgWrongPass), "auth", "alice", "pw"),
		st(errReply(msgSyntax), "auth", "a", "b", "c"),
		st(arity("auth"), "auth"),
	},
}

func TestCommandReplies(t *testing.T) {
	for name, script := range commandScripts {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, Config{})
			rc := dialRaw(t, ts.addr)
			for _, s := range script {
				if got := rc.do(s.args...); got != s.want {
					t.Errorf("%q:\n got %q\nwant %q", s.args, got, s.want)
				}
			}
		})
	}
}

// TestCommandRepliesShapes checks the replies whose content varies (ids,
// times) by their shape.
func TestCommandRepliesShapes(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.do("client", "setname", "me")
	checks := []struct {
		args     []string
		prefix   string
		contains []string
	}{
		{[]string{"client", "id"}, ":", nil},
		{[]string{"client", "info"}, "$", []string{"id=", " addr=127.0.0.1:", " name=me ", " cmd=client|info", " resp=2"}},
		{[]string{"client", "list"}, "$", []string{"id=", " name=me ", " cmd=client|list"}},
		{[]string{"info"}, "$", []string{"# Server\r\n", "redis_version:7.0.0\r\n", "dsm_version:", "# Clients\r\nconnected_clients:1\r\n",
			"# Memory\r\n", "# Persistence\r\n", "dsm_sync:interval\r\n", "# Stats\r\n", "# Keyspace\r\n", "dsm_capacity:"}},
		{[]string{"info", "keyspace"}, "$", []string{"# Keyspace\r\n"}},
		{[]string{"command"}, "*", []string{"$3\r\nget\r\n", "$3\r\ncas\r\n", "$14\r\nclient|setname\r\n"}},
		{[]string{"command", "docs", "get"}, "*2\r\n$3\r\nget\r\n", []string{"summary", "since", "group"}},
		{[]string{"command", "docs"}, "*", []string{"$6\r\nconfig\r\n", "subcommands"}},
		{[]string{"client", "help"}, "*", []string{"+SETNAME\r\n"}},
		{[]string{"hello"}, "*14\r\n$6\r\nserver\r\n$3\r\ndsm\r\n", []string{"$5\r\nproto\r\n:2\r\n", "$4\r\nmode\r\n$10\r\nstandalone\r\n"}},
	}
	for _, c := range checks {
		got := rc.do(c.args...)
		if !strings.HasPrefix(got, c.prefix) {
			t.Errorf("%q: got %q, want prefix %q", c.args, got, c.prefix)
		}
		for _, s := range c.contains {
			if !strings.Contains(got, s) {
				t.Errorf("%q: reply lacks %q:\n%s", c.args, s, got)
			}
		}
	}
	rc.do("set", "x", "1")
	if got := rc.do("info", "keyspace"); !strings.Contains(got, "db0:keys=1,expires=0,avg_ttl=0\r\n") {
		t.Errorf("INFO keyspace = %q", got)
	}
	if got := rc.do("quit"); got != okReply {
		t.Errorf("QUIT = %q", got)
	}
	if rest, closed := rc.closed(5 * time.Second); !closed || rest != "" {
		t.Errorf("after QUIT: closed=%v, extra %q", closed, rest)
	}
}

// TestVariableCommandsInTable: every command that runs over a varStore
// names its variables by key positions (so that LOCK and EXEC route it
// through their group), may be queued in MULTI, and says whether it writes.
func TestVariableCommandsInTable(t *testing.T) {
	for _, cmd := range newCommandTable().all {
		if cmd.vars == nil {
			continue
		}
		if cmd.keys[0] < 1 || cmd.flags&flagMulti == 0 || cmd.flags&(flagWrite|flagReadonly) == 0 {
			t.Errorf("%s: keys %v, flags %b", cmd.name, cmd.keys, cmd.flags)
		}
	}
}

// TestCommandDocsArguments: COMMAND DOCS gives dsm's own commands their
// arguments, in Redis' shape: a map per argument with name and type, and
// token and flags when it has them.
func TestCommandDocsArguments(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	field := func(k, v string) string { return bulk(k) + bulk(v) }
	plain := func(name, typ string) string { return "*4\r\n" + field("name", name) + field("type", typ) }
	got := rc.do("COMMAND", "DOCS", "CAS")
	want := bulk("arguments") + "*3\r\n" + plain("key", "key") + plain("expected", "string") + plain("new", "string")
	if !strings.HasSuffix(got, want) {
		t.Errorf("COMMAND DOCS CAS = %q, want it to end in %q", got, want)
	}
	got = rc.do("COMMAND", "DOCS", "LOCK")
	for _, want := range []string{
		"*8\r\n" + field("name", "ms") + field("type", "integer") + field("token", "LEASE") + bulk("flags") + "*1\r\n+optional\r\n",
		"*8\r\n" + field("name", "mode") + field("type", "oneof") + bulk("flags") + "*1\r\n+optional\r\n" + bulk("arguments") + "*2\r\n",
		"*6\r\n" + field("name", "read") + field("type", "pure-token") + field("token", "READ"),
		"*6\r\n" + field("name", "name") + field("type", "key") + bulk("flags") + "*1\r\n+multiple\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("COMMAND DOCS LOCK lacks %q:\n%q", want, got)
		}
	}
	if got := rc.do("COMMAND", "DOCS", "MULTI"); strings.Contains(got, "arguments") {
		t.Errorf("COMMAND DOCS MULTI = %q: a command without arguments has no arguments field", got)
	}
}

// TestInlineAndProtocolErrors: inline commands work; a protocol error is
// answered with Redis' text and the connection is closed.
func TestInlineAndProtocolErrors(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.send("PING\r\n\r\nset  x   'a b'\r\nget x\n")
	for _, want := range []string{simple("PONG"), okReply, bulk("a b")} {
		if got := rc.reply(); got != want {
			t.Errorf("inline: got %q, want %q", got, want)
		}
	}
	cases := map[string]string{
		"*abc\r\n":              "-ERR Protocol error: invalid multibulk length\r\n",
		"*1\r\n$-3\r\n":         "-ERR Protocol error: invalid bulk length\r\n",
		"*1\r\nxyz\r\n":         "-ERR Protocol error: expected '$', got 'x'\r\n",
		"echo \"unbalanced\r\n": "-ERR Protocol error: unbalanced quotes in request\r\n",
	}
	for in, want := range cases {
		rc := dialRaw(t, ts.addr)
		rc.send(in)
		got, closed := rc.closed(5 * time.Second)
		if got != want || !closed {
			t.Errorf("%q: got %q closed=%v, want %q and close", in, got, closed, want)
		}
	}
}

// TestNamesNoVariableCanHave: reading an empty or too long name finds
// nothing (Redis: nil); writing one is an error.
func TestNamesNoVariableCanHave(t *testing.T) {
	ts := startServer(t, Config{NameMax: 16})
	rc := dialRaw(t, ts.addr)
	long := strings.Repeat("n", 17)
	for _, name := range []string{"", long} {
		for _, s := range []step{
			st(null2, "GET", name),
			st("*-1\r\n", "GETVER", name),
			st(integer(0), "EXISTS", name),
			st(simple("none"), "TYPE", name),
			st(integer(0), "DEL", name),
		} {
			if got := rc.do(s.args...); got != s.want {
				t.Errorf("%.30q: got %q, want %q", s.args, got, s.want)
			}
		}
		if got := rc.do("SET", name, "v"); !strings.HasPrefix(got, "-ERR ") {
			t.Errorf("SET %.20q: %q, want an error", name, got)
		}
	}
	if got := rc.do("SET", long, "v"); !strings.Contains(got, "too long") {
		t.Errorf("SET long name: %q", got)
	}
	if got := rc.do("MGET", "a", long); got != "*2\r\n"+null2+null2 {
		t.Errorf("MGET with a long name: %q", got)
	}
	rc.do("SET", "a", "1")
	if got := rc.do("GETVER", "a"); !strings.HasPrefix(got, "*2\r\n$1\r\n1\r\n:") {
		t.Errorf("GETVER a = %q", got)
	}
}

func TestClientListFilters(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	id := strings.TrimSuffix(strings.TrimPrefix(rc.do("CLIENT", "ID"), ":"), "\r\n")
	other := dialRaw(t, ts.addr)
	other.do("PING")
	cases := []struct {
		args []string
		want string // substring, or the whole reply for errors
	}{
		{[]string{"CLIENT", "LIST", "ID", id}, "id=" + id + " "},
		{[]string{"CLIENT", "LIST", "TYPE", "normal"}, "id=" + id + " "},
		{[]string{"CLIENT", "LIST", "TYPE", "pubsub"}, "$0\r\n\r\n"},
		{[]string{"CLIENT", "LIST", "ID", "abc"}, errReply("ERR Invalid client ID")},
		{[]string{"CLIENT", "LIST", "TYPE", "bogus"}, errReply("ERR Unknown client type 'bogus'")},
		{[]string{"CLIENT", "LIST", "ID"}, errReply(msgSyntax)},
	}
	for _, c := range cases {
		if got := rc.do(c.args...); !strings.Contains(got, c.want) {
			t.Errorf("%q = %q, want %q in it", c.args, got, c.want)
		}
	}
	if got := rc.do("CLIENT", "LIST", "ID", id); strings.Count(got, "id=") != 1 {
		t.Errorf("CLIENT LIST ID %s listed %d clients", id, strings.Count(got, "id="))
	}
}

// TestConnLookup checks the connection's lookup, which tries the last
// command found before the table: in any order and case, every name finds
// what the table finds.
func TestConnLookup(t *testing.T) {
	c := &conn{s: &Server{cmds: newCommandTable()}}
	// Each name is tried against the one found before it: the same in
	// another case, another command, a prefix, an extension, no command.
	names := []string{"SET", "set", "GET", "sEt", "se", "SET", "sett", "incr", "INCRBY", "incr", "nosuch", "", "MSET", "mset", "MSETNX"}
	for _, name := range names {
		want, last := c.s.cmds.lookup([]byte(name)), c.looked
		if got := c.lookup([]byte(name)); got != want {
			t.Errorf("lookup(%q) after %v = %v, want %v", name, last, got, want)
		}
		if want == nil {
			want = last // a name that finds nothing leaves the last command
		}
		if c.looked != want {
			t.Errorf("lookup(%q) left %v as the last command, want %v", name, c.looked, want)
		}
	}
	if c.s.cmds.lookup([]byte("Set")) == nil || c.s.cmds.lookup([]byte("nosuch")) != nil {
		t.Fatal("the table itself does not find SET or finds NOSUCH")
	}
}
