// dsmc: dsm's memory file from C, through libdsm (dsm.h). A small example
// that the tests and scripts/bench use too.
//
//   dsmc FILE get NAME               print NAME's value
//   dsmc FILE set NAME VALUE         store VALUE (an integer if it reads as one)
//   dsmc FILE add NAME DELTA [N]     add DELTA N times (default 1), print each result
//   dsmc FILE wait NAME MS           wait up to MS ms for NAME to change, print its version
//   dsmc FILE lock NAME...           hold write locks on the names until stdin ends
//   dsmc FILE bench get|var|limits N time N gets of "bench" by name or through a
//                                    handle, or N calls of dsm_get_limits (a call
//                                    into Go that reads no variable); print
//                                    nanoseconds of CPU time per call
//
// Build (libdsm/build --examples does this):
//   cc -I DIR -o dsmc dsmc.c -L DIR -ldsm -Wl,-rpath,DIR    (DIR: libdsm/build)
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsm.h"

// die prints the failed call's message and exits 1.
static void die(const char *what, int rc) {
	char msg[512];
	dsm_errmsg(msg, sizeof msg);
	fprintf(stderr, "dsmc: %s: %s (%s)\n", what, dsm_strerror(rc), msg);
	exit(1);
}

// now_ns is the CPU time this process has used: a benchmark on a shared
// machine then counts only the time it ran.
static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int bench(dsm_t m, const char *how, long n) {
	int rc = dsm_set_int(m, "bench", 5, 1, NULL);
	if (rc != DSM_OK)
		die("set", rc);
	int64_t v;
	double start;
	if (strcmp(how, "limits") == 0) {
		dsm_limits l;
		start = now_ns();
		for (long i = 0; i < n; i++)
			if ((rc = dsm_get_limits(m, &l)) != DSM_OK)
				die("limits", rc);
	} else if (strcmp(how, "var") == 0) {
		dsm_var_t h;
		if ((rc = dsm_var(m, "bench", 5, 0, &h)) != DSM_OK)
			die("var", rc);
		start = now_ns();
		for (long i = 0; i < n; i++)
			if ((rc = dsm_var_get_int(h, &v, NULL)) != DSM_OK)
				die("get", rc);
	} else {
		start = now_ns();
		for (long i = 0; i < n; i++)
			if ((rc = dsm_get_int(m, "bench", 5, &v, NULL)) != DSM_OK)
				die("get", rc);
	}
	printf("%.1f\n", (now_ns() - start) / n);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: dsmc FILE get|set|add|wait|lock|bench ...\n");
		return 2;
	}
	const char *cmd = argv[2], *name = argv[3];
	dsm_t m;
	int rc = dsm_open(argv[1], NULL, &m);
	if (rc != DSM_OK)
		die("open", rc);
	if (strcmp(cmd, "get") == 0) {
		char buf[4096];
		size_t len;
		if ((rc = dsm_get(m, name, strlen(name), buf, sizeof buf, &len, NULL)) != DSM_OK)
			die("get", rc);
		printf("%.*s\n", (int)len, buf);
	} else if (strcmp(cmd, "set") == 0 && argc == 5) {
		if ((rc = dsm_set(m, name, strlen(name), argv[4], strlen(argv[4]), NULL)) != DSM_OK)
			die("set", rc);
		printf("OK\n");
	} else if (strcmp(cmd, "add") == 0 && argc >= 5) {
		long n = argc > 5 ? atol(argv[5]) : 1;
		for (long i = 0; i < n; i++) {
			int64_t r;
			if ((rc = dsm_add(m, name, strlen(name), atoll(argv[4]), &r, NULL)) != DSM_OK)
				die("add", rc);
			// One line per acknowledged add, written at once: a process
			// killed after it has said so much.
			printf("%lld\n", (long long)r);
			fflush(stdout);
		}
	} else if (strcmp(cmd, "wait") == 0 && argc == 5) {
		char buf[4096];
		uint64_t ver, got;
		if ((rc = dsm_get(m, name, strlen(name), buf, sizeof buf, NULL, &ver)) != DSM_OK)
			die("get", rc);
		if ((rc = dsm_wait(m, name, strlen(name), ver, atoll(argv[4]), &got)) != DSM_OK)
			die("wait", rc);
		printf("%llu\n", (unsigned long long)got);
	} else if (strcmp(cmd, "lock") == 0) {
		int n = argc - 3;
		dsm_bytes *names = calloc(n, sizeof *names);
		for (int i = 0; i < n; i++)
			names[i] = (dsm_bytes){argv[3 + i], strlen(argv[3 + i])};
		dsm_lock_t g;
		if ((rc = dsm_lock(m, n, names, 0, 10000, &g)) != DSM_OK)
			die("lock", rc);
		printf("locked\n");
		fflush(stdout);
		while (getchar() != EOF) {
		}
		dsm_unlock(g);
		free(names);
	} else if (strcmp(cmd, "bench") == 0 && argc == 5) {
		bench(m, name, atol(argv[4]));
	} else {
		fprintf(stderr, "dsmc: unknown command or wrong arguments: %s\n", cmd);
		return 2;
	}
	if ((rc = dsm_close(m)) != DSM_OK)
		die("close", rc);
	return 0;
}
