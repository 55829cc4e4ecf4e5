package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dsm-dev/dsm/shm"
)

const checkUsage = "usage: check [-repair] (with -file PATH)"

// runCheck verifies the memory file of local mode (shm's Check): it prints
// every problem, one per line, and exits 1 if any remain. With -repair it
// first rebuilds the index and free list when nothing else is damaged
// (shm's Repair) and prints what it repaired. Both are safe while dsmd and
// local processes use the file.
func runCheck(_ context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	repair := false
	switch {
	case len(args) == 1 && args[0] == "-repair":
		repair = true
	case len(args) > 0:
		return fail(stderr, cfg.format, &usageError{msg: checkUsage})
	}
	if cfg.file == "" {
		return fail(stderr, cfg.format, &usageError{msg: "check reads the file itself: give it with -file PATH"})
	}
	l, err := openLocal(cfg.file, false)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer l.Close()
	var r checkResult
	if repair {
		r.repaired, r.remains = l.m.Repair()
	} else {
		r.remains = l.m.Check()
	}
	if err := write(stdout, cfg.format, r); err != nil {
		return fail(stderr, cfg.format, err)
	}
	if r.remains != nil {
		fail(stderr, cfg.format, fmt.Errorf("%s is damaged", cfg.file))
		return exitError
	}
	return exitOK
}

// checkResult is what check found: the problems repaired (with -repair)
// and those that remain.
type checkResult struct {
	repaired, remains error
}

func (r checkResult) plain() []string {
	var out []string
	for _, p := range shm.Problems(r.repaired) {
		out = append(out, "repaired: "+p.Error())
	}
	for _, p := range shm.Problems(r.remains) {
		out = append(out, p.Error())
	}
	if r.remains == nil {
		out = append(out, "OK")
	}
	return out
}

// checkProblem is one problem in JSON: what is wrong, whether Repair can
// rebuild it, and whether it did.
type checkProblem struct {
	Problem    string `json:"problem"`
	Repairable bool   `json:"repairable"`
	Repaired   bool   `json:"repaired"`
}

func (r checkResult) objects() []any {
	var out []any
	add := func(err error, repaired bool) {
		for _, p := range shm.Problems(err) {
			out = append(out, checkProblem{Problem: p.Error(), Repairable: !errors.Is(p, shm.ErrDamaged), Repaired: repaired})
		}
	}
	add(r.repaired, true)
	add(r.remains, false)
	if r.remains == nil {
		out = append(out, map[string]bool{"ok": true})
	}
	return out
}
