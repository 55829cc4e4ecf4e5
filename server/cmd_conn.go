package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// cmdPing answers as Redis does, in RESP2's subscribed context too.
func cmdPing(c *conn, args [][]byte) {
	if c.subscribedRESP2() {
		c.pubsubPing(args)
		return
	}
	switch len(args) {
	case 1:
		c.wr.Simple("PONG")
	case 2:
		c.wr.Bulk(args[1])
	default:
		c.fail("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *conn, args [][]byte) { c.wr.Bulk(args[1]) }

func cmdQuit(c *conn, args [][]byte) {
	c.wr.Simple("OK")
	c.quit = true
}

func cmdSelect(c *conn, args [][]byte) {
	n, ok := shm.ParseInt(args[1])
	switch {
	case !ok:
		c.fail(msgNotInteger)
	case n != 0:
		c.fail(msgDBRange)
	default:
		c.wr.Simple("OK")
	}
}

// cmdAuth: AUTH password, or AUTH username password where the only user is
// "default". Without a password configured, AUTH default <anything>
// succeeds, as Redis' nopass default user does.
func cmdAuth(c *conn, args [][]byte) {
	switch len(args) {
	case 2:
		if c.s.cfg.Password == "" {
			c.fail(msgNoPassword)
			return
		}
		c.authReply([]byte("default"), args[1])
	case 3:
		c.authReply(args[1], args[2])
	default:
		c.fail(msgSyntax)
	}
}

func (c *conn) authReply(user, pass []byte) {
	if !c.checkPassword(user, pass) {
		c.authFailed()
		return
	}
	c.authenticate()
	c.wr.Simple("OK")
}

// checkPassword compares in constant time. Hashing both sides first keeps
// the comparison's time independent of the password's length too.
func (c *conn) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	if c.s.cfg.Password == "" {
		return true
	}
	got := sha256.Sum256(pass)
	want := sha256.Sum256([]byte(c.s.cfg.Password))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// authFailed answers a failed AUTH (or HELLO AUTH) and logs it: one
// warning per attempt, whether the user or the password was wrong. The
// user name is not logged: a client that puts the password first would
// have it written to the log.
func (c *conn) authFailed() {
	c.s.log.Warn("authentication failed", "addr", c.remote, "id", c.id)
	c.fail(msgWrongPass)
}

// helloArgs is a parsed HELLO [protover [AUTH user pass] [SETNAME name]].
type helloArgs struct {
	proto      int
	user, pass []byte
	auth       bool
	name       []byte
	setName    bool
}

func cmdHello(c *conn, args [][]byte) {
	h, msg := parseHello(args, c.wr.Protocol())
	switch {
	case msg != "":
		c.fail(msg)
	case h.auth && !c.checkPassword(h.user, h.pass):
		c.authFailed()
	case !h.auth && !c.authed:
		c.fail(msgHelloNoAuth)
	case h.setName && !validName(h.name):
		c.fail(msgBadName)
	default:
		c.hello(h)
	}
}

func parseHello(args [][]byte, proto int) (helloArgs, string) {
	h := helloArgs{proto: proto}
	if len(args) < 2 {
		return h, ""
	}
	n, ok := shm.ParseInt(args[1])
	if !ok {
		return h, msgProtoNotInt
	}
	if n != 2 && n != 3 {
		return h, msgNoProto
	}
	h.proto = int(n)
	for i := 2; i < len(args); i++ {
		more := len(args) - i - 1
		switch opt := strings.ToUpper(string(args[i])); {
		case opt == "AUTH" && more >= 2:
			h.auth, h.user, h.pass = true, args[i+1], args[i+2]
			i += 2
		case opt == "SETNAME" && more >= 1:
			h.setName, h.name = true, args[i+1]
			i++
		default:
			return h, "ERR Syntax error in HELLO option '" + clip(args[i]) + "'"
		}
	}
	return h, ""
}

// hello applies a valid HELLO and replies, in the new protocol, with the
// server's description.
func (c *conn) hello(h helloArgs) {
	if h.auth {
		c.authenticate()
	}
	c.infoMu.Lock()
	if h.setName {
		c.name = string(h.name)
	}
	c.resp3 = h.proto == 3
	c.infoMu.Unlock()
	c.wr.SetProtocol(h.proto)
	c.wr.Map(7)
	c.wr.BulkString("server")
	c.wr.BulkString("dsm")
	c.wr.BulkString("version")
	c.wr.BulkString(redisVersion)
	c.wr.BulkString("proto")
	c.wr.Int(int64(h.proto))
	c.wr.BulkString("id")
	c.wr.Int(c.id)
	c.wr.BulkString("mode")
	c.wr.BulkString("standalone")
	c.wr.BulkString("role")
	c.wr.BulkString("master")
	c.wr.BulkString("modules")
	c.wr.Array(0)
}

// validName reports whether a client name has only printable ASCII and no
// spaces, as Redis requires.
func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func clientID(c *conn, args [][]byte) { c.wr.Int(c.id) }

func clientGetName(c *conn, args [][]byte) {
	c.infoMu.Lock()
	name := c.name
	c.infoMu.Unlock()
	if name == "" {
		c.wr.Null()
		return
	}
	c.wr.BulkString(name)
}

func clientSetName(c *conn, args [][]byte) {
	if !validName(args[2]) {
		c.fail(msgBadName)
		return
	}
	c.infoMu.Lock()
	c.name = string(args[2])
	c.infoMu.Unlock()
	c.wr.Simple("OK")
}

// clientSetInfo records LIB-NAME or LIB-VER, as Redis 7.2 does.
func clientSetInfo(c *conn, args [][]byte) {
	attr := strings.ToLower(string(args[2]))
	if attr != "lib-name" && attr != "lib-ver" {
		c.fail("ERR Unrecognized option '" + clip(args[2]) + "'")
		return
	}
	if !validName(args[3]) {
		c.fail("ERR " + attr + " cannot contain spaces, newlines or special characters.")
		return
	}
	c.infoMu.Lock()
	if attr == "lib-name" {
		c.libName = string(args[3])
	} else {
		c.libVer = string(args[3])
	}
	c.infoMu.Unlock()
	c.wr.Simple("OK")
}

// clientOnOff accepts CLIENT NO-EVICT|NO-TOUCH ON|OFF: nothing is evicted
// and nothing is touched, so both are no-ops.
func clientOnOff(c *conn, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on", "off":
		c.wr.Simple("OK")
	default:
		c.fail(msgSyntax)
	}
}

func clientInfo(c *conn, args [][]byte) {
	c.wr.Verbatim("txt", c.describe(time.Now())+"\n")
}

// clientList: CLIENT LIST [TYPE type] [ID id ...].
func clientList(c *conn, args [][]byte) {
	f, msg := parseClientFilter(args[2:])
	if msg != "" {
		c.fail(msg)
		return
	}
	var b strings.Builder
	now := time.Now()
	for _, other := range c.s.connsByID() {
		if f.admits(c, other) {
			b.WriteString(other.describe(now))
			b.WriteByte('\n')
		}
	}
	c.wr.Verbatim("txt", b.String())
}

// clientFilter selects clients for CLIENT LIST and CLIENT KILL; every
// field set must match.
type clientFilter struct {
	typ         string         // "normal" or "pubsub"; "none" for a type no client has; "" any
	ids         map[int64]bool // nil: any id
	addr, laddr string         // "": any
	skipMe      bool           // leave out the client that asks
}

func (f clientFilter) admits(self, c *conn) bool {
	switch {
	case c.killed.Load(): // closed already, not yet gone
	case f.typ != "" && f.typ != c.clientType():
	case f.ids != nil && !f.ids[c.id]:
	case f.addr != "" && f.addr != c.remote, f.laddr != "" && f.laddr != c.local:
	case f.skipMe && c == self:
	default:
		return true
	}
	return false
}

// clientType is Redis' type of a client: "pubsub" while it subscribes,
// "normal" otherwise (a MONITOR client included).
func (c *conn) clientType() string {
	if c.live.channels.Load()+c.live.patterns.Load() > 0 {
		return "pubsub"
	}
	return "normal"
}

// parseClientType parses a TYPE filter's value with Redis' error; master
// and replica are types no dsm client has.
func parseClientType(arg []byte) (string, string) {
	switch typ := strings.ToLower(string(arg)); typ {
	case "normal", "pubsub":
		return typ, ""
	case "master", "replica", "slave":
		return "none", ""
	}
	return "", "ERR Unknown client type '" + clip(arg) + "'"
}

// parseClientFilter parses CLIENT LIST's TYPE and ID options with Redis'
// errors.
func parseClientFilter(args [][]byte) (clientFilter, string) {
	var f clientFilter
	for i := 0; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		if i+1 >= len(args) || opt != "TYPE" && opt != "ID" {
			return f, msgSyntax
		}
		if opt == "TYPE" {
			i++
			var msg string
			if f.typ, msg = parseClientType(args[i]); msg != "" {
				return f, msg
			}
			continue
		}
		f.ids = map[int64]bool{}
		for i++; i < len(args); i++ {
			n, ok := shm.ParseInt(args[i])
			if !ok || n <= 0 {
				return f, "ERR Invalid client ID"
			}
			f.ids[n] = true
		}
	}
	return f, ""
}

// clientKill: CLIENT KILL addr:port (the old form: OK, or an error when
// no client has that address; the client that asks may kill itself), or
// CLIENT KILL with filters (ID, TYPE, ADDR, LADDR, USER, SKIPME),
// answered with how many clients were killed. A killed client's socket is
// closed: a command it waits in (LOCK, EXEC) ends as at a hang-up. The
// client that asks, if killed, gets its reply first.
func clientKill(c *conn, args [][]byte) {
	var f clientFilter
	old := len(args) == 3
	if old {
		f.addr = string(args[2])
	} else {
		var msg string
		if f, msg = parseKillFilter(args[2:]); msg != "" {
			c.fail(msg)
			return
		}
	}
	killed := 0
	for _, other := range c.s.connsByID() {
		if !f.admits(c, other) {
			continue
		}
		killed++
		if other == c {
			c.quit = true
			continue
		}
		other.kill()
	}
	switch {
	case old && killed == 0:
		c.fail("ERR No such client")
	case old:
		c.wr.Simple("OK")
	default:
		c.wr.Int(int64(killed))
	}
}

// kill closes another connection's socket for CLIENT KILL; its goroutine
// then ends as on a hang-up.
func (c *conn) kill() {
	c.killed.Store(true)
	c.raw.Close()
}

// parseKillFilter parses CLIENT KILL's filters with Redis' errors. SKIPME
// is yes unless said otherwise.
func parseKillFilter(args [][]byte) (clientFilter, string) {
	f := clientFilter{skipMe: true}
	if len(args)%2 != 0 {
		return f, msgSyntax
	}
	for i := 0; i < len(args); i += 2 {
		val := args[i+1]
		var msg string
		switch strings.ToUpper(string(args[i])) {
		case "ID":
			n, ok := shm.ParseInt(val)
			if !ok || n <= 0 {
				return f, "ERR client-id should be greater than 0"
			}
			f.ids = map[int64]bool{n: true}
		case "TYPE":
			f.typ, msg = parseClientType(val)
		case "ADDR":
			f.addr = string(val)
		case "LADDR":
			f.laddr = string(val)
		case "USER":
			if string(val) != "default" { // the only user, whom every client is
				msg = "ERR No such user '" + clip(val) + "'"
			}
		case "SKIPME":
			switch strings.ToLower(string(val)) {
			case "yes":
				f.skipMe = true
			case "no":
				f.skipMe = false
			default:
				msg = msgSyntax
			}
		default:
			msg = msgSyntax
		}
		if msg != "" {
			return f, msg
		}
	}
	return f, ""
}

// describe writes one CLIENT LIST line. Called from any connection's
// goroutine: it reads only atomic fields and those under infoMu.
func (c *conn) describe(now time.Time) string {
	c.infoMu.Lock()
	name, lib, ver, resp := c.name, c.libName, c.libVer, 2
	if c.resp3 {
		resp = 3
	}
	c.infoMu.Unlock()
	cmd := "NULL"
	if p := c.lastCmd.Load(); p != nil {
		cmd = *p
	}
	idle := now.Sub(time.Unix(0, c.lastActive.Load()))
	var b bytes.Buffer
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.remote + " laddr=" + c.local + " name=" + name)
	b.WriteString(" age=" + strconv.Itoa(int(now.Sub(c.since).Seconds())))
	b.WriteString(" idle=" + strconv.Itoa(int(idle.Seconds())))
	b.WriteString(c.liveFields())
	b.WriteString(" cmd=" + cmd + " user=default redir=-1 resp=" + strconv.Itoa(resp))
	b.WriteString(" lib-name=" + lib + " lib-ver=" + ver)
	return b.String()
}

// cmdHelp answers CLIENT|COMMAND|CONFIG HELP with the subcommands' summaries.
func cmdHelp(c *conn, args [][]byte) {
	parent := c.s.cmds.lookup(args[0])
	names := sortedKeys(parent.subs)
	up := strings.ToUpper(parent.name)
	c.wr.Array(1 + 2*len(names))
	c.wr.Simple(up + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, name := range names {
		c.wr.Simple(strings.ToUpper(name))
		c.wr.Simple("    " + parent.subs[name].summary)
	}
}
