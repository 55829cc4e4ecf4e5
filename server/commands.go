package server

import "strings"

// commandSpecs lists every command the server answers, and everything the
// server decides by command: how it is dispatched inside MULTI, while
// subscribed, before AUTH and while holding locks goes by its flags, and a
// variable command's handler runs over the memory or a lock group. Arity,
// the reported flags, key positions and arguments follow Redis 7, so that
// COMMAND INFO and COMMAND DOCS read as clients expect.
func commandSpecs() []*command {
	const (
		rw   = flagWrite | flagDenyOOM
		ro   = flagReadonly
		fast = flagFast
		tx   = flagMulti      // may be queued in MULTI
		sub  = flagSubscribed // allowed while subscribed (RESP2)
	)
	return []*command{
		// connection
		{name: "ping", arity: -1, flags: fast | tx | sub, category: "connection", since: "1.0.0", summary: "Returns PONG, or the message given.", args: []arg{argStr("message").opt()}, run: cmdPing},
		{name: "echo", arity: 2, flags: fast | tx, category: "connection", since: "1.0.0", summary: "Returns the message given.", args: []arg{argStr("message")}, run: cmdEcho},
		{name: "quit", arity: -1, flags: fast | flagNoAuth | sub | flagTxControl, category: "connection", since: "1.0.0", summary: "Closes the connection after replying.", run: cmdQuit},
		{name: "auth", arity: -2, flags: fast | flagNoAuth, category: "connection", since: "1.0.0", summary: "Authenticates the connection.", args: []arg{argStr("username").opt(), argStr("password")}, run: cmdAuth},
		{name: "hello", arity: -1, flags: fast | flagNoAuth, category: "connection", since: "6.0.0", summary: "Handshakes: selects the protocol (2 or 3), authenticates, names the client.", args: []arg{argBlock("arguments", argInt("protover"), argBlock("auth", argStr("username"), argStr("password")).tok("AUTH").opt(), argStr("clientname").tok("SETNAME").opt()).opt()}, run: cmdHello},
		{name: "readonly", arity: 1, flags: fast | tx, category: "cluster", since: "3.0.0", summary: "Serves this connection's reads from the node's own state: possibly stale, never torn.", run: cmdReadOnly},
		{name: "readwrite", arity: 1, flags: fast | tx, category: "cluster", since: "3.0.0", summary: "Makes this connection's reads linearizable again (the default).", run: cmdReadWrite},
		{name: "select", arity: 2, flags: fast | tx, category: "connection", since: "1.0.0", summary: "Selects database 0, the only one.", args: []arg{argInt("index")}, run: cmdSelect},
		clientCommand(),
		// server
		commandCommand(),
		configCommand(),
		{name: "info", arity: -1, flags: tx, category: "server", since: "1.0.0", summary: "Returns the server's information and statistics.", args: []arg{argStr("section").opt().many()}, run: cmdInfo},
		memoryCommand(),
		slowlogCommand(),
		{name: "monitor", arity: 1, flags: flagAdmin, category: "server", since: "1.0.0", summary: "Streams every command the clients run, with its time and client (secrets redacted), until the connection closes.", run: cmdMonitor},
		clusterCommand(),
		debugCommand(),
		{name: "role", arity: 1, flags: fast, category: "server", since: "2.8.12", summary: "Returns the node's replication role: master (a single host, or a cluster's leader) or slave.", run: cmdRole},
		{name: "time", arity: 1, flags: fast | tx, category: "server", since: "2.6.0", summary: "Returns the server's time: unix seconds and microseconds.", run: cmdTime},
		{name: "flushall", arity: -1, flags: flagWrite, category: "server", since: "1.0.0", summary: "Deletes every variable, as one write (ASYNC and SYNC alike); refused with dsmd -protect-flush.", args: []arg{argOneOf("flush-type", argToken("ASYNC"), argToken("SYNC")).opt()}, run: cmdFlush},
		{name: "flushdb", arity: -1, flags: flagWrite, category: "server", since: "1.0.0", summary: "Deletes every variable of database 0, the only one: as FLUSHALL.", args: []arg{argOneOf("flush-type", argToken("ASYNC"), argToken("SYNC")).opt()}, run: cmdFlush},
		{name: "dbsize", arity: 1, flags: ro | fast | tx | flagWholeSpace, category: "server", since: "1.0.0", summary: "Returns the number of variables.", run: cmdDBSize},
		// variables
		{name: "get", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Returns a variable's value.", args: []arg{argKey("key")}, vars: cmdGet},
		{name: "set", arity: -3, flags: rw | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Sets a variable; NX, XX and GET as in Redis. Variables do not expire.", args: []arg{argKey("key"), argStr("value"), argOneOf("condition", argToken("NX"), argToken("XX")).opt(), argToken("GET").opt(), argToken("KEEPTTL").opt()}, vars: cmdSet},
		{name: "getset", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Sets a variable and returns its old value.", args: []arg{argKey("key"), argStr("value")}, vars: cmdGetSet},
		{name: "mget", arity: -2, flags: ro | fast | tx, keys: [3]int{1, -1, 1}, category: "string", since: "1.0.0", summary: "Returns several variables' values, read at one instant.", args: []arg{argKey("key").many()}, vars: cmdMGet},
		{name: "mset", arity: -3, flags: rw | tx, keys: [3]int{1, -1, 2}, category: "string", since: "1.0.1", summary: "Sets several variables at once: all or none.", args: []arg{argBlock("data", argKey("key"), argStr("value")).many()}, vars: cmdMSet},
		// string commands (cmd_strings.go)
		{name: "setnx", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Sets a variable only if it does not exist; returns 1 if it did.", args: []arg{argKey("key"), argStr("value")}, vars: cmdSetNX},
		{name: "strlen", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "2.2.0", summary: "Returns the length of a variable's value (integers in decimal).", args: []arg{argKey("key")}, vars: cmdStrlen},
		{name: "getdel", arity: 2, flags: flagWrite | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "6.2.0", summary: "Returns a variable's value and deletes it.", args: []arg{argKey("key")}, vars: cmdGetDel},
		{name: "append", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "2.0.0", summary: "Appends to a variable's value (created empty); returns the new length.", args: []arg{argKey("key"), argStr("value")}, vars: cmdAppend},
		{name: "getrange", arity: 4, flags: ro | tx, keys: [3]int{1, 1, 1}, category: "string", since: "2.4.0", summary: "Returns the bytes of a variable's value from start to end (negative from the end).", args: []arg{argKey("key"), argInt("start"), argInt("end")}, vars: cmdGetRange},
		{name: "setrange", arity: 4, flags: rw | tx, keys: [3]int{1, 1, 1}, category: "string", since: "2.2.0", summary: "Overwrites a variable's value from an offset, padding with zero bytes; returns the new length.", args: []arg{argKey("key"), argInt("offset"), argStr("value")}, vars: cmdSetRange},
		{name: "msetnx", arity: -3, flags: rw | tx, keys: [3]int{1, -1, 2}, category: "string", since: "1.0.1", summary: "Sets several variables at once only if none exists; returns 1 if it did.", args: []arg{argBlock("data", argKey("key"), argStr("value")).many()}, vars: cmdMSetNX},
		{name: "del", arity: -2, flags: flagWrite | tx, keys: [3]int{1, -1, 1}, category: "keyspace", since: "1.0.0", summary: "Deletes variables.", args: []arg{argKey("key").many()}, vars: cmdDel},
		{name: "unlink", arity: -2, flags: flagWrite | fast | tx, keys: [3]int{1, -1, 1}, category: "keyspace", since: "4.0.0", summary: "Deletes variables (same as DEL).", args: []arg{argKey("key").many()}, vars: cmdDel},
		{name: "rename", arity: 3, flags: flagWrite | tx, keys: [3]int{1, 2, 1}, category: "keyspace", since: "1.0.0", summary: "Moves a variable's value to another name, replacing it.", args: []arg{argKey("key"), argKey("newkey")}, vars: cmdRename},
		{name: "renamenx", arity: 3, flags: flagWrite | fast | tx, keys: [3]int{1, 2, 1}, category: "keyspace", since: "1.0.0", summary: "Moves a variable's value to another name if that one does not exist; returns 1 if it did.", args: []arg{argKey("key"), argKey("newkey")}, vars: cmdRenameNX},
		{name: "copy", arity: -3, flags: rw | tx, keys: [3]int{1, 2, 1}, category: "keyspace", since: "6.2.0", summary: "Copies a variable's value to another name (REPLACE to overwrite); returns 1 if it did.", args: []arg{argKey("source"), argKey("destination"), argInt("destination-db").tok("DB").opt(), argToken("REPLACE").opt()}, vars: cmdCopy},
		{name: "exists", arity: -2, flags: ro | fast | tx, keys: [3]int{1, -1, 1}, category: "keyspace", since: "1.0.0", summary: "Counts the variables given that exist.", args: []arg{argKey("key").many()}, vars: cmdExists},
		{name: "incr", arity: 2, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Adds 1 to an integer variable (created at 0).", args: []arg{argKey("key")}, vars: cmdIncr},
		{name: "decr", arity: 2, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Subtracts 1 from an integer variable (created at 0).", args: []arg{argKey("key")}, vars: cmdDecr},
		{name: "incrby", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Adds an integer to an integer variable (created at 0).", args: []arg{argKey("key"), argInt("increment")}, vars: cmdIncr},
		{name: "decrby", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "1.0.0", summary: "Subtracts an integer from an integer variable (created at 0).", args: []arg{argKey("key"), argInt("decrement")}, vars: cmdDecr},
		{name: "incrbyfloat", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "2.6.0", summary: "Adds a float to a variable's value read as a float (created at 0); returns the sum.", args: []arg{argKey("key"), argStr("increment")}, vars: cmdIncrByFloat},
		{name: "cas", arity: 4, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "dsm 1", summary: "Compare-and-swap: CAS key expected new sets new and returns 1 if the value is expected, else returns 0.", args: []arg{argKey("key"), argStr("expected"), argStr("new")}, vars: cmdCAS},
		// versioned writes (cmd_versions.go): what shm's local processes send a cluster node
		{name: "setver", arity: -3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "dsm 2", summary: "Sets a variable (NX, XX as SET); returns [stored, version, old version, old value].", args: []arg{argKey("key"), argStr("value"), argToken("NX").opt(), argToken("XX").opt()}, vars: cmdSetVer},
		{name: "incrver", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "dsm 2", summary: "Adds an integer to an integer variable (created at 0); returns [sum, version].", args: []arg{argKey("key"), argInt("increment")}, vars: cmdIncrVer},
		{name: "casver", arity: 5, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "dsm 2", summary: "Compare-and-swap by value or by version; returns [swapped, version after].", args: []arg{argKey("key"), argOneOf("by", argToken("VALUE"), argToken("VERSION")), argStr("expected"), argStr("new")}, vars: cmdCASVer},
		{name: "getver", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "string", since: "dsm 1", summary: "Returns a variable's value and version, or null if it does not exist.", args: []arg{argKey("key")}, vars: cmdGetVer},
		{name: "keys", arity: 2, flags: ro | tx | flagWholeSpace, category: "keyspace", since: "1.0.0", summary: "Returns the variables whose names match a glob pattern.", args: []arg{argPattern("pattern")}, run: cmdKeys},
		{name: "scan", arity: -2, flags: ro | tx | flagWholeSpace, category: "keyspace", since: "2.8.0", summary: "Iterates over the variables: cursor, MATCH, COUNT, TYPE.", args: []arg{argInt("cursor"), argPattern("pattern").tok("MATCH").opt(), argInt("count").tok("COUNT").opt(), argStr("type").tok("TYPE").opt()}, run: cmdScan},
		{name: "type", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "keyspace", since: "1.0.0", summary: "Returns \"string\" for a variable, \"none\" if it does not exist.", args: []arg{argKey("key")}, vars: cmdType},
		{name: "ttl", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "keyspace", since: "1.0.0", summary: "Returns -1 (variables do not expire) or -2 if missing.", args: []arg{argKey("key")}, vars: cmdTTL},
		{name: "pttl", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, category: "keyspace", since: "2.6.0", summary: "Returns -1 (variables do not expire) or -2 if missing.", args: []arg{argKey("key")}, vars: cmdTTL},
		// change subscriptions (pubsub.go)
		{name: "subscribe", arity: -2, flags: sub, category: "pubsub", since: "2.0.0", summary: "Subscribes to channels; __dsm__:NAME carries the changes of variable NAME.", args: []arg{argStr("channel").many()}, run: cmdSubscribe},
		{name: "psubscribe", arity: -2, flags: sub, category: "pubsub", since: "2.0.0", summary: "Subscribes to the channels matching glob patterns (__dsm__:* is every variable).", args: []arg{argPattern("pattern").many()}, run: cmdPSubscribe},
		{name: "unsubscribe", arity: -1, flags: sub, category: "pubsub", since: "2.0.0", summary: "Unsubscribes from channels (all if none is given).", args: []arg{argStr("channel").opt().many()}, run: cmdUnsubscribe},
		{name: "publish", arity: 3, flags: fast | tx, category: "pubsub", since: "2.0.0", summary: "Sends a message to a channel's subscribers (not on the memory's channels); returns how many received it.", args: []arg{argStr("channel"), argStr("message")}, run: cmdPublish},
		pubsubCommand(),
		{name: "punsubscribe", arity: -1, flags: sub, category: "pubsub", since: "2.0.0", summary: "Unsubscribes from patterns (all if none is given).", args: []arg{argPattern("pattern").opt().many()}, run: cmdPUnsubscribe},
		// client-held locks (locks.go)
		{name: "lock", arity: -2, category: "dsm", since: "dsm 1", summary: "LOCK [READ|WRITE] [WAIT ms] [LEASE ms] name...: locks variables, all or none, until UNLOCK, disconnect or the lease's end; on a cluster node it replies with the grant's fencing token.", args: []arg{argOneOf("mode", argToken("READ"), argToken("WRITE")).opt(), argInt("ms").tok("WAIT").opt(), argInt("ms").tok("LEASE").opt(), argKey("name").many()}, run: cmdLockObserved},
		{name: "unlock", arity: -1, category: "dsm", since: "dsm 1", summary: "Releases this connection's locks; returns how many variables were released.", args: []arg{argKey("name").opt().many()}, run: cmdUnlock},
		{name: "locks", arity: 1, category: "dsm", since: "dsm 1", summary: "Lists this connection's locks: [name, mode, lease ms left]; on a cluster node every lock of the cluster: [name, mode, ms left, token, holder].", run: cmdLocks},
		{name: "backup", arity: 1, flags: flagAdmin, category: "dsm", since: "dsm 2", summary: "Returns a consistent copy of every variable, taken at one instant (writers wait meanwhile), for dsm restore: [pause in microseconds, variables, copy].", run: cmdBackup},
		{name: "fenced", arity: -3, category: "dsm", since: "dsm 2", summary: "FENCED token command args...: runs a write command only if no lock newer than the token was granted on its variables (cluster).", args: []arg{argInt("token"), argStr("command"), argStr("arg").opt().many()}, run: cmdFenced},
		// transactions (multi.go)
		{name: "watch", arity: -2, flags: fast | flagTxControl | flagHoldAware, keys: [3]int{1, -1, 1}, category: "transactions", since: "2.2.0", summary: "Watches variables: EXEC aborts if one changed.", args: []arg{argKey("key").many()}, run: cmdWatch},
		{name: "unwatch", arity: 1, flags: fast | tx, category: "transactions", since: "2.2.0", summary: "Forgets the watched variables.", run: cmdUnwatch},
		{name: "multi", arity: 1, flags: fast | flagTxControl, category: "transactions", since: "1.2.0", summary: "Starts a transaction: commands are queued until EXEC.", run: cmdMulti},
		{name: "exec", arity: 1, flags: flagTxControl, category: "transactions", since: "1.2.0", summary: "Runs the queued commands atomically, unless a watched variable changed.", run: cmdExec},
		{name: "discard", arity: 1, flags: fast | flagTxControl, category: "transactions", since: "2.0.0", summary: "Forgets the queued commands and the watches.", run: cmdDiscard},
	}
}

func clientCommand() *command {
	return container(
		&command{name: "client", arity: -2, category: "connection", since: "2.4.0", summary: "Inspects and names client connections."},
		&command{name: "id", arity: 2, flags: flagFast | flagMulti, since: "5.0.0", summary: "Returns the connection's id.", run: clientID},
		&command{name: "getname", arity: 2, flags: flagFast | flagMulti, since: "2.6.9", summary: "Returns the connection's name.", run: clientGetName},
		&command{name: "setname", arity: 3, flags: flagFast | flagMulti, since: "2.6.9", summary: "Names the connection.", args: []arg{argStr("connection-name")}, run: clientSetName},
		&command{name: "setinfo", arity: 4, flags: flagFast, since: "7.2.0", summary: "Records the client library's name or version.", args: []arg{argOneOf("attr", argStr("libname").tok("LIB-NAME"), argStr("libver").tok("LIB-VER"))}, run: clientSetInfo},
		&command{name: "info", arity: 2, since: "6.2.0", summary: "Describes this connection.", run: clientInfo},
		&command{name: "list", arity: -2, flags: flagAdmin, since: "2.4.0", summary: "Describes every connection.", args: []arg{argOneOf("client-type", argToken("NORMAL"), argToken("MASTER"), argToken("REPLICA"), argToken("PUBSUB")).tok("TYPE").opt(), argInt("client-id").tok("ID").opt().many()}, run: clientList},
		&command{name: "kill", arity: -3, flags: flagAdmin, since: "2.4.0", summary: "Closes the connections that match: ADDR (the old form, addr:port alone, answers OK) or filters ID, TYPE, ADDR, LADDR, USER, SKIPME (answers how many).", args: []arg{argOneOf("filter", argStr("ip:port"), argBlock("new-format", argInt("client-id").tok("ID").opt(), argOneOf("client-type", argToken("NORMAL"), argToken("MASTER"), argToken("SLAVE"), argToken("REPLICA"), argToken("PUBSUB")).tok("TYPE").opt(), argStr("username").tok("USER").opt(), argStr("ip:port").tok("ADDR").opt(), argStr("ip:port").tok("LADDR").opt(), argOneOf("skipme", argToken("YES"), argToken("NO")).tok("SKIPME").opt()).many())}, run: clientKill},
		&command{name: "no-evict", arity: 3, flags: flagFast, since: "7.0.0", summary: "Accepted: variables are never evicted.", args: []arg{argOneOf("enabled", argToken("ON"), argToken("OFF"))}, run: clientOnOff},
		&command{name: "no-touch", arity: 3, flags: flagFast, since: "7.2.0", summary: "Accepted: there is no LRU to touch.", args: []arg{argOneOf("enabled", argToken("ON"), argToken("OFF"))}, run: clientOnOff},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the CLIENT subcommands.", run: cmdHelp},
	)
}

func commandCommand() *command {
	return container(
		&command{name: "command", arity: -1, category: "server", since: "2.8.13", summary: "Describes every command.", run: cmdCommand},
		&command{name: "count", arity: 2, flags: flagMulti, since: "2.8.13", summary: "Returns the number of commands.", run: commandCount},
		&command{name: "info", arity: -2, since: "2.8.13", summary: "Describes the commands named.", args: []arg{argStr("command-name").opt().many()}, run: commandInfo},
		&command{name: "docs", arity: -2, since: "7.0.0", summary: "Documents the commands named (all if none).", args: []arg{argStr("command-name").opt().many()}, run: commandDocs},
		&command{name: "list", arity: -2, since: "7.0.0", summary: "Lists the command names.", run: commandList},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the COMMAND subcommands.", run: cmdHelp},
	)
}

func configCommand() *command {
	return container(
		&command{name: "config", arity: -2, category: "server", since: "2.0.0", summary: "Reads and changes the server's settings."},
		&command{name: "get", arity: -3, flags: flagAdmin | flagMulti, since: "2.0.0", summary: "Returns the settings matching glob patterns.", args: []arg{argPattern("parameter").many()}, run: configGet},
		&command{name: "set", arity: -4, flags: flagAdmin | flagMulti, since: "2.0.0", summary: "Changes slowlog-log-slower-than, slowlog-max-len and notify-keyspace-events; the other settings only at their current value (dsmd takes them as flags).", args: []arg{argBlock("data", argStr("parameter"), argStr("value")).many()}, run: configSet},
		&command{name: "resetstat", arity: 2, flags: flagAdmin | flagMulti, since: "2.0.0", summary: "Resets the statistics of INFO.", run: configResetStat},
		&command{name: "rewrite", arity: 2, flags: flagAdmin | flagMulti, since: "2.8.0", summary: "Fails: dsmd has no configuration file.", run: configRewrite},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the CONFIG subcommands.", run: cmdHelp},
	)
}

// Argument constructors for the table (see arg).
func argKey(name string) arg     { return arg{name: name, typ: "key"} }
func argStr(name string) arg     { return arg{name: name, typ: "string"} }
func argInt(name string) arg     { return arg{name: name, typ: "integer"} }
func argPattern(name string) arg { return arg{name: name, typ: "pattern"} }

// argToken is a bare keyword, such as SET's NX.
func argToken(token string) arg {
	return arg{name: strings.ToLower(token), typ: "pure-token", token: token}
}

func argOneOf(name string, parts ...arg) arg { return arg{name: name, typ: "oneof", parts: parts} }
func argBlock(name string, parts ...arg) arg { return arg{name: name, typ: "block", parts: parts} }

func (a arg) opt() arg  { a.flags |= argOptional; return a }
func (a arg) many() arg { a.flags |= argMultiple; return a }

// tok makes a the value of a keyword, as SCAN's MATCH pattern.
func (a arg) tok(token string) arg { a.token = token; return a }
