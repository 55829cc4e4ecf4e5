package main

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"", "", true},
		{"", "x", false},
		{"user:*", "user:1", true},
		{"user:*", "users", false},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true},
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{"[\\]]", "]", true},
		{"*a*b", "xaxxb", true},
		{"*a*b", "xaxxc", false},
		{"a*", "a", true},
		{"**x", "yx", true},
		{"abc", "ab", false},
		{"ab", "abc", false},
		{"[abc", "a", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// TestGlobMatchNoBlowUp: a pattern of many stars against a long name that
// does not match must finish at once (a naive recursive matcher takes
// exponential time here).
func TestGlobMatchNoBlowUp(t *testing.T) {
	pattern := strings.Repeat("*a", 30) + "b"
	name := strings.Repeat("a", 200)
	if globMatch(pattern, name) {
		t.Fatal("matched")
	}
}
