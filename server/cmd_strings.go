package server

import "github.com/dsm-dev/dsm/shm"

// The string commands that read a value's text or change part of it, as
// Redis 7 answers them. An integer variable's text is its decimal form; a
// value written from text becomes an integer again when the text is one
// (shm.ParseValue), so INCR works after APPEND as in Redis.

const msgOffsetRange = "ERR offset is out of range"

// cmdSetNX: SETNX key value sets only a missing variable and answers 1 if
// it did.
func cmdSetNX(c *conn, v varStore, args [][]byte) {
	_, stored, err := v.SetWith(args[1], shm.ParseValue(args[2]), shm.SetOptions{IfAbsent: true})
	c.flag(stored, err)
}

// cmdStrlen answers the length of the value's text, 0 if missing.
func cmdStrlen(c *conn, v varStore, args [][]byte) {
	var err error
	c.scratch, _, err = v.AppendText(c.scratch[:0], args[1])
	if err != nil {
		c.varError(err)
		return
	}
	c.wr.Int(int64(len(c.scratch)))
}

// cmdGetDel returns a variable's value and removes it, in one commit.
func cmdGetDel(c *conn, v varStore, args [][]byte) {
	if !c.possibleName(args[1]) {
		c.wr.Null()
		return
	}
	old, err := v.Update(args[1], func(shm.Item) (shm.Value, bool) { return shm.Value{}, true })
	c.s.stats.hit(old.Found)
	c.oldValue(old, err)
}

// cmdAppend appends to a variable's text, creating it, and answers the new
// length.
func cmdAppend(c *conn, v varStore, args [][]byte) {
	c.editText(v, args[1], func(text []byte) []byte { return append(text, args[2]...) })
}

// editText replaces a variable's text (empty if it is missing) with what
// edit makes of it, in one commit, and answers the new length.
func (c *conn) editText(v varStore, name []byte, edit func(text []byte) []byte) {
	n := 0
	_, err := v.Update(name, func(old shm.Item) (shm.Value, bool) {
		var text []byte
		if old.Found {
			text = old.Value.AppendText(nil)
		}
		text = edit(text)
		n = len(text)
		return shm.ParseValue(text), true
	})
	if err != nil {
		c.varError(err)
		return
	}
	c.wr.Int(int64(n))
}

// cmdGetRange: GETRANGE key start end answers the bytes from start to end,
// both included, negative counting from the end, clamped as Redis clamps.
func cmdGetRange(c *conn, v varStore, args [][]byte) {
	start, ok1 := shm.ParseInt(args[2])
	end, ok2 := shm.ParseInt(args[3])
	if !ok1 || !ok2 {
		c.fail(msgNotInteger)
		return
	}
	var err error
	c.scratch, _, err = v.AppendText(c.scratch[:0], args[1])
	if err != nil {
		c.varError(err)
		return
	}
	lo, hi, ok := textRange(start, end, int64(len(c.scratch)))
	if !ok {
		c.wr.Bulk(nil)
		return
	}
	c.wr.Bulk(c.scratch[lo : hi+1])
}

// textRange converts GETRANGE's start and end over a text of n bytes into
// the indexes of its first and last byte, or false for no bytes: Redis'
// getrangeCommand step by step.
func textRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 && end < 0 && start > end {
		return 0, 0, false
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return 0, 0, false
	}
	return start, end, true
}

// cmdSetRange: SETRANGE key offset value overwrites the text from offset,
// padding with zero bytes, and answers the new length. An empty value
// changes nothing (and creates nothing), as in Redis.
func cmdSetRange(c *conn, v varStore, args [][]byte) {
	off, ok := shm.ParseInt(args[2])
	switch {
	case !ok:
		c.fail(msgNotInteger)
		return
	case off < 0:
		c.fail(msgOffsetRange)
		return
	}
	val := args[3]
	if len(val) == 0 {
		cmdStrlen(c, v, args[:2])
		return
	}
	// Refused before any buffer is made for it.
	if off > int64(c.s.mem.Limits().ValueMax)-int64(len(val)) {
		c.memError(shm.ErrValueTooLarge)
		return
	}
	c.editText(v, args[1], func(text []byte) []byte {
		if end := int(off) + len(val); end > len(text) {
			text = append(text, make([]byte, end-len(text))...)
		}
		copy(text[off:], val)
		return text
	})
}

// cmdMSetNX: MSETNX key value... sets every variable, at once, only if none
// exists, and answers 1 if it did.
func cmdMSetNX(c *conn, v varStore, args [][]byte) {
	if len(args)%2 != 1 {
		c.fail("ERR wrong number of arguments for 'msetnx' command")
		return
	}
	stored, err := v.MSetNX(args[1:])
	c.flag(stored, err)
}
