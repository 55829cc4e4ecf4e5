/*
 * dsm.h: dsm's memory file from C (libdsm).
 *
 * libdsm is the Go package shm (github.com/dsm-dev/dsm/shm) built with
 * cgo as a C library: -buildmode=c-shared gives libdsm.so, -buildmode=
 * c-archive gives libdsm.a (libdsm/build makes both). Every call runs the
 * same Go code a Go program runs: the same writer-priority locks inside the
 * mapping, the same commit points, the same recovery of a process that
 * died. A process killed with SIGKILL inside any call leaves the file as a
 * killed Go process does: every variable holds its old or its new value and
 * its locks are released within 1 s (docs/GUARANTEES.md, guarantee 4). On a
 * cluster node's file (replicated) reads come from the mapping and writes go
 * through the node's daemon, over the socket beside the file, exactly as in
 * Go.
 *
 * Conventions
 *
 *   - Every function but dsm_strerror and dsm_errmsg returns DSM_OK (0) or
 *     one of the error codes below; dsm_strerror(code) names the code and
 *     dsm_errmsg copies the message of this thread's last failing call,
 *     which says more (the variable's name, the file's limit, the path).
 *   - Names and byte values are (pointer, length) pairs: any bytes, not
 *     NUL-terminated. Output pointers may be NULL when the caller does not
 *     want that result.
 *   - A value is a signed 64-bit integer or a byte string. Byte values
 *     given to dsm_set, dsm_cas and dsm_mset follow Redis' rule, as dsmd and
 *     the dsm command do: text that is the canonical decimal form of an
 *     int64 ("42", "-7"; not "042" or "+1") is stored as an integer.
 *     dsm_get and the other byte getters return a value's text (an integer
 *     in decimal).
 *   - dsm_t, dsm_var_t and dsm_lock_t are numbers, not pointers: no memory
 *     of the Go runtime ever reaches the caller, and a number that was
 *     closed or freed is refused with DSM_ECLOSED rather than reused by
 *     mistake (numbers are not reused for 2^48 opens). A process holds at
 *     most 65,536 of each kind at once (DSM_ELIMIT).
 *   - Every function is safe to call from several threads at once, on the
 *     same or different handles, except that one lock group (dsm_lock_t)
 *     is used by one thread at a time (calls on it are serialised).
 *     dsm_close may run while other threads use the same dsm_t: their calls
 *     then complete first or fail with DSM_ECLOSED; waits and lock
 *     acquisitions in progress end with DSM_ECLOSED, and the lock groups
 *     still held on it are released.
 *
 * Caveats
 *
 *   - One Go runtime per process. libdsm carries a Go runtime; a process
 *     may load one libdsm (and other Go libraries built the same way do not
 *     share it). The runtime starts when the library is loaded (c-shared) or
 *     before main (c-archive) and runs a few threads of its own.
 *   - fork. The Go runtime does not survive fork(): the child has one
 *     thread, and the runtime's other threads, with the locks they held,
 *     are gone. After a fork without exec, the child must not call the
 *     library at all: every call there returns DSM_EFORKED at once, without
 *     entering Go (a pthread_atfork handler marks the child). Start
 *     workers with fork+exec (posix_spawn; in Python, multiprocessing's
 *     "spawn" start method). A forked child also keeps the parent's file
 *     descriptors, and with them the parent's attachment: if the parent
 *     dies while holding a lock, that lock is released when the child
 *     exits or execs too.
 *   - Signals. The Go runtime installs handlers for the synchronous
 *     signals (SIGSEGV, SIGBUS, SIGFPE) and SIGPIPE, keeping the program's
 *     earlier handlers for signals raised outside Go, and installs no other
 *     handler. A program that installs handlers after loading the library
 *     must use SA_ONSTACK and, for the synchronous signals, call the Go
 *     handler it replaces for faults inside Go code (see Go's os/signal
 *     documentation, "Non-Go programs that call Go code"). A memory file
 *     truncated under the mapping makes calls fail with DSM_EFAULT instead
 *     of a crash.
 *   - Waits and lock acquisitions block the calling thread; a signal does
 *     not interrupt them. Give them a timeout and loop.
 *   - Linux only (futexes and OFD locks, as package shm).
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open memory file (dsm_open). Close it with dsm_close. */
typedef uint64_t dsm_t;
/* A variable resolved once, for hot paths (dsm_var). Free it with dsm_var_free. */
typedef uint64_t dsm_var_t;
/* Locks held on several variables (dsm_lock). Release them with dsm_unlock. */
typedef uint64_t dsm_lock_t;

