// The public functions of dsm.h. Each one refuses to run in a child forked
// from the process that loaded the library, before it enters Go: the Go
// runtime's threads did not follow the child, and a call into it there may
// wait forever for one of them. Otherwise it calls the Go function of the
// same name with the prefix dsmgo_ (export.go).

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"
#include "_cgo_export.h"

// forked is set in the child of a fork (pthread_atfork); loader is the
// process that loaded the library, for the message.
static volatile int forked;
static pid_t loader;

static void mark_forked(void) { forked = 1; }

__attribute__((constructor)) static void dsm_init(void) {
	loader = getpid();
	pthread_atfork(NULL, NULL, mark_forked);
}

// errbuf is this thread's message of its last failing call.
static __thread char errbuf[1024];

char *dsm__errbuf(size_t *cap) {
	*cap = sizeof errbuf;
	return errbuf;
}

static int refuse_forked(void) {
	snprintf(errbuf, sizeof errbuf,
		"libdsm: process %d is a child forked (without exec) from process %d, which loaded the library: "
		"the Go runtime does not survive fork, so the child cannot use it; start workers with fork+exec "
		"(Python: multiprocessing's \"spawn\" start method)",
		(int)getpid(), (int)loader);
	return DSM_EFORKED;
}

#define GUARD() \
	if (forked) \
	return refuse_forked()

int dsm__call_scan(dsm_scan_fn fn, void *name, size_t len, uint64_t version, void *arg) {
	return fn(name, len, version, arg);
}

static void cache_forget(dsm_t m);

int dsm_open(const char *path, const dsm_options *opts, dsm_t *out) {
	GUARD();
	return dsmgo_open((char *)path, (dsm_options *)opts, out);
}

int dsm_close(dsm_t m) {
	GUARD();
	cache_forget(m);
	return dsmgo_close(m);
}

int dsm_get_limits(dsm_t m, dsm_limits *out) {
	GUARD();
	return dsmgo_get_limits(m, out);
}

// The name cache of the gets by name: up to CACHE_SIZE (file, name) pairs,
// each with a variable handle (dsm_var_t) of that name, so that dsm_get
// and dsm_get_int cost a lookup here plus Go's handle get, in one call into
// Go, instead of Go's lookup of the name in the file's index. Go checks
// every handle it is given (cache.go): one of another file or name, or
// whose variable was deleted or replaced since (its slot may hold another
// name now), is not used; the get goes by name then, and the entry is
// refreshed. So the cache can make a get slower, never return another
// variable's value.
//
// An entry is found by a hash of the file and the name, in one place
// (direct mapped). Readers take no lock: an entry's seq is odd while a
// writer changes it, and a reader that sees seq move takes the path by
// name. Writers hold cache_mu. A name enters the cache on its second miss
// in a row at its place (hint), so that a stream of gets of many names does
// not replace entries, each with a new handle, on every call. Names longer
// than CACHE_NAME bytes, and the empty name, are not cached. dsm_close
// frees its file's entries; one that a get adds while the close runs
// keeps its handle (refused by Go from then on) until another name takes
// its place, so the cache never holds more than CACHE_SIZE handles.
enum { CACHE_SIZE = 256, CACHE_NAME = 64, CACHE_WORDS = CACHE_NAME / 8 };

struct cached {
	uint32_t seq;
	uint32_t len;
	uint64_t m, v;
	uint64_t hint; // hash of the last name that missed here
	uint64_t name[CACHE_WORDS];
};

static struct cached cache[CACHE_SIZE];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

// A key is a file and a name, the name zero-padded to whole words.
struct key {
	dsm_t m;
	uint32_t len, words;
	uint64_t hash;
	uint64_t name[CACHE_WORDS];
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, x) __atomic_store_n((p), (x), __ATOMIC_RELAXED)

static uint64_t load64(const unsigned char *p) {
	uint64_t x;
	memcpy(&x, p, sizeof x);
	return x;
}

static uint32_t load32(const unsigned char *p) {
	uint32_t x;
	memcpy(&x, p, sizeof x);
	return x;
}

