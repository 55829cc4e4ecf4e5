// Package server is the engine of dsmd: it serves one memory file of package
// shm over TCP, speaking the seed's one-byte protocol and the Redis protocol
// on one port.
//
// # Model
//
// A Server is built from a Config by New, which opens the file with the
// one-daemon lock (a second Server or dsmd on the same file fails with an
// error wrapping shm.ErrLocked), and then checks the body of the file
// (shm.Memory.Repair): an index or free list that does not match the slots
// is rebuilt, with a warning per problem, and a damaged slot refuses the
// start with an error wrapping shm.ErrDamaged that names the slot and the
// damage. Serve accepts connections on a listener and
// serves each on its own goroutine; Shutdown drains and Close stops at once,
// and then Serve returns ErrServerClosed, as with net/http. ListenAndServe
// does all of it for one context: it binds first, so that a taken port
// fails before the file is created or opened. Every goroutine the server
// starts goes through one helper that counts it, and Shutdown and Close
// wait for all of them before they flush and close the file.
//
// Every operation is one call into shm, which takes the variable's lock
// (package lockd) in the shared mapping. Remote clients and local processes
// that map the same file therefore see one linearizable order. No lock is
// held while the server reads from or writes to a client: shm copies values
// out before it returns, and replies are written afterwards.
//
// # One port, two protocols
//
// The first byte of a connection chooses its protocol:
//
//   - 'R' or 'W': the seed's protocol, byte for byte. "R" is answered with the
//     variable `value` as a 4-byte little-endian int32: its low 32 bits if it
//     is an integer, 0 if it is missing or not an integer (the seed's memory
//     started at 0 and its protocol cannot say "no value"). "W" and 4 bytes
//     store that little-endian int32 into `value` as an integer and are
//     answered "OK". Blanks (space, tab, CR, LF) between requests are ignored,
//     so a person can type into nc; any other byte closes the connection.
//     The seed protocol has no AUTH: who may use it is stated under Access.
//   - 0x16 (a TLS handshake record), when Config.TLSCertFile and TLSKeyFile are
//     set: TLS on the same port, with RESP inside (never the seed protocol),
//     so "redis-cli --tls" works against the ordinary port.
//   - anything else: RESP2, RESP3 after HELLO 3, and inline commands, parsed by
//     package resp.
//
// # Commands
//
// Every command is an entry of one table (commands.go): its name, arity,
// flags, key positions, arguments and summary, from which dispatch,
// COMMAND INFO and COMMAND DOCS, and docs/COMMANDS.md (go generate) are
// made. The commands answer as Redis 7 answers them, the same reply types
// and error texts checked in Redis' order (unknown command, then arity,
// then authentication); docs/COMMANDS.md lists each one and where dsm
// differs on purpose (variables do not expire, one database, atomic
// groups bounded by the file's group limit, keyspace notifications from
// the change feed).
//
// # Changes, locks and transactions
//
// Subscriptions. Every variable has a channel, "__dsm__:" and its name;
// SUBSCRIBE __dsm__:x delivers the changes of x, PSUBSCRIBE __dsm__:cfg.*
// those of every matching variable (glob as in KEYS), with Redis' commands,
// replies and RESP2 restrictions (only the subscription commands, PING and
// QUIT while subscribed in RESP2; anything in RESP3, where messages are
// pushes). A message's payload is the variable's version, a space and its
// value in text ("17 hello world", "18 42"), or the version alone when the
// change deleted the variable ("19"): strings.Cut(payload, " ") gives the
// version, the value, and whether there is one. A value found damaged in
// the file gives the version, "!" and the error naming the damage
// ("20!shm: file is damaged: slot 3 ...", which client.ParseChange reads).
// Versions of one variable
// rise with every change. Changes by any process reach subscribers: one
// goroutine reads shm's change feed (opened while anybody subscribes, so
// writers pay nothing otherwise) and offers each change to the matching
// subscribers. Each subscriber keeps at most one pending message per
// channel and pattern: a newer change replaces an unsent older one, so a
// slow reader may miss intermediate values but always receives the latest;
// when the feed's ring overflows, shm compares every variable's version and
// reports the current state of those that moved. A subscriber's own
// goroutine writes its messages; one whose pending messages would exceed
// OutputLimit (many variables changing while it does not read) is closed,
// and so is one whose socket accepts nothing for WriteTimeout. PUBLISH
// serves any other channel, as a message bus; it refuses the memory's
// channels (__dsm__:, and Redis' __keyspace@ and __keyevent@).
//
// Client-held locks. LOCK [READ|WRITE] [WAIT ms] [LEASE ms] name... takes
// write (the default) or read locks on the variables, all or none, waiting
// at most WAIT (default 10000 ms; 0 tries once) and holding them for at most
// LEASE (default 30000 ms; both at most a day), and replies OK, or
// "-TIMEOUT ..." when they were not all free in time. Options come before
// the names. These are the locks of package lockd that every local process
// and every other client obeys, writer priority included: while a client
// holds a write lock, everybody else's reads and writes of those variables
// wait; under a read lock, writes wait. The holder's own commands on locked
// variables (GET GETVER SET GETSET MGET MSET DEL UNLINK EXISTS INCR DECR
// INCRBY DECRBY CAS TYPE TTL PTTL) pass, each applied at once; a command
// that names locked and unlocked variables together is refused. A connection
// takes its locks in one LOCK (a second LOCK while holding fails): since
// nobody waits while holding, and one LOCK takes its locks in the file's
// order, locks never deadlock. The locks are released by UNLOCK [name...]
// (which replies how many variables it released; names, if given, must be
// all of the locked ones), by the end of the connection, when the lease
// ends (a timer releases them; the holder's later commands on them, and its
// UNLOCK, fail with "-LOCKLOST ..." until it UNLOCKs or LOCKs again), or
// when dsmd dies (lockd releases the locks of a dead process). LOCKS lists
// the connection's locks as [name, mode, ms of lease left]. A LOCK that
// waits ends early when the client hangs up or the server shuts down. At
// most half of the file's lanes (8 by default; dsmd's -lock-lanes sizes a
// new file's) may be held by LOCKs at once; a LOCK that waits holds none,
// and one that gets its variables while that many are held waits, within
// its WAIT, for a holder to leave, and then fails with "-ERR no free lock
// lane ..." (naming the flag) instead of TIMEOUT. KEYS, SCAN, DBSIZE and INFO
// do not wait for locks (shm's walks read the committed values).
// CLIENT LIST shows each connection's locks as locks=N, INFO's clients
// section dsm_lock_holders and dsm_locked_vars.
//
// On a cluster node (clusterlocks.go) the locks are the replicated lock
// table's: LOCK replies with the grant's fencing token (its log index)
// instead of OK, LOCKS lists every lock of the cluster as [name, mode, ms
// left, token, holder], FENCED token command args... runs a write only if no
// newer lock was granted on its variables, and the leader ends leases.
//
// Transactions. WATCH, UNWATCH, MULTI, EXEC and DISCARD follow Redis, with
// its replies and error texts: commands inside MULTI are answered +QUEUED;
// an unknown command, a wrong number of arguments, or a command not
// allowed in a transaction (anything that is not a variable command of the
// list above or PING, ECHO, SELECT, UNWATCH, CLIENT ID|GETNAME|SETNAME,
// COMMAND COUNT) makes EXEC fail with EXECABORT; EXEC answers a null array
// when a watched variable changed since WATCH (its version or value moved,
// or it appeared or disappeared), and otherwise the array of the commands'
// replies, an error among them not stopping the others. EXEC write-locks
// every variable its commands name and every watched one as one lock group
// (so EXECs never deadlock), checks the watches under those locks, runs the
// commands through the group and makes their writes visible at once: other
// clients and local processes see all of them or none.
//
// # Pipelining and replies
//
// Commands run in the order they arrive. Replies are collected and written
// when the server is about to wait for more input from the client, so the
// replies to a pipelined batch go out in one write. Under SyncAlways a batch
// that wrote waits, before its replies go out, for one synchronous write
// (O_DSYNC) of the redo log that covers its writes; concurrent connections
// share those (group commit), and a write waits at most 1 ms for the
// writers the last one served to come back (internal/groupcommit). If it
// fails, the replies are not sent and the server stops (see Storage
// faults): no write is acknowledged that might not be durable.
//
// # Durability
//
// A write is in the shared mapping before its reply is sent, so it survives
// a crash of dsmd (kill -9) or of any process. Config.Sync decides power-loss
// durability: SyncAlways as above; SyncInterval (the default) flushes the file
// every Config.SyncInterval (1 s); SyncNever flushes only at shutdown. Every
// mode flushes at Shutdown and Close.
//
// Under SyncAlways the server keeps a redo log (internal/redolog) beside
// the memory file, in segments <file>.journal.<n> (the files keep an older
// name of the redo log): shm hands it a record of every write the daemon
// makes (a group's records as one unit), and a batch's replies wait until
// its records are on disk, one sequential write per batch where
// flushing the mapping would write one scattered page per variable
// written. The mapping itself is flushed at checkpoints (every 10 s, or
// sooner after 64 MiB of redo log), after which the segments it covers are
// deleted, and at a clean stop, which deletes them all. Whatever the mode
// of the next start, New first replays the segments a crash left: the last
// record of each name is applied where the mapping holds an older state
// (shm's Restore), the mapping is flushed and the segments deleted; a torn
// last frame (a write never acknowledged) is cut off, also when a
// checkpoint had already created an empty next segment; damage that a
// tear does not leave, or that a valid frame follows, refuses the start
// and keeps every segment (internal/redolog tells how). A segment deleted
// or replaced while in use stops the server at the next write, as a
// truncated memory file does.
//
// Writes that local processes make through shm are not in the redo log: they are
// in the shared mapping, so they survive any process crash, and they reach
// the disk with the daemon's next checkpoint (at most 10 s later) or stop,
// or the kernel's own writeback; a power loss may lose those of the last
// 10 s, as under SyncInterval with a 10 s interval. After a power loss,
// start dsmd before local processes write: its replay judges by versions,
// and a local write made first could hide or be overwritten by an
// acknowledged one. The promise of SyncAlways is about the writes
// whose replies the daemon sent.
//
// # Storage faults
//
// If the file fails under the server (truncated or deleted by another
// process, a failed flush, a memory fault), the server stops: it stops
// accepting, closes every connection without sending the replies it still
// holds, and Serve returns an error wrapping ErrStorage that says what
// happened. Every flush checks the file, a watchdog checks it every second,
// and connection goroutines run with panic-on-fault so that a SIGBUS
// becomes that error rather than a crash. See storage.go.
//
// # Access
//
// Loopback clients are always admitted. With Config.Allow set, clients from
// those networks are admitted too and every other client is refused. With
// only a Password set, clients from anywhere may connect but must AUTH (AUTH
// pass, AUTH default pass, or HELLO 3 AUTH default pass; compared in constant
// time) before any command but AUTH, HELLO and QUIT. With neither
// (protected mode) only loopback clients are admitted. A Password applies
// to every RESP client, loopback included.
//
// The seed protocol has no AUTH, so a password cannot protect it. When a
// Password is set, the seed protocol is refused to every client, loopback
// included, unless Config.SeedOpen (dsmd's -seed-open) says otherwise;
// then it is served to loopback clients and Allow networks, never to a
// client admitted by the password alone. Without a Password it is served
// to every admitted client.
//
// A refused client is closed once its first bytes tell its protocol. A RESP
// (or TLS) client is first answered with a "-DENIED ..." line saying why
// and what to do. A seed client gets no byte at all: the seed's client
// reads the first four bytes of whatever arrives as the value ("-DEN" would
// print as 1313162285). Nor does a client that sends nothing within 2 s,
// which may be a seed client whose user has not typed yet, nor one refused
// while 64 others wait for their first bytes (so that refused clients hold
// few of the MaxClients places, and few goroutines and sockets). Clients
// past MaxClients are refused the same way, in the same 64 places. Every
// refusal is logged ("client refused") with its reason, the client's
// address and the protocol its first bytes told.
//
// A connection the server ends after a last line (a protocol error, QUIT,
// a refusal) lingers: the line is sent, the write side shut (over TLS with
// a close_notify), and what the client still sends is read and discarded
// for up to 1 s and 4 MiB before the socket closes, so that the client
// reads the line rather than a reset that would discard it. A lingering
// connection holds no MaxClients place; at most 256 linger at once, and
// Shutdown and Close end them at once (linger.go).
//
// # Local processes of a cluster node
//
// A cluster node (Config.Cluster) marks its file replicated
// (shm.Memory.MarkReplicated, file format 2, which older programs refuse):
// its apply is the only writer, and New refuses a replicated file without
// Config.Cluster (ErrReplicatedFile). Local processes go on mapping the
// file and read it at memory speed; their writes reach the node through a
// Unix socket beside the file (shm.SocketPath, FILE.sock) that the node
// serves as it serves its port. The socket has the file's mode and group,
// is bound in a private directory and renamed into place (so it is never
// reachable with other permissions, and a dead daemon's is replaced), and
// is removed when the server stops. Its clients need no AUTH: whoever can
// connect can read the file itself, so a password would guard nothing
// there. shm sends SETVER, INCRVER, CASVER, DEL and MSET (cmd_versions.go),
// replicated like every write and answered once this node has applied
// them, with the version each write gave its variable and errors in shm's
// words; CLUSTER SYNC is its read barrier (shm.Memory.SyncReads).
//
// # Limits
//
// Every limit has a Config field with a safe default:
//
//   - MaxClients (10000) connections at once; the next one is refused as
//     Access describes: once its first bytes arrive, a RESP client is
//     answered "ERR max number of clients reached", a seed client gets no
//     byte.
//   - Limits (resp's: 1<<20 arguments, 1 MiB per argument, 64 KiB inline
//     lines, and 8 MiB per command) for authenticated clients; PreAuthLimits
//     (resp's: 10 arguments of 16 KiB) until a client authenticates when a
//     password is set, as Redis does since CVE-2021-32675.
//   - AuthTimeout (10 s): with a password, a client must authenticate within
//     it. RequestTimeout (30 s): once a request's first byte (or a TLS
//     handshake's) arrives, the rest must arrive within it, which stops
//     clients that send half a request and go silent. IdleTimeout (none):
//     closes clients that send nothing for that long, like Redis' timeout.
//   - OutputLimit (32 MiB): the replies pending for one client; a client
//     that exceeds it (a huge KEYS, or a pipeline whose replies it does not
//     read) is closed. WriteTimeout (30 s) bounds each write to a client.
//   - ClientMemMax (512 MiB): what all clients together hold in commands
//     being read and replies not yet taken; beyond it the clients holding
//     the most are closed, largest first, logged and counted (INFO
//     evicted_clients and mem_clients_normal, metrics
//     dsm_client_mem_evictions_total and dsm_client_mem_bytes). Each
//     connection counts its buffers before it waits on the socket
//     (clientmem.go).
//
// A connection holds at most its read buffer (16 KiB), one command (resp's
// bound for the limits in force: about 3×MaxRequest at worst, about 600 KiB
// before AUTH) and its pending replies (OutputLimit). An idle connection
// costs about 26 KiB of heap and stack and 15 KiB of resident memory
// (scripts/bench measures 2,000 of them); TestHostileInput checks that 300
// connections stalled in the middle of a request stay under 64 KiB each,
// its own client's side included.
//
// # Operations
//
// The server logs with log/slog one line per client connect and disconnect
// with the client's address (the seed printed "[+] Connected"), and so for
// refusals; past 100 connections in 10 s the rest are counted instead, in
// one line at the end of the 10 s ("412 more connections in the last
// 10s"). ServeMetrics (which ListenAndServe starts when Config.MetricsAddr
// is set) serves Prometheus metrics from the Server's own registry,
// /healthz, /readyz (Ready) and, with Config.Pprof, pprof. The metrics:
// commands and errors by command, connections accepted and refused, clients,
// flush latency and failures, the file's capacity and size.
package server
