package server

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		nocase     bool
		want       bool
	}{
		{"*", "", false, true}, {"*", "abc", false, true}, {"a*", "abc", false, true}, {"*c", "abc", false, true},
		{"a?c", "abc", false, true}, {"a?c", "ac", false, false}, {"a[bx]c", "axc", false, true},
		{"a[^b]c", "abc", false, false}, {"a[^b]c", "adc", false, true}, {"a[a-c]", "ab", false, true},
		{"a[c-a]", "ab", false, true}, {"a[a-c]", "ad", false, false}, {`a\*`, "a*", false, true},
		{`a\*`, "ab", false, false}, {`a[\]]`, "a]", false, true}, {"a[bc", "ac", false, true},
		{"ABC", "abc", true, true}, {"ABC", "abc", false, false}, {"a[B-C]", "ab", true, true},
		{"*a*b*c*", "xxaxxbxxcxx", false, true}, {"*a*b*c*", "xxaxxcxxbxx", false, false},
		{"a*", "", false, false}, {"", "", false, true}, {`\`, `\`, false, true}, {"a[]b", "ab", false, false},
	}
	for _, c := range cases {
		if got := globMatch([]byte(c.pattern), []byte(c.s), c.nocase); got != c.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", c.pattern, c.s, c.nocase, got, c.want)
		}
	}
}

// TestGlobMatchLinear: a pattern that makes a recursive matcher take
// exponential time is matched at once.
func TestGlobMatchLinear(t *testing.T) {
	pattern := []byte(strings.Repeat("a*", 30) + "b")
	s := []byte(strings.Repeat("a", 5000))
	if globMatch(pattern, s, false) {
		t.Errorf("matched")
	}
}

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "-1": -1, "42": 42, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := parseInt([]byte(s)); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1e3", "99999999999999999999"} {
		if _, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) accepted", s)
		}
	}
	if u, ok := parseUint([]byte("0018446744073709551615")); !ok || u != 1<<64-1 {
		t.Errorf("parseUint max = %d, %v", u, ok)
	}
	if _, ok := parseUint([]byte("18446744073709551616")); ok {
		t.Errorf("parseUint overflow accepted")
	}
}
