//go:build !linux

package main

import "io"

// runClusterRecover opens the memory file, as local mode does: Linux only.
func runClusterRecover(cfg *config, _ []string, _, stderr io.Writer) int {
	return fail(stderr, cfg.format, errNeedsLinux)
}
