//go:build !linux

package main

import (
	"context"
	"io"
	"runtime"
)

// Local mode maps the memory file into this process through shm, which is
// built on Linux's futexes and open file description locks. On other
// systems dsm is a remote client only; these stand in for local mode and
// say so.

// errNeedsLinux is the answer of every local-mode command here.
var errNeedsLinux = &usageError{msg: "-file (local mode) maps the memory file and needs Linux; on " +
	runtime.GOOS + ", reach the daemon with -addr HOST:PORT instead"}

func openLocal(string, bool) (store, error) { return nil, errNeedsLinux }

func lockLocal(context.Context, store, lockSpec) (heldStore, error) { return nil, errNeedsLinux }

func watchLocal(string, []string) (changeSource, error) { return nil, errNeedsLinux }

func runCheck(_ context.Context, cfg *config, _ []string, _, stderr io.Writer) int {
	return fail(stderr, cfg.format, errNeedsLinux)
}

func runUpgrade(_ context.Context, cfg *config, _ []string, _, stderr io.Writer) int {
	return fail(stderr, cfg.format, errNeedsLinux)
}

func backupLocal(context.Context, string) (*backupResult, error) { return nil, errNeedsLinux }

func restoreLocal(context.Context, string, string) (int, error) { return 0, errNeedsLinux }