/* Error codes. */
enum {
	DSM_OK = 0,
	DSM_ENOTFOUND = 1,       /* no such variable */
	DSM_ENOTINTEGER = 2,     /* the value is not an integer */
	DSM_EOVERFLOW = 3,       /* an add would overflow int64 */
	DSM_EFULL = 4,           /* the file has no room for another variable */
	DSM_ENAMETOOLONG = 5,    /* name longer than the file's limit */
	DSM_EEMPTYNAME = 6,      /* empty name */
	DSM_EVALUETOOLARGE = 7,  /* value longer than the file's limit */
	DSM_ETOOMANY = 8,        /* more variables than one atomic group may hold */
	DSM_ECLOSED = 9,         /* the handle is closed, freed or unknown */
	DSM_ETIMEOUT = 10,       /* a wait or a lock acquisition timed out */
	DSM_ENOLANE = 11,        /* every lock lane of this process is held */
	DSM_ENOTHELD = 12,       /* the lock group does not hold that variable, or holds it for reading */
	DSM_EREPLICATED = 13,    /* a write lock group on a cluster node's file: only its daemon takes them */
	DSM_ENODAEMON = 14,      /* a write to a cluster node's file found its daemon down */
	DSM_EDAEMON = 15,        /* the node's daemon refused the write (no leader, ...) */
	DSM_EFILE = 16,          /* the file cannot be opened: missing directory, permissions, not a dsm file, newer format, corrupt header */
	DSM_EDAMAGED = 17,       /* the variable's slot in the file is damaged */
	DSM_EFAULT = 18,         /* the file under the mapping was truncated or replaced */
	DSM_EBUFFER = 19,        /* the caller's buffer is too small: the needed length is returned */
	DSM_EINVAL = 20,         /* an invalid argument (a NULL pointer where one is needed, bad options) */
	DSM_EFORKED = 21,        /* called in a child forked (without exec) from the process that loaded the library */
	DSM_ELIMIT = 22,         /* too many open handles of one kind in this process */
	DSM_EOTHER = 23          /* any other failure; dsm_errmsg says what */
};

/*
 * Options for dsm_open. A zeroed struct (or NULL) means the defaults. The
 * capacities are used only when the file is created; an existing file keeps
 * its own (dsm_get_limits reports them). These are shm.Config's fields, but
 * for Exclusive and AllowIncomplete, which belong to the file's daemon.
 */
typedef struct dsm_options {
	int64_t vars;           /* how many variables fit; 0: 65,536 */
	int64_t name_max;       /* longest name in bytes; 0: 120 */
	int64_t value_max;      /* longest byte value; 0: 256 */
	int64_t procs;          /* processes attached at once; 0: 64 */
	int64_t lanes;          /* lock groups one process holds at once; 0: 16 */
	int64_t group_max;      /* variables in one atomic group (mget, mset, lock); 0: 256 */
	uint32_t mode;          /* permission bits of a new file; 0: 0600 (0660 with file_group) */
	const char *file_group; /* Unix group owning a new file, or NULL */
	uint64_t seed;          /* hash seed of a new file; 0: random */
} dsm_options;

/* A file's capacities (dsm_get_limits). */
typedef struct dsm_limits {
	int64_t vars, name_max, value_max, group_max, procs, lanes;
	int64_t file_size;
} dsm_limits;

/* A byte string: a name or a value. */
typedef struct dsm_bytes {
	const void *ptr;
	size_t len;
} dsm_bytes;

/* One variable of dsm_mget: the caller sets buf and cap; the call sets
 * the rest. */
typedef struct dsm_item {
	void *buf;        /* where the value's text goes */
	size_t cap;       /* bytes available at buf */
	size_t len;       /* the value's length (the needed length if over cap) */
	uint64_t version; /* the variable's version; 0 if not found */
	int found;        /* 1 if the variable has a value */
} dsm_item;

/* dsm_lock flags. */
#define DSM_READ 1 /* read locks (shared) instead of write locks */

/* A dsm_scan callback: one variable's name and version; return nonzero to
 * stop the scan. name is valid only during the call. */
