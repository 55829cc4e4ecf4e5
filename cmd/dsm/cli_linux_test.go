//go:build linux

package main

import (
	"net"
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
		{"-p on every host of --addr", []string{"get", "x", "--addr", freeAddr(t) + "," + host + ":1", "-p", port}, "", "-3\n"},
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
