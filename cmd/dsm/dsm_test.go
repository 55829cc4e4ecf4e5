//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
)

// startDaemon runs a daemon for the test, with password if not empty.
func startDaemon(tb testing.TB, password string) *dsmtest.Daemon {
	tb.Helper()
	return dsmtest.Start(tb, server.Config{Password: password})
}

// at returns the flags that point dsm at d.
func at(d *dsmtest.Daemon, args ...string) []string {
	return append([]string{"-addr", d.Addr, "-timeout", "5s"}, args...)
}

// TestSeedSession replays the seed's client session through the prompt
// with piped stdin, and checks its output byte for byte; then a second
// prompt sees the first one's write.
func TestSeedSession(t *testing.T) {
	d := startDaemon(t, "")
	out, errOut, code := dsm(t, "W\n20\nR\nQ\n", at(d)...)
	// Piped input gets no banner and no prompts, only the answers.
	want := "Server: OK\nShared Value: 20\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("first prompt: exit %d\nstdout:\n%q\nwant:\n%q\nstderr: %s", code, out, want, errOut)
	}
	// The seed's client took r and w in lower case too.
	out, _, code = dsm(t, "r\nq\n", at(d)...)
	if code != 0 || !strings.Contains(out, "Shared Value: 20\n") {
		t.Fatalf("second prompt: exit %d, stdout:\n%s", code, out)
	}
}

