package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/shm"
)

// local is the memory file itself, mapped into this process through shm,
// with no daemon: it works whether or not dsmd serves the same file, under
// the same locks, so both see one order of operations. On a cluster
// node's file (replicated) reads stay local, while shm sends the writes
// to the node's daemon over the socket beside the file: with the daemon
// down they fail as unreachable.
type local struct {
	m *shm.Memory
}

// openLocal maps the file at path. A missing file is created (as dsmd
// creates it on first start) only for commands that write; a read of a file
// that does not exist is an error rather than a new empty file.
func openLocal(path string, write bool) (*local, error) {
	if !write {
		if _, err := os.Stat(path); err != nil {
			return nil, &fileError{path: path, err: err}
		}
	}
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		return nil, &fileError{path: path, err: err}
	}
	return &local{m: m}, nil
}

// fileError is a memory file that cannot be opened. It exits as an
// unreachable daemon does (the store is not there), but says what failed:
// in local mode no daemon is involved.
type fileError struct {
	path string
	err  error
}

// Error returns "open PATH: cause", without the path a *fs.PathError
// would repeat.
func (e *fileError) Error() string {
	cause := e.err
	var pe *fs.PathError
	if errors.As(cause, &pe) && pe.Path == e.path {
		cause = pe.Err
	}
	return "open " + e.path + ": " + cause.Error()
}

func (e *fileError) Unwrap() error { return e.err }

// Is makes the exit code the one of client.ErrUnreachable.
func (e *fileError) Is(target error) bool { return target == client.ErrUnreachable }

// shmKinds maps shm's errors to the client's kinds, so that local and remote
// failures print and exit alike.
var shmKinds = []struct{ from, to error }{
	{shm.ErrNotFound, client.ErrNotFound},
	{shm.ErrNotInteger, client.ErrNotInteger},
	{shm.ErrOverflow, client.ErrOverflow},
	{shm.ErrFull, client.ErrFull},
	{shm.ErrNameTooLong, client.ErrTooLarge},
	{shm.ErrValueTooLarge, client.ErrTooLarge},
	{shm.ErrEmptyName, client.ErrInvalid},
	{shm.ErrTooMany, client.ErrInvalid},
	{shm.ErrClosed, client.ErrClosed},
}

func localErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	e := &client.Error{Op: op, Name: name, Err: err}
	if errors.Is(err, shm.ErrNoDaemon) {
		// shm's message names the socket and why: keep it.
		e.Kind = client.ErrUnreachable
		return e
	}
	for _, k := range shmKinds {
		if errors.Is(err, k.from) {
			e.Kind = k.to
			// shm's message says the same as the kind; keep only one.
			e.Err = nil
			break
		}
	}
	return e
}

func (l *local) Get(_ context.Context, name string) (string, uint64, error) {
	v, ver, err := l.m.Get([]byte(name))
	if err != nil {
		return "", 0, localErr("get", name, err)
	}
	return v.String(), ver, nil
}

func (l *local) Set(_ context.Context, name, value string) error {
	_, err := l.m.Set([]byte(name), shm.ParseValue([]byte(value)))
	return localErr("set", name, err)
}

func (l *local) Add(_ context.Context, name string, delta int64) (int64, error) {
	n, _, err := l.m.Add([]byte(name), delta)
	return n, localErr("add", name, err)
}

// CAS on a missing variable does not swap, and is no error: the daemon
// answers 0 there too.
func (l *local) CAS(_ context.Context, name, old, new string) (bool, error) {
	ok, _, err := l.m.CompareAndSwap([]byte(name), shm.ParseValue([]byte(old)), shm.ParseValue([]byte(new)))
	if errors.Is(err, shm.ErrNotFound) {
		return false, nil
	}
	return ok, localErr("cas", name, err)
}

func (l *local) MGet(_ context.Context, names ...string) ([]client.Item, error) {
	got, err := l.m.MGet(bytesOf(names))
	if err != nil {
		return nil, localErr("mget", "", err)
	}
	items := make([]client.Item, len(names))
	for i, it := range got {
		items[i] = client.Item{Name: names[i], Found: it.Found}
		if it.Found {
			items[i].Value = it.Value.String()
		}
	}
	return items, nil
}

func (l *local) MSet(_ context.Context, nameValues ...string) error {
	if len(nameValues) == 0 || len(nameValues)%2 != 0 {
		return &usageError{msg: "usage: mset NAME VALUE..."}
	}
	names := make([][]byte, 0, len(nameValues)/2)
	vals := make([]shm.Value, 0, len(nameValues)/2)
	for i := 0; i < len(nameValues); i += 2 {
		names = append(names, []byte(nameValues[i]))
		vals = append(vals, shm.ParseValue([]byte(nameValues[i+1])))
	}
	return localErr("mset", "", l.m.MSet(names, vals))
}

func (l *local) Del(_ context.Context, names ...string) (int64, error) {
	n, err := l.m.Delete(bytesOf(names)...)
	return int64(n), localErr("del", "", err)
}

// List walks the file's slots and keeps the names that match pattern. A
// pattern with more elements other than '*' than the file's names have
// bytes can match nothing and is refused, as the daemon refuses it; the
// walk stops as soon as ctx ends (a timeout, or ^C).
func (l *local) List(ctx context.Context, pattern string) ([]string, error) {
	if pattern == "" {
		pattern = "*"
	}
	nameMax := l.m.Limits().NameMax
	match, err := glob.Compile([]byte(pattern), false, nameMax)
	if err != nil {
		return nil, &client.Error{Op: "list", Kind: client.ErrInvalid, Err: fmt.Errorf(
			"pattern can match no name: it has more than %d elements other than '*', and names are at most %d bytes", nameMax, nameMax)}
	}
	var names []string
	_, err = l.m.Scan(0, func(name []byte, _ uint64) bool {
		if match.Match(name) {
			names = append(names, string(name))
		}
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, localErr("list", pattern, err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Status describes the file; there is no daemon to ask about clients, but
// the processes attached to the file are counted.
func (l *local) Status(context.Context) (*status, error) {
	st := l.m.Stats()
	return &status{
		Mode:      "local",
		Server:    "none (local mode, through the mapping)",
		File:      l.m.Path(),
		Variables: int64(st.Vars),
		Capacity:  int64(st.Capacity),
		Clients:   []clientStatus{},
		Notes: []string{
			fmt.Sprintf("%d processes attached (of %d)", st.Procs, st.ProcSlots),
			"names up to " + strconv.Itoa(st.NameMax) + " bytes, values up to " + strconv.Itoa(st.ValueMax) + " bytes",
			fmt.Sprintf("file size %d bytes", st.FileSize),
		},
	}, nil
}

// SyncReads is `get -sync`: on a cluster node's file, the reads after it
// are linearizable (shm.Memory.SyncReads); elsewhere it does nothing.
func (l *local) SyncReads(ctx context.Context) error {
	return localErr("sync", "", l.m.SyncReads(ctx))
}

func (l *local) Where() string { return l.m.Path() }

func (l *local) Close() error { return l.m.Close() }

func bytesOf(names []string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}
