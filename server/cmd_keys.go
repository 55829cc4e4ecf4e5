package server

import (
	"errors"
	"math"
	"strings"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/shm"
)

// memError answers a failed shm operation with Redis' wording where Redis
// has one, and a plain explanation otherwise.
func (c *conn) memError(err error) {
	switch {
	case errors.Is(err, shm.ErrNotInteger):
		c.fail(msgNotInteger)
	case errors.Is(err, shm.ErrOverflow):
		c.fail(msgOverflow)
	case errors.Is(err, shm.ErrFull):
		c.fail("ERR the memory file is full: it holds " + itoa(c.s.mem.Limits().Capacity) + " variables (fixed at creation)")
	case errors.Is(err, shm.ErrNameTooLong):
		c.fail("ERR variable name is too long: the file allows " + itoa(c.s.mem.Limits().NameMax) + " bytes (fixed at creation)")
	case errors.Is(err, shm.ErrValueTooLarge):
		c.fail("ERR value is too large: the file allows " + itoa(c.s.mem.Limits().ValueMax) + " bytes (fixed at creation)")
	case errors.Is(err, shm.ErrTooMany):
		c.fail("ERR too many variables in one atomic group: the file allows " + itoa(c.s.mem.Limits().GroupMax) +
			" (fixed at creation: dsmd -group-max)")
	case errors.Is(err, shm.ErrEmptyName):
		c.fail("ERR empty variable name")
	case errors.Is(err, shm.ErrClosed):
		c.fail(msgClosing)
	default:
		c.fail("ERR " + err.Error())
	}
}

// bulkValue writes a value as a bulk string, integers in decimal.
func (c *conn) bulkValue(v shm.Value) {
	c.scratch = v.AppendText(c.scratch[:0])
	c.wr.Bulk(c.scratch)
}

// absent reports whether a read failed because the variable cannot be
// there: it does not exist, or its name is one no variable can have (as in
// Redis, reading such a name finds nothing rather than failing).
func absent(err error) bool {
	return errors.Is(err, shm.ErrNotFound) || errors.Is(err, shm.ErrEmptyName) || errors.Is(err, shm.ErrNameTooLong)
}

// cmdGet copies the value straight into the connection's scratch buffer
// (shm's AppendText), so a GET allocates nothing.
func cmdGet(c *conn, v varStore, args [][]byte) {
	var found bool
	var err error
	c.scratch, found, err = v.AppendText(c.scratch[:0], args[1])
	c.s.stats.hit(found)
	switch {
	case err != nil:
		c.varError(err)
	case found:
		c.wr.Bulk(c.scratch)
	default:
		c.wr.Null()
	}
	if cap(c.scratch) > maxKeptScratch {
		c.scratch = nil // an idle connection keeps little
	}
}

// maxKeptScratch is the largest value-formatting buffer a connection keeps.
const maxKeptScratch = 4 << 10

// cmdGetVer: GETVER key replies [value, version], or a null array when the
// variable does not exist. The version rises on every change.
func cmdGetVer(c *conn, v varStore, args [][]byte) {
	it, err := v.Get(args[1])
	c.s.stats.hit(it.Found)
	switch {
	case err != nil:
		c.varError(err)
	case !it.Found:
		c.wr.NullArray()
	default:
		c.wr.Array(2)
		c.bulkValue(it.Value)
		c.wr.Int(int64(it.Version))
	}
}

// setArgs is a parsed SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL].
type setArgs struct {
	opt    shm.SetOptions
	get    bool
	expire bool
}

