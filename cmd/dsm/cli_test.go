package main

import (
	"net"
	"slices"
	"strings"
	"testing"
)

// TestFlagsAnywhere: the flags work before and after the command, with
// one dash or two, --addr's port replaced by -p, the address from
// $DSM_ADDR, and a command's negative numbers stay arguments.
func TestFlagsAnywhere(t *testing.T) {
	d := startDaemon(t, "")
	host, port, _ := net.SplitHostPort(d.Addr)
	tests := []struct {
		name string
		args []string
		env  string
		out  string
	}{
		{"single dash before", []string{"-addr", d.Addr, "set", "x", "5"}, "", "OK\n"},
		{"single dash after", []string{"get", "x", "-addr", d.Addr}, "", "5\n"},
		{"double dash after, with =", []string{"get", "x", "--addr=" + d.Addr, "-timeout=5s"}, "", "5\n"},
		{"negative delta, flag after", []string{"add", "x", "-7", "--addr", d.Addr}, "", "-2\n"},
		{"cas with negatives", []string{"-addr", d.Addr, "cas", "x", "-2", "-3"}, "", "1\n"},
		{"-p on the host of --addr", []string{"get", "x", "--addr", host + ":1", "-p", port}, "", "-3\n"},
		{"-p alone", []string{"-p", port, "get", "x"}, "", "-3\n"},
		{"DSM_ADDR", []string{"get", "x"}, d.Addr, "-3\n"},
		{"--addr over DSM_ADDR", []string{"get", "x", "--addr", d.Addr}, freeAddr(t), "-3\n"},
		{"-o json after", []string{"get", "x", "-o", "json", "-addr", d.Addr}, "", `{"name":"x","value":"-3"}` + "\n"},
		{"daemon command, flag after", []string{"ping", "-addr", d.Addr}, "", "PONG\n"},
		{"after --, values", []string{"-addr", d.Addr, "set", "--", "y", "-addr"}, "", "OK\n"},
		{"lock options, flag before its --", []string{"lock", "-wait", "1s", "x", "-addr", d.Addr, "--", "add", "x", "-1"}, "", "-4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DSM_ADDR", tt.env)
			out, errOut, code := dsm(t, "", tt.args...)
			if code != 0 || out != tt.out {
				t.Errorf("dsm %s: exit %d, stdout %q, stderr %q; want %q",
					strings.Join(tt.args, " "), code, out, errOut, tt.out)
			}
		})
	}
	if out, _, _ := dsm(t, "", "-addr", d.Addr, "get", "y"); out != "-addr\n" {
		t.Errorf("a value after -- was taken for a flag: y = %q", out)
	}
}

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
