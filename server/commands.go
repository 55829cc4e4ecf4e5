package server

// commandSpecs lists every command the server answers, and everything the
// server decides by command: how it is dispatched inside MULTI, while
// subscribed, before AUTH and while holding locks goes by its flags, and a
// variable command's handler runs over the memory or a lock group. Arity,
// the reported flags and key positions follow Redis 7, so that COMMAND
// INFO reads as clients expect.
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
		{name: "ping", arity: -1, flags: fast | tx | sub, group: "connection", since: "1.0.0", summary: "Returns PONG, or the message given.", run: cmdPing},
		{name: "echo", arity: 2, flags: fast | tx, group: "connection", since: "1.0.0", summary: "Returns the message given.", run: cmdEcho},
		{name: "quit", arity: -1, flags: fast | flagNoAuth | sub | flagTxControl, group: "connection", since: "1.0.0", summary: "Closes the connection after replying.", run: cmdQuit},
		{name: "auth", arity: -2, flags: fast | flagNoAuth, group: "connection", since: "1.0.0", summary: "Authenticates the connection.", run: cmdAuth},
		{name: "hello", arity: -1, flags: fast | flagNoAuth, group: "connection", since: "6.0.0", summary: "Handshakes: selects the protocol (2 or 3), authenticates, names the client.", run: cmdHello},
		{name: "select", arity: 2, flags: fast | tx, group: "connection", since: "1.0.0", summary: "Selects database 0, the only one.", run: cmdSelect},
		clientCommand(),
		// server
		commandCommand(),
		configCommand(),
		{name: "info", arity: -1, group: "server", since: "1.0.0", summary: "Returns the server's information and statistics.", run: cmdInfo},
		{name: "dbsize", arity: 1, flags: ro | fast, group: "server", since: "1.0.0", summary: "Returns the number of variables.", run: cmdDBSize},
		// variables
		{name: "get", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Returns a variable's value.", vars: cmdGet},
		{name: "set", arity: -3, flags: rw | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Sets a variable; NX, XX and GET as in Redis. Variables do not expire.", vars: cmdSet},
		{name: "getset", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Sets a variable and returns its old value.", vars: cmdGetSet},
		{name: "mget", arity: -2, flags: ro | fast | tx, keys: [3]int{1, -1, 1}, group: "string", since: "1.0.0", summary: "Returns several variables' values, read at one instant.", vars: cmdMGet},
		{name: "mset", arity: -3, flags: rw | tx, keys: [3]int{1, -1, 2}, group: "string", since: "1.0.1", summary: "Sets several variables at once: all or none.", vars: cmdMSet},
		{name: "del", arity: -2, flags: flagWrite | tx, keys: [3]int{1, -1, 1}, group: "keyspace", since: "1.0.0", summary: "Deletes variables.", vars: cmdDel},
		{name: "unlink", arity: -2, flags: flagWrite | fast | tx, keys: [3]int{1, -1, 1}, group: "keyspace", since: "4.0.0", summary: "Deletes variables (same as DEL).", vars: cmdDel},
		{name: "exists", arity: -2, flags: ro | fast | tx, keys: [3]int{1, -1, 1}, group: "keyspace", since: "1.0.0", summary: "Counts the variables given that exist.", vars: cmdExists},
		{name: "incr", arity: 2, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Adds 1 to an integer variable (created at 0).", vars: cmdIncr},
		{name: "decr", arity: 2, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Subtracts 1 from an integer variable (created at 0).", vars: cmdDecr},
		{name: "incrby", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Adds an integer to an integer variable (created at 0).", vars: cmdIncr},
		{name: "decrby", arity: 3, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "1.0.0", summary: "Subtracts an integer from an integer variable (created at 0).", vars: cmdDecr},
		{name: "cas", arity: 4, flags: rw | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "dsm 1", summary: "Compare-and-swap: CAS key expected new sets new and returns 1 if the value is expected, else returns 0.", vars: cmdCAS},
		{name: "getver", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, group: "string", since: "dsm 1", summary: "Returns a variable's value and version, or null if it does not exist.", vars: cmdGetVer},
		{name: "keys", arity: 2, flags: ro, group: "keyspace", since: "1.0.0", summary: "Returns the variables whose names match a glob pattern.", run: cmdKeys},
		{name: "scan", arity: -2, flags: ro, group: "keyspace", since: "2.8.0", summary: "Iterates over the variables: cursor, MATCH, COUNT, TYPE.", run: cmdScan},
		{name: "type", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, group: "keyspace", since: "1.0.0", summary: "Returns \"string\" for a variable, \"none\" if it does not exist.", vars: cmdType},
		{name: "ttl", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, group: "keyspace", since: "1.0.0", summary: "Returns -1 (variables do not expire) or -2 if missing.", vars: cmdTTL},
		{name: "pttl", arity: 2, flags: ro | fast | tx, keys: [3]int{1, 1, 1}, group: "keyspace", since: "2.6.0", summary: "Returns -1 (variables do not expire) or -2 if missing.", vars: cmdTTL},
		// change subscriptions (pubsub.go)
		{name: "subscribe", arity: -2, flags: sub, group: "pubsub", since: "2.0.0", summary: "Subscribes to channels; __dsm__:NAME carries the changes of variable NAME.", run: cmdSubscribe},
		{name: "psubscribe", arity: -2, flags: sub, group: "pubsub", since: "2.0.0", summary: "Subscribes to the channels matching glob patterns (__dsm__:* is every variable).", run: cmdPSubscribe},
		{name: "unsubscribe", arity: -1, flags: sub, group: "pubsub", since: "2.0.0", summary: "Unsubscribes from channels (all if none is given).", run: cmdUnsubscribe},
		{name: "punsubscribe", arity: -1, flags: sub, group: "pubsub", since: "2.0.0", summary: "Unsubscribes from patterns (all if none is given).", run: cmdPUnsubscribe},
		// client-held locks (locks.go)
		{name: "lock", arity: -2, group: "dsm", since: "dsm 1", summary: "LOCK [READ|WRITE] [WAIT ms] [LEASE ms] name...: locks variables, all or none, until UNLOCK, disconnect or the lease's end.", run: cmdLock},
		{name: "unlock", arity: -1, group: "dsm", since: "dsm 1", summary: "Releases this connection's locks; returns how many variables were released.", run: cmdUnlock},
		{name: "locks", arity: 1, group: "dsm", since: "dsm 1", summary: "Lists this connection's locks: [name, mode, lease ms left].", run: cmdLocks},
		// transactions (multi.go)
		{name: "watch", arity: -2, flags: fast | flagTxControl | flagHoldAware, keys: [3]int{1, -1, 1}, group: "transactions", since: "2.2.0", summary: "Watches variables: EXEC aborts if one changed.", run: cmdWatch},
		{name: "unwatch", arity: 1, flags: fast | tx, group: "transactions", since: "2.2.0", summary: "Forgets the watched variables.", run: cmdUnwatch},
		{name: "multi", arity: 1, flags: fast | flagTxControl, group: "transactions", since: "1.2.0", summary: "Starts a transaction: commands are queued until EXEC.", run: cmdMulti},
		{name: "exec", arity: 1, flags: flagTxControl, group: "transactions", since: "1.2.0", summary: "Runs the queued commands atomically, unless a watched variable changed.", run: cmdExec},
		{name: "discard", arity: 1, flags: fast | flagTxControl, group: "transactions", since: "2.0.0", summary: "Forgets the queued commands and the watches.", run: cmdDiscard},
	}
}

func clientCommand() *command {
	return container(
		&command{name: "client", arity: -2, group: "connection", since: "2.4.0", summary: "Inspects and names client connections."},
		&command{name: "id", arity: 2, flags: flagFast | flagMulti, since: "5.0.0", summary: "Returns the connection's id.", run: clientID},
		&command{name: "getname", arity: 2, flags: flagFast | flagMulti, since: "2.6.9", summary: "Returns the connection's name.", run: clientGetName},
		&command{name: "setname", arity: 3, flags: flagFast | flagMulti, since: "2.6.9", summary: "Names the connection.", run: clientSetName},
		&command{name: "setinfo", arity: 4, flags: flagFast, since: "7.2.0", summary: "Records the client library's name or version.", run: clientSetInfo},
		&command{name: "info", arity: 2, since: "6.2.0", summary: "Describes this connection.", run: clientInfo},
		&command{name: "list", arity: -2, flags: flagAdmin, since: "2.4.0", summary: "Describes every connection.", run: clientList},
		&command{name: "no-evict", arity: 3, flags: flagFast, since: "7.0.0", summary: "Accepted: variables are never evicted.", run: clientOnOff},
		&command{name: "no-touch", arity: 3, flags: flagFast, since: "7.2.0", summary: "Accepted: there is no LRU to touch.", run: clientOnOff},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the CLIENT subcommands.", run: cmdHelp},
	)
}

func commandCommand() *command {
	return container(
		&command{name: "command", arity: -1, group: "server", since: "2.8.13", summary: "Describes every command.", run: cmdCommand},
		&command{name: "count", arity: 2, flags: flagMulti, since: "2.8.13", summary: "Returns the number of commands.", run: commandCount},
		&command{name: "info", arity: -2, since: "2.8.13", summary: "Describes the commands named.", run: commandInfo},
		&command{name: "docs", arity: -2, since: "7.0.0", summary: "Documents the commands named (all if none).", run: commandDocs},
		&command{name: "list", arity: -2, since: "7.0.0", summary: "Lists the command names.", run: commandList},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the COMMAND subcommands.", run: cmdHelp},
	)
}

func configCommand() *command {
	return container(
		&command{name: "config", arity: -2, group: "server", since: "2.0.0", summary: "Reads the server's settings."},
		&command{name: "get", arity: -3, flags: flagAdmin, since: "2.0.0", summary: "Returns the settings matching glob patterns.", run: configGet},
		&command{name: "set", arity: -4, flags: flagAdmin, since: "2.0.0", summary: "Accepts only a setting's current value: dsmd takes settings as flags.", run: configSet},
		&command{name: "resetstat", arity: 2, flags: flagAdmin, since: "2.0.0", summary: "Resets the statistics of INFO.", run: configResetStat},
		&command{name: "rewrite", arity: 2, flags: flagAdmin, since: "2.8.0", summary: "Fails: dsmd has no configuration file.", run: configRewrite},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the CONFIG subcommands.", run: cmdHelp},
	)
}
