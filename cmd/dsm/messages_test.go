//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorMessages: each failure is said once, in the words of what
// failed: no daemon in local mode, the command as it was typed, a daemon
// reply that repeats its kind left out.
func TestErrorMessages(t *testing.T) {
	d := startDaemon(t, "")
	missing := filepath.Join(t.TempDir(), "typo.mem")
	tests := []struct {
		name string
		args []string
		want string // the whole of stderr
		code int
	}{
		{"not an integer", at(d, "add", "greeting", "1"), "dsm: add greeting: value is not an integer\n", exitError},
		{"unknown command under lock", at(d, "lock", "a", "--", "bogus", "x"), "dsm: bogus: ERR unknown command 'bogus', with args beginning with: 'x' \n", exitError},
		{"local file missing", []string{"-file", missing, "get", "x"}, "dsm: open " + missing + ": no such file or directory\n", exitUnreachable},
	}
	if _, errOut, code := dsm(t, "", at(d, "set", "greeting", "hello")...); code != 0 {
		t.Fatalf("set greeting: exit %d: %s", code, errOut)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := dsm(t, "", tt.args...)
			if errOut != tt.want || code != tt.code {
				t.Errorf("dsm %s: exit %d, stderr %q; want exit %d, stderr %q",
					strings.Join(tt.args, " "), code, errOut, tt.code, tt.want)
			}
		})
	}
}