// tail is the last n (1 to 7) bytes of a name ending at end, as the low
// bytes of a word (little-endian, zero above), read without touching a
// byte outside the name: when the name has 8 bytes or more, one load of
// its last 8 bytes, shifted; else overlapping loads of 4 or 1 bytes.
static uint64_t tail(const unsigned char *end, size_t n, size_t len) {
	if (len >= 8)
		return load64(end - 8) >> (8 * (8 - n));
	const unsigned char *p = end - n;
	if (n >= 4)
		return load32(p) | (uint64_t)load32(end - 4) << (8 * (n - 4));
	return p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
}

// make_key fills k, or returns 0 for a name the cache does not keep. A
// name's words are what memcpy into zeroed words gives, on a little-endian
// machine (as Linux on amd64 and arm64 is).
static int make_key(struct key *k, dsm_t m, const void *name, size_t len) {
	if (name == NULL || len == 0 || len > CACHE_NAME)
		return 0;
	const unsigned char *p = name;
	size_t full = len / 8, rest = len % 8;
	k->m = m;
	k->len = (uint32_t)len;
	k->words = (uint32_t)(full + (rest != 0));
	for (size_t i = 0; i < full; i++)
		k->name[i] = load64(p + 8 * i);
	if (rest != 0)
		k->name[full] = tail(p + len, rest, len);
	uint64_t h = m ^ len;
	for (uint32_t i = 0; i < k->words; i++) {
		h = (h ^ k->name[i]) * 0x9E3779B97F4A7C15u;
		h ^= h >> 32;
	}
	k->hash = h;
	return 1;
}

static struct cached *slot_of(const struct key *k) {
	return &cache[k->hash >> 56 & (CACHE_SIZE - 1)];
}

// holds reports whether e holds k; the caller read e's seq before and
// checks it after, or holds cache_mu.
static int holds(const struct cached *e, const struct key *k) {
	if (LOAD(&e->m) != k->m || LOAD(&e->len) != k->len)
		return 0;
	for (uint32_t i = 0; i < k->words; i++)
		if (LOAD(&e->name[i]) != k->name[i])
			return 0;
	return 1;
}

// cache_find returns k's handle, or 0.
static dsm_var_t cache_find(const struct cached *e, const struct key *k) {
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (seq & 1)
		return 0;
	dsm_var_t v = holds(e, k) ? LOAD(&e->v) : 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return LOAD(&e->seq) == seq ? v : 0;
}

// cache_admit reports whether a miss of k should fetch a handle: on the
// second miss in a row of k at its place.
static int cache_admit(struct cached *e, const struct key *k) {
	if (LOAD(&e->hint) == k->hash)
		return 1;
	STORE(&e->hint, k->hash);
	return 0;
}

