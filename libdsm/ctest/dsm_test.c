// dsm_test checks every function of dsm.h from C, linked against
// libdsm.a. Usage: dsm_test DIR (an empty directory for its files). It
// prints one line per check group and exits 0 if all passed; the Go test
// TestC (libdsm/libdsm_test.go) runs it. "dsm_test reader FILE MS" is the
// reader of TestCCacheAcrossProcesses (see reader_main).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"

static int failures;

#define CHECK(cond)                                                                \
	do {                                                                           \
		if (!(cond)) {                                                             \
			char msg_[512];                                                        \
			dsm_errmsg(msg_, sizeof msg_);                                         \
			fprintf(stderr, "%s:%d: failed: %s (last error: %s)\n", __FILE__, __LINE__, \
				#cond, msg_);                                                      \
			failures++;                                                            \
		}                                                                          \
	} while (0)

#define EQ(call, want)                                                             \
	do {                                                                           \
		int got_ = (call);                                                         \
		if (got_ != (want)) {                                                      \
			char msg_[512];                                                        \
			dsm_errmsg(msg_, sizeof msg_);                                         \
			fprintf(stderr, "%s:%d: %s = %d (%s), want %d (%s); message: %s\n", __FILE__, \
				__LINE__, #call, got_, dsm_strerror(got_), (want), dsm_strerror(want), msg_); \
			failures++;                                                            \
		}                                                                          \
	} while (0)

#define S(str) str, strlen(str)

static char path[4096];

static void check_values(dsm_t m) {
	int64_t i;
	uint64_t v1, v2;
	char buf[64];
	size_t len;

	EQ(dsm_set_int(m, S("n"), 41, &v1), DSM_OK);
	EQ(dsm_get_int(m, S("n"), &i, &v2), DSM_OK);
	CHECK(i == 41 && v1 == v2 && v1 > 0);
	EQ(dsm_add(m, S("n"), 1, &i, &v2), DSM_OK);
	CHECK(i == 42 && v2 == v1 + 1);
	EQ(dsm_get(m, S("n"), buf, sizeof buf, &len, NULL), DSM_OK);
	CHECK(len == 2 && memcmp(buf, "42", 2) == 0);

	// Bytes, and Redis' integer rule.
	EQ(dsm_set(m, S("s"), S("hello"), NULL), DSM_OK);
	EQ(dsm_get(m, S("s"), buf, sizeof buf, &len, NULL), DSM_OK);
	CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
	EQ(dsm_get_int(m, S("s"), &i, NULL), DSM_ENOTINTEGER);
	EQ(dsm_add(m, S("s"), 1, NULL, NULL), DSM_ENOTINTEGER);
	EQ(dsm_set(m, S("t"), S("-7"), NULL), DSM_OK);
	EQ(dsm_get_int(m, S("t"), &i, NULL), DSM_OK);
	CHECK(i == -7);
	EQ(dsm_set(m, S("z"), S("007"), NULL), DSM_OK);
	EQ(dsm_get_int(m, S("z"), &i, NULL), DSM_ENOTINTEGER);
	// Binary bytes, NUL included.
	EQ(dsm_set(m, S("bin"), "a\0b", 3, NULL), DSM_OK);
	EQ(dsm_get(m, S("bin"), buf, sizeof buf, &len, NULL), DSM_OK);
	CHECK(len == 3 && memcmp(buf, "a\0b", 3) == 0);

	// A buffer too small says how much is needed and copies nothing.
	memset(buf, 'x', sizeof buf);
	EQ(dsm_get(m, S("s"), buf, 3, &len, NULL), DSM_EBUFFER);
	CHECK(len == 5 && buf[0] == 'x');

	// Overflow leaves the value.
	EQ(dsm_set_int(m, S("big"), INT64_MAX, NULL), DSM_OK);
	EQ(dsm_add(m, S("big"), 1, NULL, NULL), DSM_EOVERFLOW);
	EQ(dsm_get_int(m, S("big"), &i, NULL), DSM_OK);
	CHECK(i == INT64_MAX);
	char msg[256];
	dsm_errmsg(msg, sizeof msg);
	CHECK(strstr(msg, "big") != NULL);

	// Compare-and-swap on the value and on the version.
	int swapped;
	EQ(dsm_cas(m, S("n"), S("41"), S("50"), &swapped, NULL), DSM_OK);
	CHECK(swapped == 0);
	EQ(dsm_cas(m, S("n"), S("42"), S("50"), &swapped, &v1), DSM_OK);
	CHECK(swapped == 1);
	EQ(dsm_cas_version(m, S("n"), v1 - 1, S("60"), &swapped, NULL), DSM_OK);
	CHECK(swapped == 0);
	EQ(dsm_cas_version(m, S("n"), v1, S("60"), &swapped, &v2), DSM_OK);
	CHECK(swapped == 1 && v2 == v1 + 1);
	EQ(dsm_get_int(m, S("n"), &i, NULL), DSM_OK);
	CHECK(i == 60);
	EQ(dsm_cas(m, S("missing"), S("1"), S("2"), &swapped, NULL), DSM_ENOTFOUND);

	// Delete.
	int deleted;
	EQ(dsm_delete(m, S("t"), &deleted), DSM_OK);
	CHECK(deleted == 1);
	EQ(dsm_delete(m, S("t"), &deleted), DSM_OK);
	CHECK(deleted == 0);
	EQ(dsm_get_int(m, S("t"), &i, NULL), DSM_ENOTFOUND);
	dsm_errmsg(msg, sizeof msg);
	CHECK(strstr(msg, "no such variable") != NULL);

	// Bad input: clear errors, nothing else.
	char longname[200];
	memset(longname, 'a', sizeof longname);
	EQ(dsm_set_int(m, longname, sizeof longname, 1, NULL), DSM_ENAMETOOLONG);
	EQ(dsm_set_int(m, "", 0, 1, NULL), DSM_EEMPTYNAME);
	char longval[100];
	memset(longval, 'v', sizeof longval);
	EQ(dsm_set(m, S("s"), longval, sizeof longval, NULL), DSM_EVALUETOOLARGE);
	EQ(dsm_set(m, NULL, 3, S("x"), NULL), DSM_EINVAL);
	EQ(dsm_get_limits(m, NULL), DSM_EINVAL);
	printf("ok values\n");
}

static int count_fn(const void *name, size_t len, uint64_t version, void *arg) {
	(void)name, (void)len;
	CHECK(version > 0);
	(*(int *)arg)++;
	return 0;
}

static int stop_fn(const void *name, size_t len, uint64_t version, void *arg) {
	(void)name, (void)len, (void)version, (void)arg;
	return 1;
}

static void check_groups(dsm_t m) {
	dsm_bytes names[3] = {{S("g1")}, {S("g2")}, {S("g3")}};
	dsm_bytes vals[3] = {{S("1")}, {S("two")}, {S("3")}};
	EQ(dsm_mset(m, 3, names, vals), DSM_OK);
	char b[3][8];
	dsm_item items[4] = {{b[0], 8, 0, 0, 0}, {b[1], 8, 0, 0, 0}, {b[2], 8, 0, 0, 0}, {NULL, 0, 0, 0, 0}};
	dsm_bytes four[4] = {{S("g1")}, {S("g2")}, {S("g3")}, {S("g4")}};
	EQ(dsm_mget(m, 4, four, items), DSM_OK);
	CHECK(items[0].found && items[0].len == 1 && b[0][0] == '1');
	CHECK(items[1].found && items[1].len == 3 && memcmp(b[1], "two", 3) == 0);
	CHECK(items[2].found && items[2].version > 0);
	CHECK(!items[3].found && items[3].len == 0);
	items[1].cap = 2;
	EQ(dsm_mget(m, 3, four, items), DSM_EBUFFER);
	CHECK(items[1].len == 3);

	// All or nothing: a value too long changes none.
	char longval[100];
	memset(longval, 'v', sizeof longval);
	dsm_bytes bad[2] = {{S("9")}, {longval, sizeof longval}};
	EQ(dsm_mset(m, 2, names, bad), DSM_EVALUETOOLARGE);
	int64_t i;
	EQ(dsm_get_int(m, S("g1"), &i, NULL), DSM_OK);
	CHECK(i == 1);

	// Scan: every variable once; in batches of one; a callback that stops.
	int all = 0, batched = 0, stopped = 0;
	uint64_t next;
	EQ(dsm_scan(m, 0, 0, count_fn, &all, &next), DSM_OK);
	CHECK(next == 0 && all >= 3);
	uint64_t cur = 0;
	int rounds = 0;
	do {
		EQ(dsm_scan(m, cur, 1, count_fn, &batched, &cur), DSM_OK);
		rounds++;
	} while (cur != 0 && rounds < 1000);
	CHECK(batched == all);
	EQ(dsm_scan(m, 0, 0, stop_fn, &stopped, &next), DSM_OK);
	EQ(dsm_scan(m, 0, 0, NULL, NULL, &next), DSM_EINVAL);
	printf("ok mget mset scan\n");
}

struct waiter {
	dsm_t m;
	uint64_t after, got;
	int64_t timeout;
	int rc;
};

static void *wait_thread(void *p) {
	struct waiter *w = p;
	w->rc = dsm_wait(w->m, S("w"), w->after, w->timeout, &w->got);
	return NULL;
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void check_wait(dsm_t m) {
	uint64_t v, got;
	EQ(dsm_set_int(m, S("w"), 1, &v), DSM_OK);
	EQ(dsm_wait(m, S("w"), v, 0, &got), DSM_ETIMEOUT);
	EQ(dsm_wait(m, S("w"), v - 1, 0, &got), DSM_OK);
	CHECK(got == v);
	EQ(dsm_wait(m, S("nowhere"), 0, 0, &got), DSM_ENOTFOUND);
	struct waiter w = {m, v, 0, 10000, -1};
	pthread_t t;
	pthread_create(&t, NULL, wait_thread, &w);
	sleep_ms(50);
	uint64_t v2;
	EQ(dsm_set_int(m, S("w"), 2, &v2), DSM_OK);
	pthread_join(t, NULL);
	EQ(w.rc, DSM_OK);
	CHECK(w.got == v2);
	printf("ok wait\n");
}

struct locker {
	dsm_t m;
	int flags;
	int64_t timeout;
	int rc;
};

static void *lock_thread(void *p) {
	struct locker *l = p;
	dsm_bytes names[1] = {{S("la")}};
	dsm_lock_t g;
	l->rc = dsm_lock(l->m, 1, names, l->flags, l->timeout, &g);
	if (l->rc == DSM_OK)
		dsm_unlock(g);
	return NULL;
}

static void check_locks(dsm_t m) {
	dsm_bytes names[2] = {{S("lb")}, {S("la")}};
	dsm_lock_t g;
	EQ(dsm_lock(m, 2, names, 0, 1000, &g), DSM_OK);
	int64_t r;
	EQ(dsm_lock_add(g, S("la"), 5, &r), DSM_OK);
	CHECK(r == 5);
	EQ(dsm_lock_set(g, S("lb"), S("x")), DSM_OK);
	char buf[16];
	size_t len;
	EQ(dsm_lock_get(g, S("lb"), buf, sizeof buf, &len, NULL), DSM_OK);
	CHECK(len == 1 && buf[0] == 'x');
	EQ(dsm_lock_get_int(g, S("la"), &r, NULL), DSM_OK);
	CHECK(r == 5);
	EQ(dsm_lock_add(g, S("other"), 1, &r), DSM_ENOTHELD);
	// Another thread (another group) cannot take it while it is held...
	struct locker l = {m, 0, 100, -1};
	pthread_t t;
	pthread_create(&t, NULL, lock_thread, &l);
	pthread_join(t, NULL);
	EQ(l.rc, DSM_ETIMEOUT);
	int deleted;
	EQ(dsm_lock_delete(g, S("lb"), &deleted), DSM_OK);
	CHECK(deleted == 1);
	EQ(dsm_unlock(g), DSM_OK);
	EQ(dsm_unlock(g), DSM_ECLOSED);
	EQ(dsm_lock_add(g, S("la"), 1, NULL), DSM_ECLOSED);
	// ...and can once it is released; the group's writes are there.
	int64_t i;
	EQ(dsm_get_int(m, S("la"), &i, NULL), DSM_OK);
	CHECK(i == 5);
	EQ(dsm_get_int(m, S("lb"), &i, NULL), DSM_ENOTFOUND);
	l.rc = -1;
	pthread_create(&t, NULL, lock_thread, &l);
	pthread_join(t, NULL);
	EQ(l.rc, DSM_OK);
	// A read group shares, and refuses writes.
	EQ(dsm_lock(m, 1, names + 1, DSM_READ, 1000, &g), DSM_OK);
	EQ(dsm_lock_add(g, S("la"), 1, NULL), DSM_ENOTHELD);
	struct locker rl = {m, DSM_READ, 100, -1};
	pthread_create(&t, NULL, lock_thread, &rl);
	pthread_join(t, NULL);
	EQ(rl.rc, DSM_OK);
	EQ(dsm_unlock(g), DSM_OK);
	printf("ok locks\n");
}

static void check_vars(dsm_t m) {
	dsm_var_t v;
	EQ(dsm_var(m, S("hv"), 0, &v), DSM_ENOTFOUND);
	EQ(dsm_var(m, S("hv"), 1, &v), DSM_OK);
	int64_t i;
	uint64_t ver;
	EQ(dsm_var_get_int(v, &i, NULL), DSM_ENOTFOUND);
	EQ(dsm_var_set_int(v, 10, &ver), DSM_OK);
	EQ(dsm_var_add(v, 5, &i, NULL), DSM_OK);
	CHECK(i == 15);
	EQ(dsm_get_int(m, S("hv"), &i, NULL), DSM_OK);
	CHECK(i == 15);
	char buf[8];
	size_t len;
	EQ(dsm_var_get(v, buf, sizeof buf, &len, NULL), DSM_OK);
	CHECK(len == 2 && memcmp(buf, "15", 2) == 0);
	// Deleted and set again by name: the handle finds it again.
	EQ(dsm_delete(m, S("hv"), NULL), DSM_OK);
	EQ(dsm_var_get_int(v, &i, NULL), DSM_ENOTFOUND);
	EQ(dsm_set_int(m, S("hv"), 3, NULL), DSM_OK);
	EQ(dsm_var_get_int(v, &i, NULL), DSM_OK);
	CHECK(i == 3);
	EQ(dsm_var_free(v), DSM_OK);
	EQ(dsm_var_free(v), DSM_ECLOSED);
	EQ(dsm_var_get_int(v, &i, NULL), DSM_ECLOSED);
	printf("ok variable handles\n");
}

enum { THREADS = 8, ADDS = 20000 };

static void *add_thread(void *p) {
	dsm_t m = *(dsm_t *)p;
	dsm_var_t v;
	if (dsm_var(m, S("hammer"), 1, &v) != DSM_OK)
		return (void *)1;
	for (int i = 0; i < ADDS; i++) {
		// Half by name, half through the handle.
		int rc = i % 2 ? dsm_add(m, S("hammer"), 1, NULL, NULL) : dsm_var_add(v, 1, NULL, NULL);
		if (rc != DSM_OK)
			return (void *)1;
	}
	dsm_var_free(v);
	return NULL;
}

static void check_threads(dsm_t m) {
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, add_thread, &m);
	int bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	CHECK(bad == 0);
	int64_t i;
	EQ(dsm_get_int(m, S("hammer"), &i, NULL), DSM_OK);
	CHECK(i == THREADS * ADDS);
	printf("ok threads\n");
}

// check_fork: a forked child gets DSM_EFORKED at once from every call,
// without entering Go (where it could hang); the parent goes on.
static void check_fork(dsm_t m) {
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10); // a hang fails the check rather than the test run
		int64_t i;
		int rc1 = dsm_get_int(m, S("n"), &i, NULL);
		dsm_t other;
		int rc2 = dsm_open(path, NULL, &other);
		char msg[512];
		dsm_errmsg(msg, sizeof msg);
		_exit(rc1 == DSM_EFORKED && rc2 == DSM_EFORKED && strstr(msg, "spawn") != NULL ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int64_t i;
	EQ(dsm_get_int(m, S("n"), &i, NULL), DSM_OK);
	printf("ok fork\n");
}

static void *close_wait_thread(void *p) {
	struct waiter *w = p;
	w->rc = dsm_wait(w->m, S("w"), w->after, -1, &w->got);
	return NULL;
}

static void check_close(dsm_t m) {
	uint64_t v;
	EQ(dsm_get_int(m, S("w"), NULL, &v), DSM_OK);
	struct waiter w = {m, v, 0, -1, -1};
	pthread_t t;
	pthread_create(&t, NULL, close_wait_thread, &w);
	dsm_bytes names[1] = {{S("held")}};
	dsm_lock_t g;
	EQ(dsm_lock(m, 1, names, 0, 1000, &g), DSM_OK);
	sleep_ms(50);
	EQ(dsm_close(m), DSM_OK); // ends the wait, releases the group
	pthread_join(t, NULL);
	EQ(w.rc, DSM_ECLOSED);
	EQ(dsm_close(m), DSM_ECLOSED);
	EQ(dsm_get_int(m, S("n"), NULL, NULL), DSM_ECLOSED);
	EQ(dsm_lock_get_int(g, S("held"), NULL, NULL), DSM_ECLOSED);
	EQ(dsm_unlock(g), DSM_ECLOSED);
	// The group's lock was released: another open takes it at once.
	dsm_t m2;
	EQ(dsm_open(path, NULL, &m2), DSM_OK);
	EQ(dsm_lock(m2, 1, names, 0, 0, &g), DSM_OK);
	EQ(dsm_unlock(g), DSM_OK);
	EQ(dsm_close(m2), DSM_OK);
	printf("ok close\n");
}

static void *close_race_thread(void *p) {
	dsm_t m = *(dsm_t *)p;
	dsm_bytes names[2] = {{S("r1")}, {S("r2")}};
	for (;;) {
		dsm_lock_t g;
		int rc = dsm_lock(m, 2, names, 0, 100, &g);
		if (rc == DSM_OK) {
			dsm_lock_add(g, S("r1"), 1, NULL);
			dsm_unlock(g);
		} else if (rc == DSM_ECLOSED) {
			break;
		} else if (rc != DSM_ETIMEOUT) {
			return (void *)1;
		}
		rc = dsm_add(m, S("r2"), 1, NULL, NULL);
		if (rc == DSM_ECLOSED)
			break;
		if (rc != DSM_OK)
			return (void *)1;
	}
	return NULL;
}

// check_close_race: dsm_close while threads take and release locks and
// write: every call completes or fails with DSM_ECLOSED, nothing crashes,
// and no lock stays held.
static void check_close_race(void) {
	dsm_t m;
	EQ(dsm_open(path, NULL, &m), DSM_OK);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, close_race_thread, &m);
	sleep_ms(100);
	EQ(dsm_close(m), DSM_OK);
	int bad = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	CHECK(bad == 0);
	EQ(dsm_open(path, NULL, &m), DSM_OK);
	dsm_bytes names[2] = {{S("r1")}, {S("r2")}};
	dsm_lock_t g;
	EQ(dsm_lock(m, 2, names, 0, 0, &g), DSM_OK);
	EQ(dsm_unlock(g), DSM_OK);
	EQ(dsm_close(m), DSM_OK);
	printf("ok close under use\n");
}

// The name cache of the gets by name (dsm.c): a get must return its own
// name's value whatever the cache holds.

// get_both reads name with dsm_get_int and dsm_get, which must agree; it
// returns the code and sets *i.
static int get_both(dsm_t m, const char *name, size_t len, int64_t *i) {
	int rc = dsm_get_int(m, name, len, i, NULL);
	char buf[32];
	size_t n;
	int rc2 = dsm_get(m, name, len, buf, sizeof buf - 1, &n, NULL);
	if (rc2 != rc)
		return -1;
	if (rc == DSM_OK) {
		buf[n] = 0;
		if (strtoll(buf, NULL, 10) != *i)
			return -1;
	}
	return rc;
}

// check_cache_names: names of every length up to past the cache's longest
// (64 bytes), and names that differ from each other in one byte only (the
// first, a middle one, the last), each read many times, read their own
// values; so do more names than the cache has entries, and churning them
// does not use up the process' handles.
static void check_cache_names(const char *dir) {
	char p[4096];
	snprintf(p, sizeof p, "%s/names.mem", dir);
	dsm_options o = {.vars = 2048, .name_max = 80, .value_max = 8};
	dsm_t m;
	EQ(dsm_open(p, &o, &m), DSM_OK);
	enum { LONGEST = 72, VARIANTS = 4 };
	char names[LONGEST + 1][VARIANTS][LONGEST];
	int64_t want = 0;
	for (int len = 1; len <= LONGEST; len++) {
		for (int k = 0; k < VARIANTS; k++) {
			memset(names[len][k], 'n', len);
			int at = k == 0 ? 0 : k == 1 ? len / 2 : len - 1;
			if (k > 0)
				names[len][k][at] = (char)('a' + k);
			if (k == 3 && len > 1)
				names[len][k][0] = 0; // a NUL inside
			EQ(dsm_set_int(m, names[len][k], len, len * 100 + k, NULL), DSM_OK);
		}
	}
	int bad = 0;
	for (int round = 0; round < 4; round++) {
		for (int len = 1; len <= LONGEST; len++) {
			for (int k = 0; k < VARIANTS; k++) {
				want = len * 100 + k;
				int64_t i = -1;
				int rc = get_both(m, names[len][k], len, &i);
				if (rc != DSM_OK || i != want) {
					if (bad++ < 5)
						fprintf(stderr, "name of %d bytes, variant %d: rc %d, value %lld, want %lld\n", len, k, rc,
							(long long)i, (long long)want);
				}
			}
		}
	}
	CHECK(bad == 0);
	// More names than entries, each read twice in a row (which admits it),
	// over and over: every displaced handle must be freed, or the 65,536
	// handles of the process run out.
	char name[16];
	bad = 0;
	for (int round = 0; round < 80; round++) {
		for (int j = 0; j < 1000; j++) {
			int len = snprintf(name, sizeof name, "c%d", j);
			if (round == 0)
				EQ(dsm_set_int(m, name, len, j, NULL), DSM_OK);
			for (int twice = 0; twice < 2; twice++) {
				int64_t i = -1;
				if (dsm_get_int(m, name, len, &i, NULL) != DSM_OK || i != j)
					bad++;
			}
		}
	}
	CHECK(bad == 0);
	dsm_var_t v;
	EQ(dsm_var(m, S("c1"), 0, &v), DSM_OK);
	EQ(dsm_var_free(v), DSM_OK);
	// Missing names, an empty one and a NULL one get their errors.
	int64_t i;
	EQ(dsm_get_int(m, S("missing"), &i, NULL), DSM_ENOTFOUND);
	EQ(dsm_get_int(m, S("missing"), &i, NULL), DSM_ENOTFOUND);
	EQ(dsm_get_int(m, "", 0, &i, NULL), DSM_EEMPTYNAME);
	EQ(dsm_get_int(m, NULL, 3, &i, NULL), DSM_EINVAL);
	EQ(dsm_close(m), DSM_OK);
	EQ(dsm_get_int(m, names[5][0], 5, &i, NULL), DSM_ECLOSED);
	// The same names on the file opened again (a new dsm_t).
	EQ(dsm_open(p, &o, &m), DSM_OK);
	for (int twice = 0; twice < 3; twice++) {
		EQ(dsm_get_int(m, names[5][1], 5, &i, NULL), DSM_OK);
		CHECK(i == 501);
	}
	EQ(dsm_close(m), DSM_OK);
	printf("ok name cache: names\n");
}

// fill_but_one makes the file at p (of CACHE_VARS variables) hold "a" and
// fillers in every other slot, so that a name set after a delete must take
// the slot the delete freed.
enum { CACHE_VARS = 16 };

static dsm_t fill_but_one(const char *p) {
	dsm_options o = {.vars = CACHE_VARS};
	dsm_t m;
	EQ(dsm_open(p, &o, &m), DSM_OK);
	char name[16];
	for (int j = 0; j < CACHE_VARS - 1; j++) {
		int len = snprintf(name, sizeof name, "fill%d", j);
		EQ(dsm_set_int(m, name, len, -1, NULL), DSM_OK);
	}
	EQ(dsm_set_int(m, S("a"), 0, NULL), DSM_OK);
	EQ(dsm_set_int(m, S("full"), 0, NULL), DSM_EFULL);
	return m;
}

struct flipper {
	dsm_t m;
	volatile int stop;
	long reads_a, reads_b, bad;
};

// get_one reads name with dsm_get_int, or with dsm_get when text is set.
static int get_one(dsm_t m, const char *name, size_t len, int text, int64_t *i) {
	if (!text)
		return dsm_get_int(m, name, len, i, NULL);
	char buf[32];
	size_t n;
	int rc = dsm_get(m, name, len, buf, sizeof buf - 1, &n, NULL);
	if (rc == DSM_OK) {
		buf[n] = 0;
		*i = strtoll(buf, NULL, 10);
	}
	return rc;
}

// read_ab reads "a" and "b" until stopped, with both gets in turn: a's
// values are even, b's odd (flip writes them), and either may be
// missing; anything else is the other variable's value, or an error, and
// counts as bad.
static void *read_ab(void *arg) {
	struct flipper *f = arg;
	for (int text = 0; !f->stop; text = !text) {
		int64_t i;
		int rc = get_one(f->m, S("a"), text, &i);
		if (rc == DSM_OK && i % 2 == 0)
			__atomic_add_fetch(&f->reads_a, 1, __ATOMIC_RELAXED);
		else if (rc != DSM_ENOTFOUND)
			__atomic_add_fetch(&f->bad, 1, __ATOMIC_RELAXED);
		rc = get_one(f->m, S("b"), text, &i);
		if (rc == DSM_OK && i % 2 == 1)
			__atomic_add_fetch(&f->reads_b, 1, __ATOMIC_RELAXED);
		else if (rc != DSM_ENOTFOUND)
			__atomic_add_fetch(&f->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

// flip deletes "a" and sets "b" in its slot, then the other way round, n
// times, on m.
static int flip(dsm_t m, long n) {
	for (long k = 1; k <= n; k++) {
		if (dsm_delete(m, S("a"), NULL) != DSM_OK || dsm_set_int(m, S("b"), 2 * k + 1, NULL) != DSM_OK ||
			dsm_delete(m, S("b"), NULL) != DSM_OK || dsm_set_int(m, S("a"), 2 * k, NULL) != DSM_OK)
			return 0;
	}
	return 1;
}

// check_cache_reuse: "a" deleted and its slot taken by "b", then back, by
// this thread while others read both names through the cache: no read
// returns the other's value.
static void check_cache_reuse(const char *dir) {
	char p[4096];
	snprintf(p, sizeof p, "%s/reuse.mem", dir);
	dsm_t m = fill_but_one(p);
	int64_t i;
	for (int k = 0; k < 3; k++) // cached now
		EQ(dsm_get_int(m, S("a"), &i, NULL), DSM_OK);
	EQ(dsm_delete(m, S("a"), NULL), DSM_OK);
	EQ(dsm_set_int(m, S("b"), 7, NULL), DSM_OK); // in a's slot: the only free one
	EQ(dsm_get_int(m, S("a"), &i, NULL), DSM_ENOTFOUND);
	EQ(dsm_get_int(m, S("b"), &i, NULL), DSM_OK);
	CHECK(i == 7);
	EQ(dsm_delete(m, S("b"), NULL), DSM_OK);
	EQ(dsm_set_int(m, S("a"), 8, NULL), DSM_OK);
	EQ(dsm_get_int(m, S("a"), &i, NULL), DSM_OK);
	CHECK(i == 8);
	EQ(dsm_get_int(m, S("b"), &i, NULL), DSM_ENOTFOUND);

	struct flipper f = {.m = m};
	pthread_t t[3];
	for (int k = 0; k < 3; k++)
		pthread_create(&t[k], NULL, read_ab, &f);
	CHECK(flip(m, 20000));
	// A reader starved on a loaded machine may not have caught both names
	// yet: flip on slowly, each name held for a millisecond, until it has
	// (for at most some 10 s).
	for (int k = 0; k < 5000; k++) {
		if (__atomic_load_n(&f.reads_a, __ATOMIC_RELAXED) > 0 && __atomic_load_n(&f.reads_b, __ATOMIC_RELAXED) > 0)
			break;
		EQ(dsm_delete(m, S("a"), NULL), DSM_OK);
		EQ(dsm_set_int(m, S("b"), 1, NULL), DSM_OK);
		sleep_ms(1);
		EQ(dsm_delete(m, S("b"), NULL), DSM_OK);
		EQ(dsm_set_int(m, S("a"), 0, NULL), DSM_OK);
	}
	f.stop = 1;
	for (int k = 0; k < 3; k++)
		pthread_join(t[k], NULL);
	CHECK(f.bad == 0 && f.reads_a > 0 && f.reads_b > 0);
	EQ(dsm_close(m), DSM_OK);
	printf("ok name cache: slot reuse (%ld reads of a, %ld of b)\n", f.reads_a, f.reads_b);
}

// reader_main is "dsm_test reader FILE MS": read "a" and "b" as read_ab
// does, in two threads, for MS milliseconds while another process flips
// them, and print "reads A B BAD". It exits 1 if a read was bad.
static int reader_main(const char *p, int ms) {
	dsm_t m;
	int rc = dsm_open(p, NULL, &m);
	if (rc != DSM_OK) {
		fprintf(stderr, "open: %s\n", dsm_strerror(rc));
		return 2;
	}
	struct flipper f = {.m = m};
	pthread_t t[2];
	for (int k = 0; k < 2; k++)
		pthread_create(&t[k], NULL, read_ab, &f);
	sleep_ms(ms);
	f.stop = 1;
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	dsm_close(m);
	printf("reads %ld %ld %ld\n", f.reads_a, f.reads_b, f.bad);
	return f.bad != 0;
}

// check_fault: a file truncated under the mapping makes a call fail with
// DSM_EFAULT (Go's fault recovered into an error), not kill the process.
static void check_fault(const char *dir) {
	char p[4096];
	snprintf(p, sizeof p, "%s/fault.mem", dir);
	dsm_options o = {.vars = 64};
	dsm_t m;
	EQ(dsm_open(p, &o, &m), DSM_OK);
	EQ(dsm_set_int(m, S("x"), 1, NULL), DSM_OK);
	CHECK(truncate(p, 4096) == 0);
	int64_t i;
	EQ(dsm_get_int(m, S("x"), &i, NULL), DSM_EFAULT);
	char msg[512];
	dsm_errmsg(msg, sizeof msg);
	CHECK(strstr(msg, "fault") != NULL);
	EQ(dsm_close(m), DSM_EFAULT); // it touches the lost pages too, and must not crash
	printf("ok fault\n");
}

static void check_open_errors(const char *dir) {
	dsm_t m;
	char p[4096];
	snprintf(p, sizeof p, "%s/no/such/dir/f.mem", dir);
	EQ(dsm_open(p, NULL, &m), DSM_EFILE);
	snprintf(p, sizeof p, "%s/notdsm", dir);
	FILE *f = fopen(p, "w");
	for (int i = 0; i < 20000; i++)
		fputc('x', f);
	fclose(f);
	EQ(dsm_open(p, NULL, &m), DSM_EFILE);
	char msg[512];
	dsm_errmsg(msg, sizeof msg);
	CHECK(strstr(msg, "not a dsm memory file") != NULL);
	dsm_options bad = {.vars = -1};
	snprintf(p, sizeof p, "%s/bad.mem", dir);
	EQ(dsm_open(p, &bad, &m), DSM_EINVAL);
	EQ(dsm_open(NULL, NULL, &m), DSM_EINVAL);
	for (int c = 0; c <= DSM_EOTHER; c++)
		CHECK(dsm_strerror(c) != NULL && strcmp(dsm_strerror(c), "unknown dsm error code") != 0);
	CHECK(strcmp(dsm_strerror(999), "unknown dsm error code") == 0);
	printf("ok open errors\n");
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "reader") == 0)
		return reader_main(argv[2], atoi(argv[3]));
	if (argc != 2) {
		fprintf(stderr, "usage: dsm_test DIR | dsm_test reader FILE MS\n");
		return 2;
	}
	snprintf(path, sizeof path, "%s/c.mem", argv[1]);
	dsm_options o = {.vars = 64, .name_max = 24, .value_max = 32};
	dsm_t m;
	EQ(dsm_open(path, &o, &m), DSM_OK);
	dsm_limits l;
	EQ(dsm_get_limits(m, &l), DSM_OK);
	CHECK(l.vars == 64 && l.name_max == 24 && l.value_max == 32 && l.file_size > 0);
	check_values(m);
	check_groups(m);
	check_wait(m);
	check_locks(m);
	check_vars(m);
	check_threads(m);
	check_fork(m);
	check_close(m);
	check_close_race();
	check_cache_names(argv[1]);
	check_cache_reuse(argv[1]);
	check_fault(argv[1]);
	check_open_errors(argv[1]);
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
