package server

import (
	"bytes"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// RENAME, RENAMENX and COPY write two variables in one commit (varStore's
// UpdateAll): no reader sees the value in both places after a RENAME or
// in neither.

const (
	msgNoSuchKey  = "ERR no such key"
	msgSameObject = "ERR source and destination objects are the same"
)

func cmdRename(c *conn, v varStore, args [][]byte)   { c.rename(v, args, false) }
func cmdRenameNX(c *conn, v varStore, args [][]byte) { c.rename(v, args, true) }

// rename moves src's value to dst: RENAME replaces dst and answers OK,
// RENAMENX leaves an existing dst and answers 1 if it moved, else 0.
func (c *conn) rename(v varStore, args [][]byte, nx bool) {
	src, dst := args[1], args[2]
	if bytes.Equal(src, dst) {
		switch ok, err := v.Exists(src); {
		case err != nil:
			c.varError(err)
		case !ok:
			c.fail(msgNoSuchKey)
		case nx:
			c.wr.Int(0)
		default:
			c.wr.Simple("OK")
		}
		return
	}
	missing, moved := false, false
	err := v.UpdateAll([][]byte{src, dst}, func(old []shm.Item) ([]shm.Value, bool) {
		switch {
		case !old[0].Found:
			missing = true
			return nil, false
		case nx && old[1].Found:
			return nil, false
		}
		moved = true
		return []shm.Value{{}, old[0].Value}, true
	})
	switch {
	case err != nil:
		c.varError(err)
	case missing:
		c.fail(msgNoSuchKey)
	case !nx:
		c.wr.Simple("OK")
	case moved:
		c.wr.Int(1)
	default:
		c.wr.Int(0)
	}
}

// cmdCopy: COPY source destination [DB 0] [REPLACE] copies the value and
// answers 1, or 0 if the source is missing or the destination exists
// without REPLACE.
func cmdCopy(c *conn, v varStore, args [][]byte) {
	replace := false
	for i := 3; i < len(args); i++ {
		switch strings.ToUpper(string(args[i])) {
		case "REPLACE":
			replace = true
		case "DB":
			if i+1 >= len(args) {
				c.fail(msgSyntax)
				return
			}
			i++
			db, ok := shm.ParseInt(args[i])
			switch {
			case !ok || db != int64(int32(db)):
				c.fail(msgNotInteger)
				return
			case db != 0:
				c.fail(msgDBRange)
				return
			}
		default:
			c.fail(msgSyntax)
			return
		}
	}
	src, dst := args[1], args[2]
	if bytes.Equal(src, dst) {
		c.fail(msgSameObject)
		return
	}
	copied := false
	err := v.UpdateAll([][]byte{src, dst}, func(old []shm.Item) ([]shm.Value, bool) {
		if !old[0].Found || old[1].Found && !replace {
			return nil, false
		}
		copied = true
		return []shm.Value{old[0].Value, old[0].Value}, true
	})
	c.flag(copied, err)
}