typedef int (*dsm_scan_fn)(const void *name, size_t name_len, uint64_t version, void *arg);

/* ---- Opening and closing ---- */

/* dsm_open opens the memory file at path (a NUL-terminated path), creating
 * it if missing, validates its header, maps it and attaches to its locks.
 * opts may be NULL. On success *out is the file's handle. */
int dsm_open(const char *path, const dsm_options *opts, dsm_t *out);

/* dsm_close detaches from the file and unmaps it; variables stay in the
 * file. It releases the lock groups still held on m; variable handles of m
 * fail with DSM_ECLOSED afterwards (free them with dsm_var_free). */
int dsm_close(dsm_t m);

/* dsm_get_limits reports the file's capacities. */
int dsm_get_limits(dsm_t m, dsm_limits *out);

/* ---- Single variables ---- */

/* dsm_get copies the text of name's value into buf (cap bytes; no NUL is
 * added) and sets *len to its length and *version to its version. If cap
 * is too small it returns DSM_EBUFFER with *len the needed length and
 * nothing copied (a value is never longer than the file's value_max, or 20
 * bytes for an integer). DSM_ENOTFOUND if name has no value.
 *
 * dsm_get and dsm_get_int keep a cache of the names they read: up to 256
 * (file, name) pairs, each with a variable handle as dsm_var gives, so
 * that a name read again costs a lookup in C and a get through the handle
 * instead of the lookup of the name in the file's index. A handle is used
 * only while it still holds the name's variable on that file; once the
 * variable is deleted, or its slot reused by another name, or the file's
 * content replaced (a cluster's snapshot), the get goes by name and the
 * entry is renewed: the cache changes what a get costs, never what it
 * returns. A name enters the cache on its second read in a row (no other
 * name of its place in the cache read in between), so that reading many
 * names once each does not churn it; names longer than 64 bytes are not
 * cached. Its handles count among the process' 65,536 variable handles;
 * dsm_close frees the file's. */
int dsm_get(dsm_t m, const void *name, size_t name_len, void *buf, size_t cap, size_t *len, uint64_t *version);

/* dsm_get_int reads name's value as an integer: DSM_ENOTINTEGER if it is a
 * byte string that is not one. */
int dsm_get_int(dsm_t m, const void *name, size_t name_len, int64_t *value, uint64_t *version);

/* dsm_set stores a value (bytes, under Redis' integer rule), creating the
 * variable if needed, and sets *version to its new version. */
int dsm_set(dsm_t m, const void *name, size_t name_len, const void *value, size_t value_len, uint64_t *version);

/* dsm_set_int stores an integer. */
int dsm_set_int(dsm_t m, const void *name, size_t name_len, int64_t value, uint64_t *version);

/* dsm_add adds delta to name's integer (a missing variable counts as 0)
 * and sets *result and *version to the new value and version.
 * DSM_ENOTINTEGER or DSM_EOVERFLOW leave the value unchanged. */
int dsm_add(dsm_t m, const void *name, size_t name_len, int64_t delta, int64_t *result, uint64_t *version);

/* dsm_cas stores new_ if name's value has old's text, and sets *swapped
 * to 1 if it did (0 if not) and *version to the version after.
 * DSM_ENOTFOUND if name has no value. */
int dsm_cas(dsm_t m, const void *name, size_t name_len, const void *old, size_t old_len,
	const void *new_, size_t new_len, int *swapped, uint64_t *version);

/* dsm_cas_version stores new_ if name's version is version. */
int dsm_cas_version(dsm_t m, const void *name, size_t name_len, uint64_t version,
	const void *new_, size_t new_len, int *swapped, uint64_t *new_version);

/* dsm_delete removes name; *deleted is 1 if it had a value. */
int dsm_delete(dsm_t m, const void *name, size_t name_len, int *deleted);

/* dsm_wait blocks until name's version is greater than after and sets
 * *version to the new version. A change by any process, local or through
 * the daemon, wakes it. timeout_ms < 0 waits without limit; 0 only checks.
 * DSM_ETIMEOUT when the time runs out, DSM_ENOTFOUND if the variable does
 * not exist or is deleted while waiting. */
int dsm_wait(dsm_t m, const void *name, size_t name_len, uint64_t after, int64_t timeout_ms, uint64_t *version);

