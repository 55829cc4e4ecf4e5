package server

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
)

// monitorPrefix is a MONITOR line's time and client: "+1700000000.123456
// [0 127.0.0.1:5000] ".
var monitorPrefix = regexp.MustCompile(`^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] `)

// monitorScript's commands cover what MONITOR shows and hides: quoting,
// redacted secrets, a transaction, admin commands and refused ones.
var monitorScript = [][]string{
	{"SET", "a", "1"}, {"GET", "a"}, {"SET", "q", "a\"b\\c\n\r\t\x01\xc3\xa9 z"},
	{"AUTH", "default", "pw"}, {"HELLO", "2", "AUTH", "default", "pw"}, {"hello", "2", "setname", "n1"},
	{"MULTI"}, {"SET", "x", "1"}, {"INCR", "x"}, {"EXEC"}, {"MULTI"}, {"GET", "x"}, {"DISCARD"},
	{"CONFIG", "GET", "save"}, {"CLIENT", "LIST"}, {"SLOWLOG", "LEN"}, {"bogus"}, {"GET"},
	{"CLIENT", "SETNAME", "w2"}, {"DEL", "a", "q"}, {"PING"}, {"ECHO", "end"},
}

// monitored runs monitorScript on addr while a MONITOR connection
// watches, and returns its lines without their time and address.
func monitored(t *testing.T, addr string) []string {
	t.Helper()
	m, c := dialRaw(t, addr), dialRaw(t, addr)
	if got := m.do("MONITOR"); got != "+OK\r\n" {
		t.Fatalf("MONITOR = %q", got)
	}
	for _, args := range monitorScript {
		c.do(args...)
	}
	var lines []string
	for {
		line := m.reply()
		if !monitorPrefix.MatchString(line) {
			t.Fatalf("MONITOR line %q has not Redis' prefix", line)
		}
		line = monitorPrefix.ReplaceAllString(strings.TrimSuffix(line, "\r\n"), "")
		lines = append(lines, line)
		if line == `"ECHO" "end"` {
			return lines
		}
	}
}

// TestMonitorMatchesRedis: MONITOR shows the commands Redis 7's shows,
// quoted alike.
func TestMonitorMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	want, got := monitored(t, redisAddr), monitored(t, ts.addr)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("MONITOR lines:\n dsm:\n  %s\n redis:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestMonitorClosesCleanly: a monitor that hangs up stops costing; a
// monitor may also subscribe and unsubscribe without leaving MONITOR.
func TestMonitorClosesCleanly(t *testing.T) {
	ts := startServer(t, Config{})
	m, c := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	m.do("MONITOR")
	m.do("SUBSCRIBE", "x")
	m.reply() // its own SUBSCRIBE, shown after it ran
	m.do("UNSUBSCRIBE", "x")
	m.reply()
	c.do("SET", "k", "v")
	if line := m.reply(); !strings.HasSuffix(line, "\"SET\" \"k\" \"v\"\r\n") {
		t.Fatalf("monitor line after UNSUBSCRIBE = %q", line)
	}
	m.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for ts.Server.monitors.n.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a closed monitor is still registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisCliMonitor: redis-cli's MONITOR mode prints dsm's lines.
func TestRedisCliMonitor(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		ci.NeedOrSkip(t, "redis-cli is not installed (apt-get install redis-tools)")
	}
	ts := startServer(t, Config{})
	host, port, _ := net.SplitHostPort(ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "MONITOR")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "OK" {
		t.Fatalf("redis-cli MONITOR first line %q, %v", sc.Text(), sc.Err())
	}
	c := dialRaw(t, ts.addr)
	c.do("SET", "greeting", "hello world")
	c.do("AUTH", "default", "secret")
	for _, want := range []string{`] "SET" "greeting" "hello world"`, `] "AUTH" "(redacted)" "(redacted)"`} {
		if !sc.Scan() || !strings.HasSuffix(sc.Text(), want) || !regexp.MustCompile(`^\d+\.\d{6} \[0 `).MatchString(sc.Text()) {
			t.Fatalf("redis-cli MONITOR printed %q, want a line ending %q (%v)", sc.Text(), want, sc.Err())
		}
	}
}
