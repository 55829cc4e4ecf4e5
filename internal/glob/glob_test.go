package glob

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
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
		// as dsm watch and dsm -file list use it
		{"*", "", false, true},
		{"*", "anything/at/all", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"user:*", "user:1", false, true},
		{"user:*", "users", false, false},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true},
		{"h[a-b]llo", "hcllo", false, false},
		{`h\*llo`, "h*llo", false, true},
		{`h\*llo`, "hello", false, false},
		{"[\\]]", "]", false, true},
		{"*a*b", "xaxxb", false, true},
		{"*a*b", "xaxxc", false, false},
		{"a*", "a", false, true},
		{"**x", "yx", false, true},
		{"abc", "ab", false, false},
		{"ab", "abc", false, false},
		{"[abc", "a", false, true},
	}
	for _, c := range cases {
		if got := Match([]byte(c.pattern), []byte(c.s), c.nocase); got != c.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", c.pattern, c.s, c.nocase, got, c.want)
		}
	}
}

// TestMatchLinear: a pattern that makes a recursive matcher take
// exponential time is matched at once.
func TestMatchLinear(t *testing.T) {
	pattern := []byte(strings.Repeat("a*", 30) + "b")
	s := []byte(strings.Repeat("a", 5000))
	if Match(pattern, s, false) {
		t.Errorf("matched")
	}
}