/* dsm_sync makes the reads that follow it linearizable on a cluster
 * node's file: it returns once this mapping holds every write acknowledged
 * anywhere in the cluster before the call (it asks the node's daemon for a
 * read barrier). On a file that is not replicated it returns DSM_OK at
 * once. DSM_ENODAEMON if the daemon is down, DSM_EDAEMON if the node cannot
 * tell (no leader), DSM_ETIMEOUT after timeout_ms (< 0: no limit). */
int dsm_sync(dsm_t m, int64_t timeout_ms);

/* ---- Several variables ---- */

/* dsm_mget reads n variables as one snapshot into items[i] (see dsm_item).
 * If a buffer is too small it returns DSM_EBUFFER with every item's len
 * set: call again with larger buffers (a new snapshot). */
int dsm_mget(dsm_t m, size_t n, const dsm_bytes *names, dsm_item *items);

/* dsm_mset stores values[i] into names[i] for every i, all or nothing,
 * also across a crash. */
int dsm_mset(dsm_t m, size_t n, const dsm_bytes *names, const dsm_bytes *values);

/* dsm_scan calls fn for the variables that have a value, in slot order,
 * starting at cursor (0 the first time), for at most count variables (0:
 * all), and sets *next to the cursor to continue from, 0 at the end. As
 * Redis' SCAN: a variable that exists for the whole scan is reported once.
 * fn runs outside every lock of the file and may call the library. */
int dsm_scan(dsm_t m, uint64_t cursor, size_t count, dsm_scan_fn fn, void *arg, uint64_t *next);

/* ---- Locks (the local form of the dsm lock command) ---- */

/* dsm_lock takes the locks of n variables at once, as one group, in the
 * same order in every process (groups never deadlock among themselves):
 * write locks (exclusive; missing variables are created, without a value,
 * so that they can be locked), or read locks with DSM_READ (a missing
 * variable stays out of the group and reads as not found). It waits up to
 * timeout_ms (< 0: without limit; 0: one try), then fails with
 * DSM_ETIMEOUT. While the group holds them, every other reader and writer
 * of those variables, in any process, waits. If the process dies, its
 * locks are released within 1 s. */
int dsm_lock(dsm_t m, size_t n, const dsm_bytes *names, int flags, int64_t timeout_ms, dsm_lock_t *out);

/* Operations through a lock group on the variables it holds: each write
 * takes effect at once (is committed), as the commands after dsm lock's
 * "--" do. DSM_ENOTHELD for a variable the group does not hold, or a write
 * through a read group. */
int dsm_lock_get(dsm_lock_t g, const void *name, size_t name_len, void *buf, size_t cap, size_t *len, uint64_t *version);
int dsm_lock_get_int(dsm_lock_t g, const void *name, size_t name_len, int64_t *value, uint64_t *version);
int dsm_lock_set(dsm_lock_t g, const void *name, size_t name_len, const void *value, size_t value_len);
int dsm_lock_add(dsm_lock_t g, const void *name, size_t name_len, int64_t delta, int64_t *result);
int dsm_lock_delete(dsm_lock_t g, const void *name, size_t name_len, int *deleted);

/* dsm_unlock releases the group's locks. */
int dsm_unlock(dsm_lock_t g);

/* ---- Variable handles (hot paths) ---- */

/* dsm_var resolves name once; its operations skip the name lookup. With
 * create, a missing variable is created without a value. A deleted
 * variable is resolved again by name on the next call. */
int dsm_var(dsm_t m, const void *name, size_t name_len, int create, dsm_var_t *out);
int dsm_var_get(dsm_var_t v, void *buf, size_t cap, size_t *len, uint64_t *version);
int dsm_var_get_int(dsm_var_t v, int64_t *value, uint64_t *version);
int dsm_var_set_int(dsm_var_t v, int64_t value, uint64_t *version);
int dsm_var_add(dsm_var_t v, int64_t delta, int64_t *result, uint64_t *version);
int dsm_var_free(dsm_var_t v);

/* ---- Errors ---- */

/* dsm_strerror names an error code (a static string). */
const char *dsm_strerror(int code);

/* dsm_errmsg copies the message of the last call that failed in this
 * thread into buf (at most cap bytes, NUL-terminated when cap > 0) and
 * returns the message's length. */
size_t dsm_errmsg(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
