package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/shm"
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
	case *local:
		return lockLocal(ctx, st, spec)
	}
	return nil, fmt.Errorf("lock: unsupported store %T", st)
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

// lockedLocal runs commands through a lock group of the file; each command
// commits at once.
type lockedLocal struct {
	l *local
	g *shm.LockGroup
}

func lockLocal(ctx context.Context, l *local, spec lockSpec) (*lockedLocal, error) {
	// -wait 0 (a negative Wait) tries once: a group tries every lock before
	// it looks at its context, which has then already ended.
	ctx, cancel := context.WithTimeout(ctx, max(spec.opts.Wait, 0))
	defer cancel()
	g, err := l.m.Lock(ctx, bytesOf(spec.names), !spec.opts.Read, true)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, &client.Error{Op: "lock", Name: strings.Join(spec.names, " "), Kind: client.ErrLockTimeout}
	}
	if err != nil {
		return nil, localErr("lock", strings.Join(spec.names, " "), err)
	}
	return &lockedLocal{l: l, g: g}, nil
}

// commit makes a command's staged writes visible.
func (h *lockedLocal) commit(op, name string, err error) error {
	if err == nil {
		err = h.g.Commit()
	}
	return localErr(op, name, err)
}

func (h *lockedLocal) Get(_ context.Context, name string) (string, uint64, error) {
	it, err := h.g.Get([]byte(name))
	if err == nil && !it.Found {
		err = shm.ErrNotFound
	}
	if err != nil {
		return "", 0, localErr("get", name, err)
	}
	return it.Value.String(), it.Version, nil
}

func (h *lockedLocal) Set(_ context.Context, name, value string) error {
	return h.commit("set", name, h.g.Set([]byte(name), shm.ParseValue([]byte(value))))
}

func (h *lockedLocal) Add(_ context.Context, name string, delta int64) (int64, error) {
	n, err := h.g.Add([]byte(name), delta)
	return n, h.commit("add", name, err)
}

func (h *lockedLocal) CAS(_ context.Context, name, old, new string) (bool, error) {
	it, err := h.g.Get([]byte(name))
	if err != nil || !it.Found || !it.Value.Equal(shm.ParseValue([]byte(old))) {
		return false, localErr("cas", name, err)
	}
	return true, h.commit("cas", name, h.g.Set([]byte(name), shm.ParseValue([]byte(new))))
}

func (h *lockedLocal) MGet(_ context.Context, names ...string) ([]client.Item, error) {
	items := make([]client.Item, len(names))
	for i, n := range names {
		it, err := h.g.Get([]byte(n))
		if err != nil {
			return nil, localErr("mget", n, err)
		}
		items[i] = client.Item{Name: n, Found: it.Found}
		if it.Found {
			items[i].Value = it.Value.String()
		}
	}
	return items, nil
}

func (h *lockedLocal) MSet(_ context.Context, nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if err := h.g.Set([]byte(nameValues[i]), shm.ParseValue([]byte(nameValues[i+1]))); err != nil {
			h.abandon()
			return localErr("mset", nameValues[i], err)
		}
	}
	return h.commit("mset", "", nil)
}

// abandon drops staged writes after a failed command. A group commits or
// discards only as a whole, so a failed multi-variable write ends the
// session's locks: the caller stops at the first failure anyway.
func (h *lockedLocal) abandon() { h.g.Unlock() }

func (h *lockedLocal) Del(_ context.Context, names ...string) (int64, error) {
	var n int64
	for _, name := range names {
		it, err := h.g.Get([]byte(name))
		if err == nil && it.Found {
			err = h.g.Delete([]byte(name))
			n++
		}
		if err != nil {
			h.abandon()
			return n, localErr("del", name, err)
		}
	}
	return n, h.commit("del", "", nil)
}

func (h *lockedLocal) List(context.Context, string) ([]string, error) {
	return nil, errWhileLocked("list")
}

func (h *lockedLocal) Status(context.Context) (*status, error) {
	return nil, errWhileLocked("info")
}

func (h *lockedLocal) Where() string { return h.l.Where() }

func (h *lockedLocal) Unlock(context.Context) error {
	h.g.Unlock()
	return nil
}

func (h *lockedLocal) Close() error { return h.Unlock(context.Background()) }
