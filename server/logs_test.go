package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"
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

// TestConnectionBurstSummarised: in a window, the first connections are
// logged one by one (connect and disconnect), the rest summarised in one
// line at the window's end; the next window logs connections again.
func TestConnectionBurstSummarised(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ts.connLog.mu.Lock()
	ts.connLog.burst, ts.connLog.window = 3, 500*time.Millisecond
	ts.connLog.mu.Unlock()
	for range 10 {
		rc := dialRaw(t, ts.addr)
		rc.do("PING")
		rc.c.Close()
	}
	summary := `msg="7 more connections in the last 500ms" count=7`
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), summary) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in:\n%s", summary, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "client disconnected"); n != 3 {
		t.Errorf("%d lines \"client disconnected\", want 3:\n%s", n, logs)
	}
	rc := dialRaw(t, ts.addr) // a new window
	rc.do("PING")
	for msg, want := range map[string]int{"client connected": 4, "more connections": 1} {
		if n := strings.Count(logs.String(), msg); n != want {
			t.Errorf("%d lines %q, want %d:\n%s", n, msg, want, logs)
		}
	}
}
