//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/dsmtest"
)

// dsmProcess runs dsm with args in a process of its own (this test
// binary, by dsmArgsEnv): a local process with its own mapping.
func dsmProcess(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dsmArgsEnv+"="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tb.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// role is a node's cluster_role.
func role(t *testing.T, nd *dsmtest.Node) string {
	info, err := dsmtest.DialNode(t, nd).Info(context.Background(), "cluster")
	if err != nil {
		t.Fatal(err)
	}
	return info["cluster_role"]
}

// TestLocalModeOnClusterNode: dsm -file on a follower's file, a process
// of its own, writes through the node's daemon (set, add), reads its
// write and the other nodes read it; get -sync sees a write the leader
// acknowledged; with the daemon stopped, get goes on and set fails as
// unreachable, naming the daemon.
func TestLocalModeOnClusterNode(t *testing.T) {
	nodes := dsmtest.StartCluster(t, 3)
	var f, leader *dsmtest.Node
	for _, nd := range nodes {
		if role(t, nd) == "leader" {
			leader = nd
		} else if f == nil {
			f = nd
		}
	}
	if f == nil || leader == nil {
		t.Fatal("no leader and follower")
	}
	ctx := context.Background()
	for _, tt := range []struct {
		args []string
		out  string
	}{
		{[]string{"-file", f.File, "set", "x", "42"}, "OK\n"},
		{[]string{"-file", f.File, "add", "n", "5"}, "5\n"},
		{[]string{"-file", f.File, "get", "x"}, "42\n"},
	} {
		out, errOut, code := dsmProcess(t, tt.args...)
		if code != 0 || out != tt.out {
			t.Fatalf("dsm %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(tt.args, " "), code, out, errOut, tt.out)
		}
	}
	for _, nd := range nodes {
		if v, err := dsmtest.DialNode(t, nd).Get(ctx, "x"); err != nil || v != "42" {
			t.Fatalf("node %s reads x = %q, %v", nd.Addr, v, err)
		}
	}
	for i := range 5 {
		want := fmt.Sprint(100 + i)
		if err := dsmtest.DialNode(t, leader).Set(ctx, "y", want); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := dsmProcess(t, "-file", f.File, "get", "-sync", "y")
		if code != 0 || out != want+"\n" {
			t.Fatalf("get -sync y after the leader's SET %s: exit %d, %q, %q", want, code, out, errOut)
		}
	}

	f.Stop()
	if out, errOut, code := dsmProcess(t, "-file", f.File, "get", "x"); code != 0 || out != "42\n" {
		t.Fatalf("get with the daemon stopped: exit %d, %q, %q", code, out, errOut)
	}
	out, errOut, code := dsmProcess(t, "-file", f.File, "set", "x", "1")
	if code != exitUnreachable || !strings.Contains(errOut, "daemon is not running") {
		t.Fatalf("set with the daemon stopped: exit %d, stdout %q, stderr %q; want exit %d naming the daemon", code, out, errOut, exitUnreachable)
	}
	t.Logf("set with the daemon stopped: %s", strings.TrimSpace(errOut))
}
