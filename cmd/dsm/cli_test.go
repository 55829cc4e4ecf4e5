package main

import (
	"slices"
	"strings"
	"testing"
)

// TestHelp: every way of asking for help prints it on stdout, with
// nothing on stderr, and exits 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"-help"},
		{"help", "get"}, {"get", "--help"}, {"get", "-h"}, {"lock", "-h"},
	} {
		out, errOut, code := dsm(t, "", args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("dsm %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errOut, out)
		}
		if len(args) > 1 && !strings.Contains(out, "dsm "+args[len(args)-1]+" ") && !strings.Contains(out, "dsm "+args[0]+" ") {
			t.Errorf("dsm %s: not the command's own help:\n%s", strings.Join(args, " "), out)
		}
	}
	if out, _, _ := dsm(t, "", "--help"); !strings.Contains(out, "DSM_ADDR") || !strings.Contains(out, "Exit codes") {
		t.Errorf("help leaves out the environment or exit codes:\n%s", out)
	}
}

// TestCompletion: dsm completion writes each shell's script, and cobra's
// completion request lists the commands.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, errOut, code := dsm(t, "", "completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, "dsm") {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes", shell, code, errOut, len(out))
		}
	}
	out, _, code := dsm(t, "", "__complete", "ge")
	if code != 0 || !strings.Contains(out, "get\t") {
		t.Errorf("completing ge: exit %d, %q", code, out)
	}
}

func TestNormalizeArgs(t *testing.T) {
	root := newRoot(&config{}, nil, nil, nil, new(int))
	tests := []struct{ in, want string }{
		{"", ""},
		{"-addr h:1", "--addr h:1"},
		{"-addr=h:1 -tls", "--addr=h:1 --tls"},
		{"get x -addr h:1", "get --addr h:1 -- x"},
		{"-o json add x -5", "add -o json -- x -5"},
		{"get -- x -addr", "get -- x -addr"},
		{"lock -read a -- set a 1 -addr h", "lock -- -read a -- set a 1 -addr h"},
		{"ping -p 5", "-p 5 -- ping"},
		{"help get", "help get"},
		{"completion bash -addr h", "completion --addr h bash"},
		{"__complete get -addr", "__complete get -addr"},
		{"-nope get", "-nope get"},
		{"cluster status -addr h:1", "cluster status --addr h:1 --"},
		{"-o json cluster join n4 h:2", "cluster join -o json -- n4 h:2"},
		{"cluster recover -file f -node-id n1", "cluster recover --file f -- -node-id n1"},
		{"cluster bogus", "cluster -- bogus"},
	}
	for _, tt := range tests {
		got := strings.Join(normalizeArgs(strings.Fields(tt.in), root), " ")
		if got != tt.want {
			t.Errorf("normalizeArgs(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := normalizeArgs(nil, root); got == nil || !slices.Equal(got, []string{}) {
		t.Errorf("normalizeArgs(nil) = %#v, want an empty slice (cobra reads os.Args for nil)", got)
	}
}
