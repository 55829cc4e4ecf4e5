package main

import (
	"context"
	"fmt"
	"strings"
)

// session runs the prompt's lock, unlock and watch, and reports whether
// args was one of them.
func (p *prompt) session(ctx context.Context, args []string) bool {
	switch strings.ToLower(args[0]) {
	case "lock":
		p.lock(ctx, args[1:])
	case "unlock":
		p.unlock(ctx)
	case "watch":
		fmt.Fprintln(p.out, "watch runs until interrupted: use it from the command line (dsm watch NAME...)")
		p.noteFailure(exitError)
	default:
		return false
	}
	return true
}

// current is where commands go: the held locks' connection after lock,
// the store otherwise.
func (p *prompt) current() store {
	if p.held != nil {
		return p.held
	}
	return p.st
}

// lock takes locks for the commands that follow, until unlock.
func (p *prompt) lock(ctx context.Context, args []string) {
	if p.held != nil {
		fmt.Fprintln(p.out, "Locks are held already: unlock first")
		p.noteFailure(exitError)
		return
	}
	spec, err := parseLock(args, false)
	if err != nil {
		p.report(err)
		return
	}
	ctx, done := p.in.running(ctx)
	defer done()
	held, err := takeLocks(ctx, p.cfg, p.st, spec)
	if err != nil {
		p.report(err)
		return
	}
	p.held = held
	fmt.Fprintf(p.out, "Locked %s%s; commands run on the locks until unlock\n", strings.Join(spec.names, " "), tokenNote(held))
}

// unlock releases the locks taken by lock.
func (p *prompt) unlock(ctx context.Context) {
	if p.held == nil {
		fmt.Fprintln(p.out, "No locks held")
		return
	}
	if err := p.release(ctx); err != nil {
		p.report(err)
		return
	}
	fmt.Fprintln(p.out, "Unlocked")
}

// release gives the locks back, if any.
func (p *prompt) release(ctx context.Context) error {
	if p.held == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	err := p.held.Unlock(ctx)
	p.held = nil
	return err
}