func TestPromptCommands(t *testing.T) {
	d := startDaemon(t, "")
	steps := []struct {
		line, out string
		contains  bool
		code      int // the exit code of a session of this line alone
	}{
		{line: "R", out: "Shared Value: 0\n"}, // a missing value reads 0, as the seed's int began
		{line: `set greeting "hello world"`, out: "OK\n"},
		{line: "get greeting", out: "hello world\n"},
		{line: "SET n 5", out: "OK\n"},
		{line: "add n 2", out: "7\n"},
		{line: "cas n 7 8", out: "1\n"},
		{line: "cas n 7 9", out: "0\n"},
		{line: "mset a 1 b 2", out: "OK\n"},
		{line: "mget a nothing b", out: "1\n\n2\n"},
		{line: "list [ab]", out: "a\nb\n"},
		{line: "del a b", out: "2\n"},
		{line: "get missing", out: "", code: exitNotFound}, // the error goes to stderr
		{line: "ping", out: "PONG\n"},
		{line: "W\nnot-a-number", out: "Invalid value: want a whole number from -2147483648 to 2147483647\n", code: exitError},
		{line: "help", out: "mset NAME VALUE...", contains: true},
	}
	for _, s := range steps {
		out, errOut, code := dsm(t, s.line+"\n", at(d)...)
		if (out != s.out && !(s.contains && strings.Contains(out, s.out))) || code != s.code {
			t.Errorf("%q printed %q, exit %d; want %q, exit %d (stderr %q)", s.line, out, code, s.out, s.code, errOut)
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("escape codes in piped output: %q", out)
		}
	}
	// Nothing runs after exit, and no line failed before it.
	out, errOut, code := dsm(t, "get greeting\nexit\nget never-reached\n", at(d)...)
	if out != "hello world\n" || errOut != "" || code != 0 {
		t.Errorf("exit then get: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = dsm(t, "get missing\nget greeting\n", at(d)...)
	if out != "hello world\n" || code != exitNotFound {
		t.Errorf("a failed line: exit %d, stdout %q; want exit 2 and the next line's result", code, out)
	}
	if !strings.Contains(errOut, "get missing: no such variable") {
		t.Errorf("stderr lacks the missing variable's error:\n%s", errOut)
	}
}

func TestOneShot(t *testing.T) {
	d := startDaemon(t, "")
	steps := []struct {
		args     []string
		out      string
		code     int
		errFrag  string
		contains bool // out is a fragment rather than the whole output
	}{
		{args: []string{"get", "x"}, code: exitNotFound, errFrag: "no such variable"},
		{args: []string{"set", "x", "5"}, out: "OK\n"},
		{args: []string{"get", "x"}, out: "5\n"},
		{args: []string{"add", "x", "10"}, out: "15\n"},
		{args: []string{"add", "x", "-20"}, out: "-5\n"},
		{args: []string{"cas", "x", "-5", "6"}, out: "1\n"},
		{args: []string{"cas", "x", "-5", "7"}, out: "0\n"},
		{args: []string{"cas", "nokey", "1", "2"}, out: "0\n"},
		{args: []string{"set", "s", "text"}, out: "OK\n"},
		{args: []string{"add", "s", "1"}, code: exitError, errFrag: "not an integer"},
		{args: []string{"add", "x", "one"}, code: exitError, errFrag: "DELTA must be an integer"},
		{args: []string{"mset", "a", "1", "b", "2"}, out: "OK\n"},
		{args: []string{"mget", "a", "zz", "b"}, out: "1\n\n2\n"},
		{args: []string{"list"}, out: "a\nb\ns\nx\n"},
		{args: []string{"list", "?"}, out: "a\nb\ns\nx\n"},
		{args: []string{"list", "[ab]"}, out: "a\nb\n"},
		{args: []string{"del", "a", "b", "zz"}, out: "2\n"},
		{args: []string{"get"}, code: exitError, errFrag: "usage: get [-sync] NAME"},
		{args: []string{"mset", "a"}, code: exitError, errFrag: "usage: mset"},
		{args: []string{"ping"}, out: "PONG\n"},
		{args: []string{"info"}, out: "clients", contains: true},
		{args: []string{"status"}, out: d.File, contains: true},
	}
	for _, s := range steps {
		out, errOut, code := dsm(t, "", at(d, s.args...)...)
		okOut := out == s.out || (s.contains && strings.Contains(out, s.out))
		if code != s.code || !okOut || !strings.Contains(errOut, s.errFrag) {
			t.Errorf("dsm %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q",
				strings.Join(s.args, " "), code, out, errOut, s.code, s.out, s.errFrag)
		}
	}
}

func TestExitCodes(t *testing.T) {
	d := startDaemon(t, "pw")
	free := freeAddr(t)
	tests := []struct {
		name string
		args []string
		env  string
		code int
	}{
		{"help", []string{"help"}, "", exitOK},
		{"bad flag", []string{"-nope"}, "", exitError},
		{"bad format", []string{"-o", "xml", "get", "x"}, "", exitError},
		{"no password", at(d, "get", "x"), "", exitRefused},
		{"wrong password", at(d, "-password", "bad", "get", "x"), "", exitRefused},
		{"password flag", at(d, "-password", "pw", "set", "x", "1"), "", exitOK},
		{"password env", at(d, "get", "x"), "pw", exitOK},
		{"not found", at(d, "-password", "pw", "get", "nothing"), "", exitNotFound},
		{"unreachable", []string{"-addr", free, "-timeout", "1s", "get", "x"}, "", exitUnreachable},
		{"unreachable prompt", []string{"-addr", free, "-timeout", "1s"}, "", exitUnreachable},
		{"local read of a missing file", []string{"-file", filepath.Join(t.TempDir(), "none.mem"), "get", "x"}, "", exitUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DSM_PASSWORD", tt.env)
			_, errOut, code := dsm(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if code != exitOK && errOut == "" {
				t.Fatal("failed with nothing on stderr")
			}
		})
	}
}

// freeAddr returns a loopback address where nothing listens.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// jsonLines runs dsm -o json and decodes each line of its output.
func jsonLines(tb testing.TB, d *dsmtest.Daemon, args ...string) []map[string]any {
	tb.Helper()
	out, errOut, code := dsm(tb, "", at(d, append([]string{"-o", "json"}, args...)...)...)
	if code != 0 {
		tb.Fatalf("dsm -o json %v: exit %d: %s", args, code, errOut)
	}
	var objs []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var o map[string]any
		if err := dec.Decode(&o); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatalf("dsm -o json %v printed %q: %v", args, out, err)
		}
		objs = append(objs, o)
	}
	if strings.Count(out, "\n") != len(objs) {
		tb.Fatalf("dsm -o json %v: want one object per line, got %q", args, out)
	}
	return objs
}

