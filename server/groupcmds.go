package server

import (
	"errors"

	"github.com/dsm-dev/dsm/shm"
)

// The commands below run through a shm.Group: the connection's own
// client-held lock (LOCK) or the group EXEC takes for a transaction. They
// answer as the plain commands of cmd_keys.go do; they are kept apart so
// that the plain commands stay one shm call each.

// groupHandlerOf returns the group form of a command, or nil if it has
// none (such a command cannot run on locked variables or inside MULTI).
func groupHandlerOf(name string) groupHandler {
	switch name {
	case "get":
		return groupGet
	case "getver":
		return groupGetVer
	case "set":
		return groupSet
	case "getset":
		return groupGetSet
	case "mget":
		return groupMGet
	case "mset":
		return groupMSet
	case "del", "unlink":
		return groupDel
	case "exists":
		return groupExists
	case "incr", "incrby":
		return groupIncr
	case "decr", "decrby":
		return groupDecr
	case "cas":
		return groupCAS
	case "type":
		return groupType
	case "ttl", "pttl":
		return groupTTL
	}
	return nil
}

func isNotHeld(err error) bool { return errors.Is(err, shm.ErrNotHeld) }

// groupItem reads name through g; a name no variable can have reads as
// missing, as in the plain commands.
func (c *conn) groupItem(g *shm.Group, name []byte) (shm.Item, error) {
	if !c.possibleName(name) {
		return shm.Item{}, nil
	}
	return g.Get(name)
}

func groupGet(c *conn, g *shm.Group, args [][]byte) {
	it, err := c.groupItem(g, args[1])
	c.s.stats.hit(it.Found)
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case it.Found:
		c.bulkValue(it.Value)
	default:
		c.wr.Null()
	}
}

func groupGetVer(c *conn, g *shm.Group, args [][]byte) {
	it, err := c.groupItem(g, args[1])
	c.s.stats.hit(it.Found)
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case !it.Found:
		c.wr.NullArray()
	default:
		c.wr.Array(2)
		c.bulkValue(it.Value)
		c.wr.Int(int64(it.Version))
	}
}

func groupSet(c *conn, g *shm.Group, args [][]byte) {
	a, msg := parseSet(args[3:])
	if msg != "" {
		c.fail(msg)
		return
	}
	old, err := g.Get(args[1])
	if err != nil {
		c.groupError(args[1], err)
		return
	}
	stored := !(a.opt.IfAbsent && old.Found) && !(a.opt.IfExists && !old.Found)
	if stored {
		if err := g.Set(args[1], shm.ParseValue(args[2])); err != nil {
			c.groupError(args[1], err)
			return
		}
	}
	c.setReply(a.get, old, stored)
}

func groupGetSet(c *conn, g *shm.Group, args [][]byte) {
	old, err := g.Get(args[1])
	if err == nil {
		err = g.Set(args[1], shm.ParseValue(args[2]))
	}
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case old.Found:
		c.bulkValue(old.Value)
	default:
		c.wr.Null()
	}
}

func groupMGet(c *conn, g *shm.Group, args [][]byte) {
	items := make([]shm.Item, len(args)-1)
	for i, name := range args[1:] {
		it, err := c.groupItem(g, name)
		if err != nil {
			c.groupError(name, err)
			return
		}
		items[i] = it
	}
	c.wr.Array(len(items))
	for _, it := range items {
		c.s.stats.hit(it.Found)
		if it.Found {
			c.bulkValue(it.Value)
		} else {
			c.wr.Null()
		}
	}
}

// groupMSet stages every pair or none: values are checked first, and the
// names are all held (the caller routes only such commands here), so no
// Set fails after another was staged.
func groupMSet(c *conn, g *shm.Group, args [][]byte) {
	if len(args)%2 != 1 {
		c.fail("ERR wrong number of arguments for 'mset' command")
		return
	}
	valueMax := c.s.mem.Limits().ValueMax
	for i := 2; i < len(args); i += 2 {
		if v := shm.ParseValue(args[i]); !v.IsInt() && len(args[i]) > valueMax {
			c.memError(shm.ErrValueTooLarge)
			return
		}
	}
	for i := 1; i < len(args); i += 2 {
		if err := g.Set(args[i], shm.ParseValue(args[i+1])); err != nil {
			c.groupError(args[i], err)
			return
		}
	}
	c.wr.Simple("OK")
}

// groupDel stages the removal of each variable that has a value.
func groupDel(c *conn, g *shm.Group, args [][]byte) {
	n := 0
	for _, name := range args[1:] {
		it, err := c.groupItem(g, name)
		if err == nil && it.Found {
			err = g.Delete(name)
			n++
		}
		if err != nil {
			c.groupError(name, err)
			return
		}
	}
	c.wr.Int(int64(n))
}

func groupExists(c *conn, g *shm.Group, args [][]byte) {
	n := 0
	for _, name := range args[1:] {
		it, err := c.groupItem(g, name)
		if err != nil {
			c.groupError(name, err)
			return
		}
		if it.Found {
			n++
		}
	}
	c.wr.Int(int64(n))
}

// groupIncr answers INCR and INCRBY, groupDecr DECR and DECRBY.
func groupIncr(c *conn, g *shm.Group, args [][]byte) { c.groupAdd(g, args, 1) }
func groupDecr(c *conn, g *shm.Group, args [][]byte) { c.groupAdd(g, args, -1) }

func (c *conn) groupAdd(g *shm.Group, args [][]byte, sign int64) {
	delta, msg := addDelta(args, sign)
	if msg != "" {
		c.fail(msg)
		return
	}
	n, err := g.Add(args[1], delta)
	if err != nil {
		c.groupError(args[1], err)
		return
	}
	c.wr.Int(n)
}

func groupCAS(c *conn, g *shm.Group, args [][]byte) {
	cur, err := g.Get(args[1])
	swap := err == nil && cur.Found && cur.Value.Equal(shm.ParseValue(args[2]))
	if swap {
		err = g.Set(args[1], shm.ParseValue(args[3]))
	}
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case swap:
		c.wr.Int(1)
	default:
		c.wr.Int(0)
	}
}

func groupType(c *conn, g *shm.Group, args [][]byte) {
	it, err := c.groupItem(g, args[1])
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case it.Found:
		c.wr.Simple("string")
	default:
		c.wr.Simple("none")
	}
}

func groupTTL(c *conn, g *shm.Group, args [][]byte) {
	it, err := c.groupItem(g, args[1])
	switch {
	case err != nil:
		c.groupError(args[1], err)
	case it.Found:
		c.wr.Int(-1)
	default:
		c.wr.Int(-2)
	}
}