// parseSet follows Redis' rules for which options combine; a syntax
// error or a bad expiry number is reported before the missing expiry
// support, as Redis would report them first.
func parseSet(args [][]byte) (setArgs, string) {
	var a setArgs
	keep := false
	for i := 0; i < len(args); i++ {
		switch opt := strings.ToUpper(string(args[i])); opt {
		case "NX", "XX":
			if a.opt.IfAbsent || a.opt.IfExists {
				return a, msgSyntax
			}
			a.opt.IfAbsent, a.opt.IfExists = opt == "NX", opt == "XX"
		case "GET":
			a.get = true
		case "KEEPTTL":
			if a.expire || keep {
				return a, msgSyntax
			}
			keep = true
		case "EX", "PX", "EXAT", "PXAT":
			if a.expire || keep || i+1 >= len(args) {
				return a, msgSyntax
			}
			i++
			if _, ok := shm.ParseInt(args[i]); !ok {
				return a, msgNotInteger
			}
			a.expire = true
		default:
			return a, msgSyntax
		}
	}
	if a.expire {
		return a, msgNoExpiry
	}
	return a, ""
}

func cmdSet(c *conn, v varStore, args [][]byte) {
	a, msg := parseSet(args[3:])
	if msg != "" {
		c.fail(msg)
		return
	}
	if a == (setArgs{}) {
		// A plain SET needs no old value: shm's Set skips reading it.
		if err := v.Set(args[1], shm.ParseValue(args[2])); err != nil {
			c.varError(err)
		} else {
			c.wr.Simple("OK")
		}
		return
	}
	old, stored, err := v.SetWith(args[1], shm.ParseValue(args[2]), a.opt)
	if err != nil {
		c.varError(err)
		return
	}
	c.setReply(a.get, old, stored)
}

// setReply answers a SET that ran: with GET the old value (null if there
// was none), else OK if the value was stored and null if NX or XX kept it out.
func (c *conn) setReply(get bool, old shm.Item, stored bool) {
	switch {
	case get && old.Found:
		c.bulkValue(old.Value)
	case get || !stored:
		c.wr.Null()
	default:
		c.wr.Simple("OK")
	}
}

func cmdGetSet(c *conn, v varStore, args [][]byte) {
	old, _, err := v.SetWith(args[1], shm.ParseValue(args[2]), shm.SetOptions{})
	c.oldValue(old, err)
}

// oldValue answers a command that replies with the value a variable had:
// the value, null if it had none, or the error that stopped it.
func (c *conn) oldValue(old shm.Item, err error) {
	switch {
	case err != nil:
		c.varError(err)
	case old.Found:
		c.bulkValue(old.Value)
	default:
		c.wr.Null()
	}
}

// possibleName reports whether some variable could have this name.
func (c *conn) possibleName(name []byte) bool {
	return len(name) > 0 && len(name) <= c.s.nameMax
}

// possibleNames returns the names some variable could have, sharing names'
// array when all can.
func (c *conn) possibleNames(names [][]byte) [][]byte {
	for i, name := range names {
		if !c.possibleName(name) {
			return c.filterNames(names[:i:i], names[i+1:])
		}
	}
	return names
}

func (c *conn) filterNames(kept, rest [][]byte) [][]byte {
	for _, name := range rest {
		if c.possibleName(name) {
			kept = append(kept, name)
		}
	}
	return kept
}

// cmdMGet reads every variable at one instant (shm's MGet snapshot, or
// the group's locks). Names no variable can have read as missing.
func cmdMGet(c *conn, v varStore, args [][]byte) {
	names := args[1:]
	found, err := v.MGet(c.possibleNames(names))
	if err != nil {
		c.varError(err)
		return
	}
	c.wr.Array(len(names))
	for _, name := range names {
		var it shm.Item
		if c.possibleName(name) {
			it, found = found[0], found[1:]
		}
		c.s.stats.hit(it.Found)
		if it.Found {
			c.bulkValue(it.Value)
		} else {
			c.wr.Null()
		}
	}
}

// cmdMSet sets every pair or none.
func cmdMSet(c *conn, v varStore, args [][]byte) {
	if len(args)%2 != 1 {
		c.fail("ERR wrong number of arguments for 'mset' command")
		return
	}
	if err := v.MSet(args[1:]); err != nil {
		c.varError(err)
		return
	}
	c.wr.Simple("OK")
}

