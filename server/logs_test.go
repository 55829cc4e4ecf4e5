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

// TestLogsHaveNoNilErr: a clean run, from start to shutdown, logs no
// err=<nil>.
func TestLogsHaveNoNilErr(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	dialRaw(t, ts.addr).do("SET", "x", "1")
	ts.stop(t)
	if !strings.Contains(logs.String(), "memory closed") {
		t.Fatalf("no shutdown in the logs:\n%s", logs)
	}
	if strings.Contains(logs.String(), "<nil>") {
		t.Errorf("the logs have a nil value:\n%s", logs)
	}
}
