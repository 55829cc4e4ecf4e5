package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/internal/glob"
)

// cmdTime answers the server's clock: unix seconds and the microseconds
// within the second, as two bulk strings.
func cmdTime(c *conn, args [][]byte) {
	now := time.Now()
	c.wr.Array(2)
	c.wr.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.wr.BulkString(strconv.Itoa(now.Nanosecond() / 1000))
}

func cmdDBSize(c *conn, args [][]byte) {
	n := c.s.varCount()
	if c.tx != nil {
		n += c.tx.delta()
	}
	c.wr.Int(int64(n))
}

// cmdCommand answers the bare COMMAND: every command's description.
func cmdCommand(c *conn, args [][]byte) {
	cmds := c.s.cmds.visible()
	c.wr.Array(len(cmds))
	for _, cmd := range cmds {
		c.commandEntry(cmd)
	}
}

func commandCount(c *conn, args [][]byte) { c.wr.Int(int64(len(c.s.cmds.byName))) }

func commandList(c *conn, args [][]byte) {
	if len(args) > 2 {
		c.fail(msgSyntax)
		return
	}
	cmds := c.s.cmds.visible()
	c.wr.Array(len(cmds))
	for _, cmd := range cmds {
		c.wr.BulkString(cmd.name)
	}
}

// commandInfo describes the commands named (all when none); an unknown
// name gets a null.
func commandInfo(c *conn, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.wr.Array(len(args) - 2)
	for _, name := range args[2:] {
		if cmd := c.s.cmds.lookup(name); cmd != nil {
			c.commandEntry(cmd)
		} else {
			c.wr.Null()
		}
	}
}

// commandEntry writes Redis 7's ten-element command description.
func (c *conn) commandEntry(cmd *command) {
	c.wr.Array(10)
	c.wr.BulkString(cmd.name)
	c.wr.Int(int64(cmd.arity))
	c.simpleSet(cmd.flagList())
	for _, k := range cmd.keys {
		c.wr.Int(int64(k))
	}
	c.simpleSet(cmd.aclCategories())
	c.wr.Set(0)   // tips
	c.wr.Array(0) // key specs
	names := sortedKeys(cmd.subs)
	c.wr.Array(len(names))
	for _, name := range names {
		c.commandEntry(cmd.subs[name])
	}
}

func (c *conn) simpleSet(items []string) {
	c.wr.Set(len(items))
	for _, s := range items {
		c.wr.Simple(s)
	}
}