func cmdDel(c *conn, v varStore, args [][]byte) {
	n, err := v.Delete(c.possibleNames(args[1:]))
	if err != nil {
		c.varError(err)
		return
	}
	c.wr.Int(int64(n))
}

// cmdExists counts each name given that exists, repeats included, as Redis.
func cmdExists(c *conn, v varStore, args [][]byte) {
	n := 0
	for _, name := range args[1:] {
		ok, err := v.Exists(name)
		if err != nil {
			c.varError(err)
			return
		}
		if ok {
			n++
		}
	}
	c.wr.Int(int64(n))
}

// cmdIncr answers INCR and INCRBY, cmdDecr DECR and DECRBY.
func cmdIncr(c *conn, v varStore, args [][]byte) { c.add(v, args, 1) }
func cmdDecr(c *conn, v varStore, args [][]byte) { c.add(v, args, -1) }

func (c *conn) add(v varStore, args [][]byte, sign int64) {
	delta, msg := addDelta(args, sign)
	if msg != "" {
		c.fail(msg)
		return
	}
	n, err := v.Add(args[1], delta)
	if err != nil {
		c.varError(err)
		return
	}
	c.wr.Int(n)
}

// addDelta is the delta of INCR or DECR (sign 1 or -1, no amount in
// args[2]) or of INCRBY or DECRBY (the amount times sign).
func addDelta(args [][]byte, sign int64) (int64, string) {
	if len(args) < 3 {
		return sign, ""
	}
	d, ok := shm.ParseInt(args[2])
	switch {
	case !ok:
		return 0, msgNotInteger
	case sign < 0 && d == math.MinInt64:
		return 0, msgDecrOverflow
	}
	return sign * d, ""
}

// cmdCAS: CAS key expected new. The comparison is by text, so "5" equals the
// integer 5. A missing variable never matches.
func cmdCAS(c *conn, v varStore, args [][]byte) {
	ok, err := v.CompareAndSwap(args[1], shm.ParseValue(args[2]), shm.ParseValue(args[3]))
	c.flag(ok, err)
}

// flag answers a command whose reply is whether it acted: 1 or 0, or the
// error that stopped it.
func (c *conn) flag(acted bool, err error) {
	switch {
	case err != nil:
		c.varError(err)
	case acted:
		c.wr.Int(1)
	default:
		c.wr.Int(0)
	}
}

func cmdType(c *conn, v varStore, args [][]byte) {
	ok, err := v.Exists(args[1])
	switch {
	case err != nil:
		c.varError(err)
	case ok:
		c.wr.Simple("string")
	default:
		c.wr.Simple("none")
	}
}

// cmdTTL answers TTL and PTTL: -1 (no expiry) or -2 (no such variable).
func cmdTTL(c *conn, v varStore, args [][]byte) {
	ok, err := v.Exists(args[1])
	switch {
	case err != nil:
		c.varError(err)
	case ok:
		c.wr.Int(-1)
	default:
		c.wr.Int(-2)
	}
}

// cmdKeys is a scan of every variable: it collects the matching names first
// (shm calls back under its lock), then writes them.
func cmdKeys(c *conn, args [][]byte) {
	a := scanArgs{pattern: args[1], count: math.MaxInt}
	names, _, ok := c.scan(a)
	if !ok {
		return
	}
	c.wr.Array(len(names))
	for _, name := range names {
		c.wr.Bulk(name)
	}
}

// scanArgs is a parsed SCAN cursor [MATCH pattern] [COUNT n] [TYPE type].
type scanArgs struct {
	cursor  uint64
	pattern []byte
	count   int
	typ     []byte
}

