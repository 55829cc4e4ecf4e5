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

int dsm_open(const char *path, const dsm_options *opts, dsm_t *out) {
	GUARD();
	return dsmgo_open((char *)path, (dsm_options *)opts, out);
}

int dsm_close(dsm_t m) {
	GUARD();
	return dsmgo_close(m);
}

int dsm_get_limits(dsm_t m, dsm_limits *out) {
	GUARD();
	return dsmgo_get_limits(m, out);
}

int dsm_get(dsm_t m, const void *name, size_t name_len, void *buf, size_t cap, size_t *len, uint64_t *version) {
	GUARD();
	return dsmgo_get(m, (void *)name, name_len, buf, cap, len, version);
}

int dsm_get_int(dsm_t m, const void *name, size_t name_len, int64_t *value, uint64_t *version) {
	GUARD();
	return dsmgo_get_int(m, (void *)name, name_len, value, version);
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
