package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dsm-dev/dsm/shm"
)

const upgradeUsage = "usage: upgrade (with -file PATH; dsmd and every local process stopped)"

// runUpgrade rewrites the memory file of local mode in file format 2
// (shm's Upgrade), keeping the old file beside it as PATH.format1. It
// needs the file to itself: with dsmd or another process attached it
// fails and changes nothing.
func runUpgrade(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0:
		return fail(stderr, cfg.format, &usageError{msg: upgradeUsage})
	case cfg.file == "":
		return fail(stderr, cfg.format, &usageError{msg: "upgrade rewrites the file itself: give it with -file PATH"})
	}
	kept, err := shm.Upgrade(ctx, cfg.file)
	if err != nil {
		return fail(stderr, cfg.format, fmt.Errorf("upgrade %s: %w", cfg.file, err))
	}
	if err := write(stdout, cfg.format, upgradeResult{Path: cfg.file, Kept: kept}); err != nil {
		return fail(stderr, cfg.format, err)
	}
	return exitOK
}

// upgradeResult is what upgrade did: the file, now format 2, and where
// the format-1 file was kept (empty if the file was format 2 already).
type upgradeResult struct {
	Path string `json:"path"`
	Kept string `json:"kept,omitempty"`
}

func (r upgradeResult) plain() []string {
	if r.Kept == "" {
		return []string{r.Path + " is in file format 2 already"}
	}
	return []string{"upgraded " + r.Path + " to file format 2; the format 1 file is kept as " + r.Kept}
}

func (r upgradeResult) objects() []any { return []any{r} }