func parseScan(args [][]byte) (scanArgs, string) {
	a := scanArgs{count: 10}
	var ok bool
	if a.cursor, ok = parseUint(args[0]); !ok {
		return a, msgInvalidCursor
	}
	rest := args[1:]
	for i := 0; i < len(rest); i += 2 {
		if i+1 >= len(rest) {
			return a, msgSyntax
		}
		val := rest[i+1]
		switch strings.ToUpper(string(rest[i])) {
		case "MATCH":
			a.pattern = val
		case "TYPE":
			a.typ = val
		case "COUNT":
			n, ok := shm.ParseInt(val)
			if !ok {
				return a, msgNotInteger
			}
			if n < 1 {
				return a, msgSyntax
			}
			a.count = int(min(n, 1<<20))
		default:
			return a, msgSyntax
		}
	}
	return a, ""
}

// cmdScan visits about COUNT variables from the cursor and returns those
// that match. Variables are only of type "string"; any other TYPE matches
// none, so the scan ends at once.
func cmdScan(c *conn, args [][]byte) {
	a, msg := parseScan(args[1:])
	if msg != "" {
		c.fail(msg)
		return
	}
	var names [][]byte
	next := uint64(0)
	if a.typ == nil || strings.EqualFold(string(a.typ), "string") {
		var ok bool
		if names, next, ok = c.scan(a); !ok {
			return
		}
	}
	c.wr.Array(2)
	c.scratch = appendUint(c.scratch[:0], next)
	c.wr.Bulk(c.scratch)
	c.wr.Array(len(names))
	for _, name := range names {
		c.wr.Bulk(name)
	}
}

// scan collects the names that match a.pattern. It fails, with the
// error reply written and ok false, for a pattern that can match no name
// (glob.ErrTooLong), when the client hangs up during the scan (see
// scanWork), and at a damaged slot (shm's ErrDamaged), so that a listing
// never leaves out a variable silently.
func (c *conn) scan(a scanArgs) (names [][]byte, next uint64, ok bool) {
	match, msg := c.compilePattern(a.pattern)
	if msg != "" {
		c.fail(msg)
		return nil, 0, false
	}
	visited, work, gone := 0, 0, false
	next, err := c.s.mem.Scan(a.cursor, func(name []byte, _ uint64) bool {
		if (match == nil || match.Match(name)) && !cluster.Reserved(name) {
			names = append(names, append([]byte(nil), name...))
		}
		visited++
		if hook := c.s.scanHook.Load(); hook != nil {
			(*hook)()
		}
		if work += scanWork(match, name); work >= hangupCheckWork {
			work, gone = 0, c.hungUp()
		}
		return visited < a.count && !gone
	})
	switch {
	case gone:
		c.fail(msgScanHungUp)
		return nil, 0, false
	case err != nil:
		c.memError(err)
		return nil, 0, false
	}
	if c.tx != nil {
		names = c.tx.filter(names, next == 0, func(name []byte) bool { return match == nil || match.Match(name) })
	}
	return names, next, true
}

// compilePattern compiles a KEYS or SCAN pattern, nil if it matches every
// name. A pattern with more atoms (elements other than '*') than the
// file's names have bytes is refused: it can match nothing, and refusing
// it bounds what matching one name costs.
func (c *conn) compilePattern(pattern []byte) (*glob.Pattern, string) {
	if pattern == nil || string(pattern) == "*" {
		return nil, "" // every name matches: skip the matcher
	}
	p, err := glob.Compile(pattern, false, c.s.nameMax)
	if err != nil {
		return nil, "ERR pattern can match no name: it has more than " + itoa(c.s.nameMax) +
			" elements other than '*', and names are at most " + itoa(c.s.nameMax) + " bytes (fixed at creation)"
	}
	return p, ""
}

// hangupCheckWork is how much work a scan does between two looks at
// whether its client hung up: about a millisecond of matching, so that the
// look (a system call) costs under a thousandth of the scan.
const hangupCheckWork = 1 << 20

// scanWork bounds the cost of visiting one name: copying it out of the
// mapping, and at most one bit test per atom and byte of the name.
func scanWork(p *glob.Pattern, name []byte) int {
	n := 64
	if p != nil {
		n += len(name) * p.Atoms()
	}
	return n
}
