package main

import (
	"errors"
	"fmt"
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
		{&client.Error{Op: "add", Kind: client.ErrNotInteger}, exitError},
		{errors.New("other"), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestComplete(t *testing.T) {
	if line, pos, ok := complete("ge", 2, '\t'); !ok || line != "get " || pos != 4 {
		t.Errorf("complete(ge) = %q, %d, %v", line, pos, ok)
	}
	if _, _, ok := complete("s", 1, '\t'); ok {
		t.Error("complete(s) is ambiguous (set, status) but completed")
	}
	if _, _, ok := complete("get x", 5, '\t'); ok {
		t.Error("completed an argument")
	}
}
