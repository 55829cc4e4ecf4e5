// Package server is the engine of dsmd: it serves one memory file of package
// shm over TCP, speaking the seed's one-byte protocol and the Redis protocol
// on one port.
//
// # Model
//
// A Server is built from a Config by New, which opens the file with the
// one-daemon lock (a second Server or dsmd on the same file fails with an
// error wrapping shm.ErrLocked). Serve accepts connections on a listener and
// serves each on its own goroutine; Shutdown drains and Close stops at once,
// and then Serve returns ErrServerClosed, as with net/http. Every goroutine
// the server starts goes through one helper that counts it, and Shutdown and
// Close wait for all of them before they flush and close the file.
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
//     The seed protocol has no AUTH, so it is served only to loopback clients
//     and to networks of Config.Allow.
//   - 0x16 (a TLS handshake record), when Config.TLSCertFile and TLSKeyFile are
//     set: TLS on the same port, with RESP inside (never the seed protocol),
//     so "redis-cli --tls" works against the ordinary port.
//   - anything else: RESP2, RESP3 after HELLO 3, and inline commands, parsed by
//     package resp.
//
// # Commands
//
// PING ECHO QUIT AUTH HELLO SELECT CLIENT COMMAND CONFIG INFO DBSIZE GET SET
// GETSET MGET MSET DEL UNLINK EXISTS INCR INCRBY DECR DECRBY KEYS SCAN TYPE
// TTL PTTL, and dsm's CAS and GETVER, are answered as Redis 7 answers them:
// the same reply types and the same error texts, checked in Redis' order
// (unknown command, then arity, then authentication). Integers are kept as
// integers: SET x 42 stores the integer 42 (shm.ParseValue), as Redis does.
// Choices where dsm differs:
//
//   - Variables do not expire. SET ... EX|PX|EXAT|PXAT is refused with
//     "ERR dsm variables do not expire ..." after the options are checked
//     as Redis checks them; KEEPTTL is accepted (there is no TTL to keep).
//     TTL and PTTL answer -1 for a variable and -2 for a missing one.
//   - SELECT accepts only database 0.
//   - MGET reads its variables at one instant and MSET writes all or none;
//     both name at most the file's group limit (shm's GroupMax, 256 by
//     default) and fail with "ERR too many variables in one atomic group"
//     above it.
//   - CAS key expected new stores new and replies 1 if the variable's value
//     equals expected (by text: "5" equals 5), else replies 0. A missing
//     variable replies 0, not an error.
//   - GETVER key replies [value, version] (the version rises on every
//     change), or a null array for a missing variable.
//   - Reading a name no variable can have (empty, or longer than the file
//     allows) finds nothing, as in Redis; writing one is an error.
//   - CONFIG GET answers the settings Redis tools ask for ("save" is "",
//     "appendonly" is "no", "appendfsync" follows -sync, "maxmemory" is 0)
//     plus dsm-* settings. CONFIG SET accepts a setting only at its current
//     value: dsmd takes settings as flags. CONFIG RESETSTAT resets INFO's
//     counters.
//   - HELLO replies server "dsm", version 7.0.0 (the Redis whose replies are
//     followed); INFO has redis_version 7.0.0 and dsm_version.
//   - Errors for a full file or a too long name or value name the file's
//     limits, which are fixed when it is created.
//
// # Pipelining and replies
//
// Commands run in the order they arrive. Replies are collected and written
// when the server is about to wait for more input from the client, so the
// replies to a pipelined batch go out in one write. Under SyncAlways a batch
// that wrote waits, before its replies go out, for one shm.SyncBarrier that
// covers its writes; concurrent connections share those flushes (group
// commit). If the flush fails, the replies are not sent and the connection
// is closed: no write is acknowledged that might not be durable.
//
// # Durability
//
// A write is in the shared mapping before its reply is sent, so it survives
// a crash of dsmd (kill -9) or of any process. Config.Sync decides power-loss
// durability: SyncAlways as above; SyncInterval (the default) flushes the file
// every Config.SyncInterval (1 s); SyncNever flushes only at shutdown. Every
// mode flushes at Shutdown and Close.
//
// # Access
//
// Loopback clients are always admitted. With Config.Allow set, clients from
// those networks are admitted too and every other client is refused. With
// only a Password set, clients from anywhere may connect but must AUTH (AUTH
// pass, AUTH default pass, or HELLO 3 AUTH default pass; compared in constant
// time) before any command but AUTH, HELLO and QUIT, and they may not use the
// seed protocol. With neither (protected mode) only loopback clients are
// admitted, and any other is answered with a "-DENIED ..." line saying why
// and what to do, then closed. A Password applies to every RESP client,
// loopback included.
//
// # Limits
//
// Every limit has a Config field with a safe default:
//
//   - MaxClients (10000) connections at once; the next one is answered
//     "ERR max number of clients reached" and closed.
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
//
// A connection holds at most its read buffer (16 KiB), one command (resp's
// bound for the limits in force: about 3×MaxRequest at worst, about 600 KiB
// before AUTH) and its pending replies (OutputLimit). A connection that is
// idle or stalled in the middle of a request costs under 32 KiB of heap and
// stack (TestHostileInput measures 300 of them).
//
// # Operations
//
// The server logs with log/slog one line per client connect and disconnect
// with the client's address (the seed printed "[+] Connected"). Metrics for
// Prometheus, on the Server's own registry, and pprof are served by
// ServeMetrics (ListenAndServe starts it when Config.MetricsAddr is set):
// commands and errors by command, connections accepted and refused, clients,
// flush latency and failures, the file's capacity and size.
package server
