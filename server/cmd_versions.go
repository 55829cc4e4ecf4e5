package server

import (
	"context"
	"math"
	"strconv"

	"github.com/dsm-dev/dsm/shm"
)

// The versioned writes: SET, INCRBY and CAS as shm's Memory makes them,
// answering the version each write gave its variable. A local process of
// a cluster node (package shm, over the node's Unix socket) sends its
// writes as these commands, so that they go through the log as any write
// and return what the call returns on a file of one host. They are
// variable commands with flagWrite, replicated on a cluster node like the
// others, and work on a single host too.
//
// Their errors are "ERR " and shm's error text, unchanged, which shm turns
// back into its errors (no Redis wording: their client is shm).

// cmdSetVer: SETVER key value [NX] [XX] stores as shm.Memory.SetWith does
// (NX only if the variable has no value, XX only if it has one) and
// answers [stored, version, old version, old value or null]: version is
// the one the write gave the variable, or its current one if it stored
// nothing (0 if it has no value).
func cmdSetVer(c *conn, v varStore, args [][]byte) {
	var o shm.SetOptions
	for _, a := range args[3:] {
		switch {
		case equalFoldASCII(a, "nx"):
			o.IfAbsent = true
		case equalFoldASCII(a, "xx"):
			o.IfExists = true
		default:
			c.fail(msgSyntax)
			return
		}
	}
	val := shm.ParseValue(args[2])
	stored := false
	old, ver, err := v.UpdateVersion(args[1], func(old shm.Item) (shm.Value, bool) {
		stored = !(o.IfAbsent && old.Found) && !(o.IfExists && !old.Found)
		return val, stored
	})
	if err != nil {
		c.shmError(err)
		return
	}
	c.wr.Array(4)
	c.wr.Int(int64(boolInt(stored)))
	c.wr.Int(int64(ver))
	c.wr.Int(int64(old.Version))
	if old.Found {
		c.bulkValue(old.Value)
	} else {
		c.wr.Null()
	}
}

// cmdIncrVer: INCRVER key delta adds as shm.Memory.Add does (a missing
// variable counts as 0) and answers [sum, version].
func cmdIncrVer(c *conn, v varStore, args [][]byte) {
	delta, ok := shm.ParseInt(args[2])
	if !ok {
		c.fail(msgNotInteger)
		return
	}
	var sum int64
	var addErr error
	_, ver, err := v.UpdateVersion(args[1], func(old shm.Item) (shm.Value, bool) {
		sum, addErr = addItem(old, delta)
		return shm.Int(sum), addErr == nil
	})
	if err == nil {
		err = addErr
	}
	if err != nil {
		c.shmError(err)
		return
	}
	c.wr.Array(2)
	c.wr.Int(sum)
	c.wr.Int(int64(ver))
}

// addItem is old's integer (0 if it has no value) plus delta, with shm's
// errors.
func addItem(old shm.Item, delta int64) (int64, error) {
	var n int64
	if old.Found {
		var ok bool
		if n, ok = old.Value.Int(); !ok {
			return 0, shm.ErrNotInteger
		}
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, shm.ErrOverflow
	}
	return n + delta, nil
}

// cmdCASVer: CASVER key VALUE expected new swaps as
// shm.Memory.CompareAndSwap does, CASVER key VERSION n new as
// CompareVersionAndSwap, and answers [swapped, version]: the version
// after. A variable without a value is shm.ErrNotFound.
func cmdCASVer(c *conn, v varStore, args [][]byte) {
	var match func(shm.Item) bool
	switch {
	case equalFoldASCII(args[2], "value"):
		want := shm.ParseValue(args[3])
		match = func(it shm.Item) bool { return it.Value.Equal(want) }
	case equalFoldASCII(args[2], "version"):
		want, err := strconv.ParseUint(string(args[3]), 10, 64)
		if err != nil {
			c.fail(msgNotInteger)
			return
		}
		match = func(it shm.Item) bool { return it.Version == want }
	default:
		c.fail(msgSyntax)
		return
	}
	val := shm.ParseValue(args[4])
	swapped := false
	old, ver, err := v.UpdateVersion(args[1], func(old shm.Item) (shm.Value, bool) {
		swapped = old.Found && match(old)
		return val, swapped
	})
	if err == nil && !old.Found {
		err = shm.ErrNotFound
	}
	if err != nil {
		c.shmError(err)
		return
	}
	c.wr.Array(2)
	c.wr.Int(int64(boolInt(swapped)))
	c.wr.Int(int64(ver))
}

// shmError answers err in shm's own words, which shm reads back.
func (c *conn) shmError(err error) {
	c.fail("ERR " + err.Error())
}

// UpdateVersion is Update in a write lock group of name alone, which also
// says the version the change gave the variable.
func (v memVars) UpdateVersion(name []byte, f update) (shm.Item, uint64, error) {
	g, err := v.m.Lock(context.Background(), [][]byte{name}, true, true)
	if err != nil {
		return shm.Item{}, 0, err
	}
	defer g.Unlock()
	old, ver, err := (&heldVars{g: g, nameMax: v.m.Limits().NameMax}).UpdateVersion(name, f)
	if err != nil {
		return old, 0, err
	}
	return old, ver, g.Commit()
}

// UpdateVersion stages f's change; the group's read of a staged write has
// the version its commit gives.
func (v *heldVars) UpdateVersion(name []byte, f update) (shm.Item, uint64, error) {
	old, err := v.Update(name, f)
	if err != nil {
		return old, 0, err
	}
	now, err := v.Get(name)
	if err != nil || !now.Found {
		return old, 0, err
	}
	return old, now.Version, nil
}
