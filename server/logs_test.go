package server

import (
	"log/slog"
	"strings"
	"testing"
)

// TestAuthFailureLogsOnce: every failed AUTH, with a wrong password or a
// wrong user, and HELLO AUTH alike, logs exactly one warning.
func TestAuthFailureLogsOnce(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Config{Password: "secret", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	rc := dialRaw(t, ts.addr)
	for _, args := range [][]string{
		{"AUTH", "wrong"}, {"AUTH", "default", "wrong"}, {"AUTH", "bob", "secret"},
		{"HELLO", "3", "AUTH", "default", "wrong"}, {"HELLO", "3", "AUTH", "bob", "secret"},
	} {
		before := strings.Count(logs.String(), "authentication failed")
		if got := rc.do(args...); !strings.HasPrefix(got, "-WRONGPASS") {
			t.Fatalf("%q: %q", args, got)
		}
		if n := strings.Count(logs.String(), "authentication failed") - before; n != 1 {
			t.Errorf("%q logged %d warnings, want 1:\n%s", args, n, logs)
		}
	}
}
