package server

import (
	"regexp"
	"strings"
	"testing"
)

// slowEntryShape matches the figures of a SLOWLOG entry that differ
// between two servers: id, time, microseconds, and the client's port.
var (
	slowFigures = regexp.MustCompile(`\*6\r\n:\d+\r\n:\d+\r\n:\d+\r\n`)
	slowAddr    = regexp.MustCompile(`\$\d+\r\n127\.0\.0\.1:\d+\r\n`)
)

func normalizeSlowlog(reply string) string {
	reply = slowFigures.ReplaceAllString(reply, "*6\r\n:#\r\n:#\r\n:#\r\n")
	return slowAddr.ReplaceAllString(reply, "$#\r\n127.0.0.1:#\r\n")
}

// TestSlowlogMatchesRedis: SLOWLOG and its two settings answer as Redis
// 7's: what is logged (every command at threshold 0, arguments cut at 32
// and 128 bytes, AUTH's redacted), the entries' shape, the errors, and
// CONFIG SET's checks and atomicity.
func TestSlowlogMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	many := []string{"MSET"}
	for i := range 20 {
		many = append(many, "k"+itoa(i), "v")
	}
	for _, args := range [][]string{
		{"CONFIG", "GET", "slowlog-max-len"}, {"CONFIG", "GET", "slowlog-log-slower-than"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "abc"}, {"CONFIG", "SET", "slowlog-log-slower-than", "-2"},
		{"CONFIG", "SET", "slowlog-max-len", "-1"}, {"CONFIG", "SET", "slowlog-max-len", "1.5"},
		{"CONFIG", "SET", "slowlog-max-len", "3", "slowlog-max-len", "4"},
		{"CONFIG", "SET", "slowlog-max-len", "5", "bogus", "1"}, {"CONFIG", "GET", "slowlog-max-len"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "3"}, {"CONFIG", "GET", "slowlog-log-*"},
		{"SLOWLOG", "RESET"}, {"SET", "a", "1"}, {"SLOWLOG", "LEN"}, {"SLOWLOG", "GET"},
		{"CONFIG", "SET", "slowlog-max-len", "10"}, {"SLOWLOG", "RESET"},
		{"SET", "long", strings.Repeat("x", 200)}, many, {"CLIENT", "SETNAME", "w1"},
		{"AUTH", "default", "secret"}, {"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "w2"},
		{"SLOWLOG", "GET", "-1"}, {"SLOWLOG", "GET", "2"}, {"SLOWLOG", "GET", "0"},
		{"SLOWLOG", "GET", "-2"}, {"SLOWLOG", "GET", "x"}, {"SLOWLOG", "GET", "1", "2"}, {"SLOWLOG", "LEN", "x"},
		{"SLOWLOG", "bogus"}, {"SLOWLOG"},
		{"CONFIG", "SET", "slowlog-log-slower-than", "-1"}, {"SLOWLOG", "RESET"}, {"GET", "a"}, {"SLOWLOG", "LEN"},
	} {
		want, got := normalizeSlowlog(theirs.do(args...)), normalizeSlowlog(ours.do(args...))
		if args[0] == "HELLO" {
			continue // its reply names the server
		}
		if got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
}

// TestSlowlogThreshold: a command faster than the threshold is not
// logged; SLOWLOG GET's default is 10 entries; a smaller slowlog-max-len
// drops the oldest.
func TestSlowlogThreshold(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	c.do("SET", "a", "1")
	if got := c.do("SLOWLOG", "LEN"); got != ":0\r\n" {
		t.Fatalf("SLOWLOG LEN at the 10 ms default = %q", got)
	}
	c.do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	for range 15 {
		c.do("GET", "a")
	}
	if got := c.do("SLOWLOG", "LEN"); got != ":16\r\n" {
		t.Fatalf("SLOWLOG LEN after 16 commands = %q", got)
	}
	if got := c.do("SLOWLOG", "GET"); !strings.HasPrefix(got, "*10\r\n") {
		t.Fatalf("SLOWLOG GET = %q, want 10 entries", got)
	}
	c.do("CONFIG", "SET", "slowlog-max-len", "2")
	if got := c.do("SLOWLOG", "LEN"); got != ":2\r\n" {
		t.Fatalf("SLOWLOG LEN after slowlog-max-len 2 = %q", got)
	}
}
