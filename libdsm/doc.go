// Command libdsm is dsm's memory file for C and every language that calls
// C: package shm exported through cgo, built with -buildmode=c-shared
// (libdsm.so) or -buildmode=c-archive (libdsm.a) by libdsm/build, and used
// through the header dsm.h, which documents the API and its caveats (one Go
// runtime per process, no use after fork without exec, signals).
//
// There is no second implementation: every call runs shm's own code, so C
// and Python processes share the file's locks, commit points and recovery
// with Go processes and dsmd, and a replicated file sends their writes to
// the node's daemon as shm does for Go.
//
// # How a call crosses
//
// dsm.c defines the public dsm_ functions. Each first refuses to run in a
// child forked from the process that loaded the library (a pthread_atfork
// handler marks the child) and then calls the Go function of the same name
// prefixed dsmgo_ (export.go, cache.go, locks.go, vars.go). No Go pointer reaches C:
// open files, variable handles and lock groups are numbers in tables
// (table.go), and results are written through the caller's pointers into
// the caller's memory. A call counts itself on its file while it runs, so
// dsm_close waits for the calls in progress (and ends waits and lock
// acquisitions) before it unmaps the file. A memory fault in the mapping
// (the file truncated by another process) is recovered into DSM_EFAULT.
//
// # The gets' name cache
//
// dsm_get and dsm_get_int keep, in dsm.c, a bounded cache from (file,
// name) to a variable handle, and pass the handle they find to Go in the
// same call (cache.go), so that a get by name from C pays the crossing and
// shm's handle get rather than the crossing and shm's lookup of the name.
// Go uses a handle only if it is of that file and name and still current
// (shm.Handle.Current); otherwise the get goes by name and the entry is
// renewed. The cache decides what a get costs, never what it returns.
//
// Error messages go to a thread-local buffer in C (dsm_errmsg): a call from
// C runs on the calling thread from start to end.
package main
