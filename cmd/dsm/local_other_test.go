//go:build !linux

package main

import (
	"strings"
	"testing"
)

// TestLocalModeNeedsLinux: off Linux every local-mode command says that
// it needs Linux, and exits 1.
func TestLocalModeNeedsLinux(t *testing.T) {
	for _, args := range [][]string{
		{"-file", "x.mem", "get", "x"},
		{"-file", "x.mem", "lock", "x", "--", "get", "x"},
		{"-file", "x.mem", "watch", "x"},
		{"-file", "x.mem", "check"},
		{"-file", "x.mem"},
	} {
		var out, errOut strings.Builder
		code := run(args, strings.NewReader(""), &out, &errOut)
		if code != exitError || !strings.Contains(errOut.String(), "needs Linux") {
			t.Errorf("dsm %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut.String())
		}
	}
}
