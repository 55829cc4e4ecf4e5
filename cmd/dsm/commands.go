package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// command is one command of dsm, the same in one-shot use, at the prompt and
// in local mode.
type command struct {
	name  string
	args  string // the arguments, as the usage shows them
	help  string
	min   int  // fewest arguments
	max   int  // most arguments; -1 means no limit
	pairs bool // arguments come in name value pairs
	// write says the command changes variables; local mode creates a missing
	// file only for those.
	write bool
	run   func(ctx context.Context, st store, args []string) (result, error)
}

// commands lists every command, in the order help shows them.
var commands = []*command{
	{name: "get", args: "[-sync] NAME", help: "print the value of NAME; -sync (local mode, a cluster node's file) first waits until the file holds every write acknowledged in the cluster", min: 1, max: 2, run: runGet},
	{name: "set", args: "NAME VALUE", help: "store VALUE in NAME", min: 2, max: 2, write: true, run: runSet},
	{name: "add", args: "NAME DELTA", help: "add DELTA to the integer NAME; print the new value", min: 2, max: 2, write: true, run: runAdd},
	{name: "cas", args: "NAME OLD NEW", help: "set NAME to NEW if it holds OLD; print 1 if swapped, else 0", min: 3, max: 3, write: true, run: runCAS},
	{name: "mget", args: "NAME...", help: "print several values read at one instant (empty line if missing)", min: 1, max: -1, run: runMGet},
	{name: "mset", args: "NAME VALUE...", help: "store several values, all or none", min: 2, max: -1, pairs: true, write: true, run: runMSet},
	{name: "del", args: "NAME...", help: "delete variables; print how many existed", min: 1, max: -1, write: true, run: runDel},
	{name: "list", args: "[PATTERN]", help: "print the names matching PATTERN (glob: * ? [abc]), one per line", min: 0, max: 1, run: runList},
	{name: "info", args: "", help: "show the server, its file, sync mode, variables and clients", min: 0, max: 0, run: runInfo},
	{name: "status", args: "", help: "same as info", min: 0, max: 0, run: runInfo},
}

// lookup finds a command by name, ignoring case.
func lookup(name string) *command {
	name = strings.ToLower(name)
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is a command line that does not fit its command.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// check validates the number of arguments.
func (c *command) check(args []string) error {
	n := len(args)
	if n < c.min || (c.max >= 0 && n > c.max) || (c.pairs && n%2 != 0) {
		return &usageError{msg: strings.TrimSpace("usage: " + c.name + " " + c.args)}
	}
	return nil
}

func runGet(ctx context.Context, st store, args []string) (result, error) {
	name := args[len(args)-1]
	if len(args) == 2 {
		if o := strings.TrimLeft(args[0], "-"); o != "sync" || o == args[0] {
			return nil, &usageError{msg: "usage: get [-sync] NAME"}
		}
		if err := syncReads(ctx, st); err != nil {
			return nil, err
		}
	}
	v, ver, err := st.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return valueResult{Name: name, Value: v, Version: ver}, nil
}

// syncReads makes the store's next reads linearizable: a local store on a
// cluster node's file asks the node (shm's SyncReads); the daemon's reads
// are linearizable already.
func syncReads(ctx context.Context, st store) error {
	if s, ok := st.(interface{ SyncReads(context.Context) error }); ok {
		return s.SyncReads(ctx)
	}
	return nil
}

func runSet(ctx context.Context, st store, args []string) (result, error) {
	if err := st.Set(ctx, args[0], args[1]); err != nil {
		return nil, err
	}
	return okResult{}, nil
}

func runAdd(ctx context.Context, st store, args []string) (result, error) {
	delta, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("add: DELTA must be an integer, not %q", args[1])}
	}
	n, err := st.Add(ctx, args[0], delta)
	if err != nil {
		return nil, err
	}
	return intResult{Name: args[0], Value: n}, nil
}

func runCAS(ctx context.Context, st store, args []string) (result, error) {
	ok, err := st.CAS(ctx, args[0], args[1], args[2])
	if err != nil {
		return nil, err
	}
	return casResult{Name: args[0], Swapped: ok}, nil
}

func runMGet(ctx context.Context, st store, args []string) (result, error) {
	items, err := st.MGet(ctx, args...)
	if err != nil {
		return nil, err
	}
	return itemsResult(items), nil
}

func runMSet(ctx context.Context, st store, args []string) (result, error) {
	if err := st.MSet(ctx, args...); err != nil {
		return nil, err
	}
	return okResult{}, nil
}

func runDel(ctx context.Context, st store, args []string) (result, error) {
	n, err := st.Del(ctx, args...)
	if err != nil {
		return nil, err
	}
	return countResult{Deleted: n}, nil
}

func runList(ctx context.Context, st store, args []string) (result, error) {
	pattern := ""
	if len(args) == 1 {
		pattern = args[0]
	}
	names, err := st.List(ctx, pattern)
	if err != nil {
		return nil, err
	}
	return namesResult(names), nil
}

func runInfo(ctx context.Context, st store, _ []string) (result, error) {
	s, err := st.Status(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sessionCommands are the commands that hold something open (a
// subscription, locks) rather than print one result; help lists them after
// the others, as name and summary.
var sessionCommands = [][2]string{
	{"watch [-n N] NAME...", "print every change of NAME (or glob PATTERN): time, name, value, version; until interrupted or N changes"},
	{"lock NAME... -- CMD...", "lock NAMEs (-read, -wait D, -lease D), run CMD (more after further --) on the locks, unlock"},
	{"lock/unlock NAME...", "at the prompt: lock NAMEs for the commands that follow, until unlock"},
}

// fileCommands read the memory file itself (local mode only); help lists
// them last.
var fileCommands = [][2]string{
	{"backup DEST", "write a consistent copy of every variable (one instant; writers wait meanwhile) to DEST, through the daemon or with -file"},
	{"restore SRC", "with -file, dsmd stopped: make the file hold exactly the backup's variables (a missing file is created)"},
	{"check [-repair]", "with -file: verify slots, index and free list; print each problem, exit 1 if any remain (-repair rebuilds index and free list)"},
	{"upgrade", "with -file, dsmd and local processes stopped: rewrite the file in file format 2, keeping the old one as FILE.format1"},
}