// cache_write stores k (NULL: nothing) and its handle v in e; the caller
// holds cache_mu.
static void cache_write(struct cached *e, const struct key *k, dsm_var_t v) {
	uint32_t seq = e->seq;
	STORE(&e->seq, seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	STORE(&e->m, k ? k->m : 0);
	STORE(&e->len, k ? k->len : 0);
	STORE(&e->v, v);
	for (uint32_t i = 0; i < CACHE_WORDS; i++)
		STORE(&e->name[i], k && i < k->words ? k->name[i] : 0);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

// cache_update records what a get of k learned: the entry's handle old (0:
// there was none) is to be next (0: none; Go freed old if it was stale).
// A handle this leaves unused, another name's displaced or next when
// another thread got there first, is freed.
static void cache_update(struct cached *e, const struct key *k, dsm_var_t old, dsm_var_t next) {
	dsm_var_t drop = 0;
	pthread_mutex_lock(&cache_mu);
	int mine = e->v != 0 && holds(e, k);
	if (mine && e->v != old)
		drop = next;
	else if (next != 0) {
		drop = mine ? 0 : e->v;
		cache_write(e, k, next);
	} else if (mine)
		cache_write(e, NULL, 0);
	pthread_mutex_unlock(&cache_mu);
	if (drop != 0)
		dsmgo_cache_drop(drop);
}

// cache_forget frees m's handles; dsm_close calls it.
static void cache_forget(dsm_t m) {
	dsm_var_t drop[CACHE_SIZE];
	int n = 0;
	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CACHE_SIZE; i++) {
		if (cache[i].v != 0 && cache[i].m == m) {
			drop[n++] = cache[i].v;
			cache_write(&cache[i], NULL, 0);
		}
	}
	pthread_mutex_unlock(&cache_mu);
	for (int i = 0; i < n; i++)
		dsmgo_cache_drop(drop[i]);
}

int dsm_get(dsm_t m, const void *name, size_t name_len, void *buf, size_t cap, size_t *len, uint64_t *version) {
	GUARD();
	struct key k;
	if (!make_key(&k, m, name, name_len))
		return dsmgo_get(m, 0, NULL, (void *)name, name_len, buf, cap, len, version);
	struct cached *e = slot_of(&k);
	dsm_var_t v = cache_find(e, &k), next = v;
	int want = v != 0 || cache_admit(e, &k);
	int rc = dsmgo_get(m, v, want ? &next : NULL, (void *)name, name_len, buf, cap, len, version);
	if (want && next != v)
		cache_update(e, &k, v, next);
	return rc;
}

int dsm_get_int(dsm_t m, const void *name, size_t name_len, int64_t *value, uint64_t *version) {
	GUARD();
	struct key k;
	if (!make_key(&k, m, name, name_len))
		return dsmgo_get_int(m, 0, NULL, (void *)name, name_len, value, version);
	struct cached *e = slot_of(&k);
	dsm_var_t v = cache_find(e, &k), next = v;
	int want = v != 0 || cache_admit(e, &k);
	int rc = dsmgo_get_int(m, v, want ? &next : NULL, (void *)name, name_len, value, version);
	if (want && next != v)
		cache_update(e, &k, v, next);
	return rc;
}

int dsm_set(dsm_t m, const void *name, size_t name_len, const void *value, size_t value_len, uint64_t *version) {
	GUARD();
	return dsmgo_set(m, (void *)name, name_len, (void *)value, value_len, version);
}

int dsm_set_int(dsm_t m, const void *name, size_t name_len, int64_t value, uint64_t *version) {
	GUARD();
	return dsmgo_set_int(m, (void *)name, name_len, value, version);
}

int dsm_add(dsm_t m, const void *name, size_t name_len, int64_t delta, int64_t *result, uint64_t *version) {
	GUARD();
	return dsmgo_add(m, (void *)name, name_len, delta, result, version);
}

int dsm_cas(dsm_t m, const void *name, size_t name_len, const void *old, size_t old_len,
	const void *new_, size_t new_len, int *swapped, uint64_t *version) {
	GUARD();
	return dsmgo_cas(m, (void *)name, name_len, (void *)old, old_len, (void *)new_, new_len, swapped, version);
}

int dsm_cas_version(dsm_t m, const void *name, size_t name_len, uint64_t version,
	const void *new_, size_t new_len, int *swapped, uint64_t *new_version) {
	GUARD();
	return dsmgo_cas_version(m, (void *)name, name_len, version, (void *)new_, new_len, swapped, new_version);
}

int dsm_delete(dsm_t m, const void *name, size_t name_len, int *deleted) {
	GUARD();
	return dsmgo_delete(m, (void *)name, name_len, deleted);
}

int dsm_wait(dsm_t m, const void *name, size_t name_len, uint64_t after, int64_t timeout_ms, uint64_t *version) {
	GUARD();
	return dsmgo_wait(m, (void *)name, name_len, after, timeout_ms, version);
}

int dsm_sync(dsm_t m, int64_t timeout_ms) {
	GUARD();
	return dsmgo_sync(m, timeout_ms);
}

int dsm_mget(dsm_t m, size_t n, const dsm_bytes *names, dsm_item *items) {
	GUARD();
	return dsmgo_mget(m, n, (dsm_bytes *)names, items);
}

int dsm_mset(dsm_t m, size_t n, const dsm_bytes *names, const dsm_bytes *values) {
	GUARD();
	return dsmgo_mset(m, n, (dsm_bytes *)names, (dsm_bytes *)values);
}

int dsm_scan(dsm_t m, uint64_t cursor, size_t count, dsm_scan_fn fn, void *arg, uint64_t *next) {
	GUARD();
	return dsmgo_scan(m, cursor, count, fn, arg, next);
}

int dsm_lock(dsm_t m, size_t n, const dsm_bytes *names, int flags, int64_t timeout_ms, dsm_lock_t *out) {
	GUARD();
	return dsmgo_lock(m, n, (dsm_bytes *)names, flags, timeout_ms, out);
}

int dsm_lock_get(dsm_lock_t g, const void *name, size_t name_len, void *buf, size_t cap, size_t *len, uint64_t *version) {
	GUARD();
	return dsmgo_lock_get(g, (void *)name, name_len, buf, cap, len, version);
}

int dsm_lock_get_int(dsm_lock_t g, const void *name, size_t name_len, int64_t *value, uint64_t *version) {
	GUARD();
	return dsmgo_lock_get_int(g, (void *)name, name_len, value, version);
}

int dsm_lock_set(dsm_lock_t g, const void *name, size_t name_len, const void *value, size_t value_len) {
	GUARD();
	return dsmgo_lock_set(g, (void *)name, name_len, (void *)value, value_len);
}

int dsm_lock_add(dsm_lock_t g, const void *name, size_t name_len, int64_t delta, int64_t *result) {
	GUARD();
	return dsmgo_lock_add(g, (void *)name, name_len, delta, result);
}

int dsm_lock_delete(dsm_lock_t g, const void *name, size_t name_len, int *deleted) {
	GUARD();
	return dsmgo_lock_delete(g, (void *)name, name_len, deleted);
}

int dsm_unlock(dsm_lock_t g) {
	GUARD();
	return dsmgo_unlock(g);
}

int dsm_var(dsm_t m, const void *name, size_t name_len, int create, dsm_var_t *out) {
	GUARD();
	return dsmgo_var(m, (void *)name, name_len, create, out);
}

int dsm_var_get(dsm_var_t v, void *buf, size_t cap, size_t *len, uint64_t *version) {
	GUARD();
	return dsmgo_var_get(v, buf, cap, len, version);
}

int dsm_var_get_int(dsm_var_t v, int64_t *value, uint64_t *version) {
	GUARD();
	return dsmgo_var_get_int(v, value, version);
}

int dsm_var_set_int(dsm_var_t v, int64_t value, uint64_t *version) {
	GUARD();
	return dsmgo_var_set_int(v, value, version);
}

int dsm_var_add(dsm_var_t v, int64_t delta, int64_t *result, uint64_t *version) {
	GUARD();
	return dsmgo_var_add(v, delta, result, version);
}

int dsm_var_free(dsm_var_t v) {
	GUARD();
	return dsmgo_var_free(v);
}

static const char *const names[] = {
	[DSM_OK] = "ok",
	[DSM_ENOTFOUND] = "no such variable",
	[DSM_ENOTINTEGER] = "value is not an integer",
	[DSM_EOVERFLOW] = "increment or decrement would overflow",
	[DSM_EFULL] = "the file has no room for another variable",
	[DSM_ENAMETOOLONG] = "name too long",
	[DSM_EEMPTYNAME] = "empty name",
	[DSM_EVALUETOOLARGE] = "value too large",
	[DSM_ETOOMANY] = "too many variables in one atomic group",
	[DSM_ECLOSED] = "handle is closed or unknown",
	[DSM_ETIMEOUT] = "timed out",
	[DSM_ENOLANE] = "no free lock lane",
	[DSM_ENOTHELD] = "variable not locked (for writing) by this group",
	[DSM_EREPLICATED] = "the file is replicated: only the node's daemon takes write locks",
	[DSM_ENODAEMON] = "the node's daemon is not running: writes to a replicated file go through it",
	[DSM_EDAEMON] = "the node's daemon refused the request",
	[DSM_EFILE] = "the memory file cannot be opened",
	[DSM_EDAMAGED] = "file is damaged",
	[DSM_EFAULT] = "memory access fault: the file was truncated or replaced",
	[DSM_EBUFFER] = "buffer too small",
	[DSM_EINVAL] = "invalid argument",
	[DSM_EFORKED] = "called in a child forked from the process that loaded libdsm; use fork+exec (multiprocessing: spawn)",
	[DSM_ELIMIT] = "too many open handles in this process",
	[DSM_EOTHER] = "error",
};

const char *dsm_strerror(int code) {
	if (code < 0 || code >= (int)(sizeof names / sizeof names[0]) || names[code] == NULL)
		return "unknown dsm error code";
	return names[code];
}

size_t dsm_errmsg(char *buf, size_t cap) {
	size_t n = strlen(errbuf);
	if (cap > 0) {
		size_t k = n < cap - 1 ? n : cap - 1;
		memcpy(buf, errbuf, k);
		buf[k] = 0;
	}
	return n;
}
