package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/dsm-dev/dsm/client"
)

const lockUsage = "usage: lock [-read] [-wait DURATION] [-lease DURATION] NAME... -- COMMAND [ARGS...] [-- COMMAND...]"

// heldStore is a store whose commands pass the locks it holds, until
// Unlock.
type heldStore interface {
	store
	Unlock(ctx context.Context) error
}

// lockSpec is a parsed lock command line.
type lockSpec struct {
	opts     client.LockOptions
	names    []string
	commands [][]string // after "--"; none at the prompt
}

// parseLock reads [-read] [-wait D] [-lease D] NAME... [-- COMMAND...]...
func parseLock(args []string, wantCommands bool) (lockSpec, error) {
	var spec lockSpec
	fs := flag.NewFlagSet("lock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&spec.opts.Read, "read", false, "")
	fs.DurationVar(&spec.opts.Wait, "wait", 10*time.Second, "")
	fs.DurationVar(&spec.opts.Lease, "lease", 30*time.Second, "")
	if err := fs.Parse(args); err != nil {
		return spec, &usageError{msg: lockUsage + " (" + err.Error() + ")"}
	}
	rest := fs.Args()
	i := slices.Index(rest, "--")
	if i < 0 {
		i = len(rest)
	}
	spec.names = rest[:i]
	for _, part := range splitOn(rest[i:], "--") {
		if len(part) == 0 {
			return spec, &usageError{msg: lockUsage + " (empty command after --)"}
		}
		spec.commands = append(spec.commands, part)
	}
	if len(spec.names) == 0 || wantCommands != (len(spec.commands) > 0) {
		return spec, &usageError{msg: lockUsage}
	}
	if spec.opts.Wait == 0 {
		spec.opts.Wait = -1 // -wait 0: do not wait
	}
	return spec, nil
}

// splitOn splits args that start with sep into the runs between seps.
func splitOn(args []string, sep string) [][]string {
	var out [][]string
	for _, a := range args {
		if a == sep {
			out = append(out, nil)
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], a)
	}
	return out
}

// runLock takes the locks, runs each command through the connection (or
// group) that holds them, printing its result, and releases them. The first
// failing command ends the run.
func runLock(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	spec, err := parseLock(args, true)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	st, err := cfg.open(ctx, true)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer st.Close()
	held, err := takeLocks(ctx, cfg, st, spec)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	if note := tokenNote(held); note != "" {
		fmt.Fprintf(stderr, "dsm: locked%s\n", note)
	}
	code := exitOK
	for _, cmd := range spec.commands {
		r, err := execute(ctx, cfg.timeout, held, cmd)
		if code = printResult(cfg.format, cmd, r, err, stdout, stderr); code != exitOK {
			break
		}
	}
	uctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := held.Unlock(uctx); err != nil && code == exitOK {
		code = fail(stderr, cfg.format, err)
	}
	return code
}

// takeLocks locks spec's names through st: the daemon's client-held locks,
// or a lock group of the file in local mode.
func takeLocks(ctx context.Context, cfg *config, st store, spec lockSpec) (heldStore, error) {
	switch st := st.(type) {
	case *remote:
		// The lock's own wait bounds the call, plus the usual timeout.
		ctx, cancel := context.WithTimeout(ctx, max(spec.opts.Wait, 0)+cfg.timeout)
		defer cancel()
		l, err := st.Lock(ctx, spec.opts, spec.names...)
		if err != nil {
			return nil, err
		}
		return &lockedRemote{Locked: l, where: st.Where()}, nil
	}
	return lockLocal(ctx, st, spec)
}

// lockedRemote runs commands on the daemon connection that holds the locks.
type lockedRemote struct {
	*client.Locked
	where string
}

func (l *lockedRemote) Get(ctx context.Context, name string) (string, uint64, error) {
	v, err := l.Locked.Get(ctx, name)
	return v, 0, err
}

func (l *lockedRemote) List(context.Context, string) ([]string, error) {
	return nil, errWhileLocked("list")
}

func (l *lockedRemote) Status(context.Context) (*status, error) {
	return nil, errWhileLocked("info")
}

func (l *lockedRemote) Where() string { return l.where }
func (l *lockedRemote) Close() error  { return l.Unlock(context.Background()) }

func errWhileLocked(op string) error {
	return &usageError{msg: op + " is not available while holding locks"}
}

// tokenNote tells a cluster lock's fencing token (FENCED token CMD...
// refuses a write once a newer lock is granted); "" for a single host's
// locks, which have none.
func tokenNote(held heldStore) string {
	if l, ok := held.(*lockedRemote); ok && l.Token() > 0 {
		return " with fencing token " + strconv.FormatInt(l.Token(), 10)
	}
	return ""
}
