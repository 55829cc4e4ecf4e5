package server

import (
	"regexp"
	"testing"
)

// TestDebugDigest: two servers given the same writes in another order have
// the same digest; one more write, or another version of the same value,
// changes it.
func TestDebugDigest(t *testing.T) {
	a := dialRaw(t, startServer(t, Config{}).addr)
	b := dialRaw(t, startServer(t, Config{}).addr)
	digest := func(c *rawClient) string {
		t.Helper()
		r := c.do("DEBUG", "DIGEST")
		if !regexp.MustCompile(`^\$40\r\n[0-9a-f]{40}\r\n$`).MatchString(r) {
			t.Fatalf("DEBUG DIGEST answered %q, want 40 hex digits", r)
		}
		return r
	}
	empty := digest(a)
	a.do("SET", "x", "1")
	a.do("SET", "y", "two")
	b.do("SET", "y", "two")
	b.do("SET", "x", "1")
	if digest(a) != digest(b) {
		t.Fatalf("same variables, different digests: %s, %s", digest(a), digest(b))
	}
	if digest(a) == empty {
		t.Fatalf("the digest did not change with the writes")
	}
	b.do("SET", "x", "1") // same value, next version
	if digest(a) == digest(b) {
		t.Fatalf("another version of x, same digest")
	}
	a.do("SET", "x", "1")
	a.do("SET", "z", "3")
	if digest(a) == digest(b) {
		t.Fatalf("one more variable, same digest")
	}
}