func TestJSON(t *testing.T) {
	d := startDaemon(t, "")
	check := func(args []string, want ...string) {
		t.Helper()
		objs := jsonLines(t, d, args...)
		if len(objs) != len(want) {
			t.Fatalf("%v: %d objects, want %d: %v", args, len(objs), len(want), objs)
		}
		for i, o := range objs {
			if got := fmt.Sprint(o); got != want[i] {
				t.Errorf("%v: object %d = %s, want %s", args, i, got, want[i])
			}
		}
	}
	check([]string{"set", "x", "5"}, "map[ok:true]")
	check([]string{"get", "x"}, "map[name:x value:5]")
	check([]string{"add", "x", "2"}, "map[name:x value:7]")
	check([]string{"cas", "x", "7", "8"}, "map[name:x swapped:true]")
	check([]string{"mset", "y", "a b"}, "map[ok:true]")
	check([]string{"mget", "x", "none", "y"},
		"map[found:true name:x value:8]", "map[found:false name:none value:<nil>]", "map[found:true name:y value:a b]")
	check([]string{"list"}, "map[name:x]", "map[name:y]")
	check([]string{"del", "x", "y"}, "map[deleted:2]")

	objs := jsonLines(t, d, "info")
	if len(objs) != 1 || objs[0]["mode"] != "daemon" || objs[0]["file"] != d.File {
		t.Fatalf("info as JSON: %v", objs)
	}
	if cl, ok := objs[0]["clients"].([]any); !ok || len(cl) == 0 {
		t.Fatalf("info as JSON lists no clients: %v", objs[0])
	}
}

// TestLocalMode: dsm -file works on a file while a daemon serves it (each
// sees the other's writes) and after the daemon stopped.
func TestLocalMode(t *testing.T) {
	d := startDaemon(t, "")
	local := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := dsm(t, "", append([]string{"-file", d.File}, args...)...)
		if errOut != "" {
			t.Logf("dsm -file %v: %s", args, errOut)
		}
		return out, code
	}
	if out, code := local("set", "x", "5"); code != 0 || out != "OK\n" {
		t.Fatalf("local set: %q, exit %d", out, code)
	}
	if out, _, code := dsm(t, "", at(d, "get", "x")...); code != 0 || out != "5\n" {
		t.Fatalf("daemon does not see the local write: %q, exit %d", out, code)
	}
	if _, _, code := dsm(t, "", at(d, "add", "x", "1")...); code != 0 {
		t.Fatal("remote add failed")
	}
	if out, code := local("get", "x"); code != 0 || out != "6\n" {
		t.Fatalf("local mode does not see the daemon's write: %q, exit %d", out, code)
	}

	d.Stop()
	steps := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"add", "x", "1"}, "7\n", 0},
		{[]string{"cas", "x", "7", "70"}, "1\n", 0},
		{[]string{"cas", "nokey", "7", "70"}, "0\n", 0},
		{[]string{"mset", "a", "1", "b", "2"}, "OK\n", 0},
		{[]string{"mget", "a", "x", "none"}, "1\n70\n\n", 0},
		{[]string{"list", "[ab]"}, "a\nb\n", 0},
		{[]string{"del", "a"}, "1\n", 0},
		{[]string{"get", "a"}, "", exitNotFound},
		{[]string{"ping"}, "", exitError},
	}
	for _, s := range steps {
		if out, code := local(s.args...); out != s.out || code != s.code {
			t.Errorf("dsm -file %v = %q, exit %d; want %q, exit %d", s.args, out, code, s.out, s.code)
		}
	}
	out, code := local("-o", "json", "get", "x")
	if code != 0 || !strings.Contains(out, `"version"`) {
		t.Errorf("local get as JSON has no version: %q", out)
	}
	if out, code := local("info"); code != 0 || !strings.Contains(out, d.File) || !strings.Contains(out, "local") {
		t.Errorf("local info: %q, exit %d", out, code)
	}

	// The daemon starts again on the file and serves what local mode wrote.
	d.Resume(t)
	if out, _, code := dsm(t, "", at(d, "get", "x")...); code != 0 || out != "70\n" {
		t.Fatalf("after restart the daemon serves %q, exit %d; want 70", out, code)
	}
}