// commandDocs documents the commands named (all when none); unknown names
// are left out, as Redis does.
func commandDocs(c *conn, args [][]byte) {
	var cmds []*command
	if len(args) == 2 {
		cmds = c.s.cmds.visible()
	}
	for _, name := range args[2:] {
		if cmd := c.s.cmds.lookup(name); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	c.wr.Map(len(cmds))
	for _, cmd := range cmds {
		c.wr.BulkString(cmd.name)
		c.commandDoc(cmd)
	}
}

func (c *conn) commandDoc(cmd *command) {
	n := 3
	if len(cmd.args) > 0 {
		n++
	}
	if cmd.subs != nil {
		n++
	}
	c.wr.Map(n)
	c.wr.BulkString("summary")
	c.wr.BulkString(cmd.summary)
	c.wr.BulkString("since")
	c.wr.BulkString(cmd.since)
	c.wr.BulkString("group")
	c.wr.BulkString(cmd.category)
	if len(cmd.args) > 0 {
		c.wr.BulkString("arguments")
		c.argDocs(cmd.args)
	}
	if cmd.subs == nil {
		return
	}
	c.wr.BulkString("subcommands")
	names := sortedKeys(cmd.subs)
	c.wr.Map(len(names))
	for _, name := range names {
		c.wr.BulkString(cmd.subs[name].name)
		c.commandDoc(cmd.subs[name])
	}
}

// argDocs writes arguments as COMMAND DOCS does: a map for each, with
// name and type, and token, flags and parts only when it has them.
func (c *conn) argDocs(args []arg) {
	c.wr.Array(len(args))
	for _, a := range args {
		var flags []string
		for _, f := range argFlagNames {
			if a.flags&f.f != 0 {
				flags = append(flags, f.name)
			}
		}
		n := 2
		for _, has := range []bool{a.token != "", len(flags) > 0, len(a.parts) > 0} {
			if has {
				n++
			}
		}
		c.wr.Map(n)
		c.wr.BulkString("name")
		c.wr.BulkString(a.name)
		c.wr.BulkString("type")
		c.wr.BulkString(a.typ)
		if a.token != "" {
			c.wr.BulkString("token")
			c.wr.BulkString(a.token)
		}
		if len(flags) > 0 {
			c.wr.BulkString("flags")
			c.simpleSet(flags)
		}
		if len(a.parts) > 0 {
			c.wr.BulkString("arguments")
			c.argDocs(a.parts)
		}
	}
}

// configGet answers CONFIG GET pattern [pattern ...] with every matching
// setting once, in the order of the settings table. Each pattern is
// compiled once; one longer than every setting's name matches none.
func configGet(c *conn, args [][]byte) {
	params := configParams(c.s)
	longest := 0
	for _, p := range params {
		longest = max(longest, len(p.name))
	}
	var globs []*glob.Pattern
	for _, pattern := range args[2:] {
		if g, err := glob.Compile(pattern, true, longest); err == nil {
			globs = append(globs, g)
		}
	}
	var hits []configParam
	for _, p := range params {
		for _, g := range globs {
			if g.Match([]byte(p.name)) {
				hits = append(hits, p)
				break
			}
		}
	}
	c.wr.Map(len(hits))
	for _, p := range hits {
		c.wr.BulkString(p.name)
		c.wr.BulkString(p.value)
	}
}

// configSet changes the settings that may change while dsmd runs (those
// with a setter: the slow log's, notify-keyspace-events) and accepts the
// others only at their current value: dsmd takes them as flags, so
// changing one means restarting it. As in Redis, every pair is checked
// before any applies, and one refused refuses them all.
func configSet(c *conn, args [][]byte) {
	if len(args)%2 != 0 {
		c.fail(msgSyntax)
		return
	}
	params := configParams(c.s)
	var applies []func()
	seen := map[string]bool{}
	for i := 2; i < len(args); i += 2 {
		name := strings.ToLower(string(args[i]))
		if seen[name] {
			c.fail(configSetFailed(string(args[i]), "duplicate parameter"))
			return
		}
		seen[name] = true
		apply, msg := checkConfigSet(c.s, params, string(args[i]), string(args[i+1]))
		if msg != "" {
			c.fail(msg)
			return
		}
		if apply != nil {
			applies = append(applies, apply)
		}
	}
	for _, apply := range applies {
		apply()
	}
	c.wr.Simple("OK")
}

func checkConfigSet(s *Server, params []configParam, name, value string) (func(), string) {
	for _, p := range params {
		set := configSetters[p.name]
		switch {
		case !strings.EqualFold(p.name, name):
			continue
		case set != nil:
			apply, reason := set(s, value)
			if reason != "" {
				return nil, configSetFailed(name, reason)
			}
			return apply, ""
		case p.value == value:
			return nil, ""
		}
		return nil, configSetFailed(name, "dsmd takes this setting from its command line; restart dsmd to change it")
	}
	return nil, "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'"
}

func configSetFailed(name, reason string) string {
	return "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + reason
}

// parseConfigInt parses a CONFIG SET integer within [lo, max int64], with
// Redis' reasons.
func parseConfigInt(value string, lo int64) (int64, string) {
	n, err := strconv.ParseInt(value, 10, 64)
	switch {
	case err != nil:
		return 0, "argument couldn't be parsed into an integer"
	case n < lo:
		return 0, "argument must be between " + strconv.FormatInt(lo, 10) + " and 9223372036854775807 inclusive"
	}
	return n, ""
}

func setSlowerThan(s *Server, value string) (func(), string) {
	n, reason := parseConfigInt(value, -1)
	return func() { s.slowlog.slower.Store(n) }, reason
}

func setSlowMaxLen(s *Server, value string) (func(), string) {
	n, reason := parseConfigInt(value, 0)
	return func() { s.slowlog.setMaxLen(n) }, reason
}

func configResetStat(c *conn, args [][]byte) {
	c.s.stats.reset()
	c.wr.Simple("OK")
}

func configRewrite(c *conn, args [][]byte) {
	c.fail("ERR The server is running without a config file")
}
