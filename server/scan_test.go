package server

import (
	"strings"
	"testing"
)

// TestScanPatternBound: KEYS and SCAN MATCH refuse a pattern with more
// elements other than '*' than names have bytes (it can match nothing),
// take one with exactly as many, count a run of '*' as nothing, and match
// with a class spelled in a megabyte as with a short one.
func TestScanPatternBound(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	long := strings.Repeat("n", ts.nameMax)
	c.do("SET", long, "1")
	c.do("SET", "short", "1")
	refused := "-ERR pattern can match no name"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"KEYS", long + "?"}, refused},
		{[]string{"KEYS", strings.Repeat("?", 1<<19)}, refused},
		{[]string{"SCAN", "0", "MATCH", "*" + long + "?*"}, refused},
		{[]string{"KEYS", long}, "*1\r\n" + bulk(long)},
		{[]string{"KEYS", strings.Repeat("*", 1<<19) + "t"}, "*1\r\n" + bulk("short")},
		{[]string{"KEYS", "*[" + strings.Repeat("xyz", 1<<17) + "]t"}, "*0\r\n"},
		{[]string{"KEYS", "s[" + strings.Repeat("xyzh", 1<<17) + "]ort"}, "*1\r\n" + bulk("short")},
		{[]string{"SCAN", "0", "MATCH", long}, "*2\r\n" + bulk("0") + "*1\r\n" + bulk(long)},
	} {
		if got := c.do(tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%.40q... = %.80q, want %q...", tc.args, got, tc.want)
		}
	}
}