// TestLocalModeNoDaemon: a file no daemon ever served, created by the
// first write, and the seed's session through the prompt in local mode.
func TestLocalModeNoDaemon(t *testing.T) {
	file := filepath.Join(t.TempDir(), "solo.mem")
	if out, errOut, code := dsm(t, "", "-file", file, "set", "n", "1"); code != 0 || out != "OK\n" {
		t.Fatalf("set: %q %q exit %d", out, errOut, code)
	}
	out, errOut, code := dsm(t, "W\n-7\nR\nQ\n", "-file", file)
	if code != 0 || !strings.Contains(out, "Server: OK\n") || !strings.Contains(out, "Shared Value: -7\n") {
		t.Fatalf("local prompt: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, _, _ := dsm(t, "", "-file", file, "get", "value"); out != "-7\n" {
		t.Fatalf("value = %q, want -7", out)
	}
}

// syncBuffer is an output that a running prompt writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds want n times.
func (s *syncBuffer) waitFor(tb testing.TB, want string, n int) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(s.String(), want) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %q (x%d) in:\n%s", want, n, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPromptSurvivesRestart: the daemon restarts in the middle of a
// session, once between two commands and once while a command waits for
// it; the prompt reconnects by itself, says so, and carries on.
func TestPromptSurvivesRestart(t *testing.T) {
	d := startDaemon(t, "")
	inR, inW := io.Pipe()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(at(d, "-reconnect", "20s"), inR, &out, &errOut) }()
	type_ := func(line string) {
		t.Helper()
		if _, err := io.WriteString(inW, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}

	type_("W")
	type_("20")
	out.waitFor(t, "Server: OK", 1)

	// Restart between two commands.
	d.Restart(t)
	type_("R")
	out.waitFor(t, "Shared Value: 20", 1)
	out.waitFor(t, "reconnected to "+d.Addr, 1)

	// Stop, type while the daemon is away, then bring it back.
	d.Stop()
	type_("add counter 1")
	out.waitFor(t, "reconnecting", 1)
	d.Resume(t)
	out.waitFor(t, "reconnected to "+d.Addr, 2)
	out.waitFor(t, "\n1\n", 1)

	type_("Q")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("prompt exit %d\n%s\n%s", code, out.String(), errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("prompt did not quit")
	}
	if s := errOut.String(); s != "" {
		t.Errorf("errors during the session: %s", s)
	}
}

// TestTLS: -tls with -cacert reaches a daemon that serves TLS; without
// trusting its certificate dsm fails.
func TestTLS(t *testing.T) {
	cert := dsmtest.SelfSigned(t)
	d := dsmtest.Start(t, server.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile})
	if out, errOut, code := dsm(t, "", at(d, "-tls", "-cacert", cert.CertFile, "set", "x", "1")...); code != 0 || out != "OK\n" {
		t.Fatalf("set over TLS: %q %q exit %d", out, errOut, code)
	}
	if _, _, code := dsm(t, "", at(d, "-tls", "get", "x")...); code == 0 {
		t.Fatal("dsm trusted an unknown certificate")
	}
}
