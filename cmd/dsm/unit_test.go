package main

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dsm-dev/dsm/client"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"  get   x ", []string{"get", "x"}, false},
		{`set x "hello world"`, []string{"set", "x", "hello world"}, false},
		{`set x 'it''s'`, []string{"set", "x", "its"}, false},
		{`set x "a\"b\\c\n"`, []string{"set", "x", "a\"b\\c\n"}, false},
		{`set x ""`, []string{"set", "x", ""}, false},
		{`set x "open`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.line)
		if (err != nil) != tt.err || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q, error %v", tt.line, got, err, tt.want, tt.err)
		}
	}
}

func TestSeedInt(t *testing.T) {
	tests := map[string]int32{"": 0, "20": 20, "-7": -7, "4294967297": 1, "2147483648": -2147483648, "text": 0}
	for in, want := range tests {
		if got := seedInt(in); got != want {
			t.Errorf("seedInt(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{&usageError{msg: "x"}, exitError},
		{&client.Error{Op: "get", Kind: client.ErrNotFound}, exitNotFound},
		{&client.Error{Op: "dial", Kind: client.ErrAuth}, exitRefused},
		{&client.Error{Op: "dial", Kind: client.ErrRefused}, exitRefused},
		{&client.Error{Op: "get", Kind: client.ErrUnreachable}, exitUnreachable},
		{&client.Error{Op: "set", Kind: client.ErrClusterDown}, exitUnreachable},
		{&client.Error{Op: "set", Kind: client.ErrUncertain}, exitError},
		{&client.Error{Op: "add", Kind: client.ErrNotInteger}, exitError},
		{errors.New("other"), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestComplete: Tab completes a command name from the first word and a
// variable name from the others.
func TestComplete(t *testing.T) {
	c := completer{names: func(prefix string) []string {
		if prefix != "gr" {
			t.Errorf("names asked for %q, want gr", prefix)
		}
		return []string{"greeting", "group"}
	}}
	tests := []struct {
		line string
		want []string
		n    int
	}{
		{"ge", []string{"t "}, 2},
		{"s", []string{"et ", "tatus "}, 1},
		{"get gr", []string{"eeting ", "oup "}, 2},
	}
	for _, tt := range tests {
		got, n := c.Do([]rune(tt.line), len(tt.line))
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if !slices.Equal(gs, tt.want) || n != tt.n {
			t.Errorf("Do(%q) = %q, %d; want %q, %d", tt.line, gs, n, tt.want, tt.n)
		}
	}
}
