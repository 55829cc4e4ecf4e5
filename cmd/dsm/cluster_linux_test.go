//go:build linux

package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/dsmtest"
)

// setAt stores name = value in the daemon d, through a client of its own.
func setAt(tb testing.TB, d *dsmtest.Daemon, name, value string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.Addr, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, name, value); err != nil {
		tb.Fatal(err)
	}
}

// TestSeveralAddrs: with -addr listing a dead node first, one-shot
// commands reach the live one, and status names it.
func TestSeveralAddrs(t *testing.T) {
	d := startDaemon(t, "")
	setAt(t, d, "x", "7")
	addrs := freeAddr(t) + "," + d.Addr
	for _, tt := range []struct {
		args []string
		out  string
	}{
		{[]string{"-addr", addrs, "get", "x"}, "7\n"},
		{[]string{"get", "x", "--addr=" + addrs}, "7\n"},
		{[]string{"-addr", addrs, "add", "x", "1"}, "8\n"},
		{[]string{"-addr", addrs, "status"}, d.Addr},
	} {
		out, errOut, code := dsm(t, "", tt.args...)
		if code != 0 || !strings.Contains(out, tt.out) {
			t.Errorf("dsm %s: exit %d, stdout %q, stderr %q; want %q",
				strings.Join(tt.args, " "), code, out, errOut, tt.out)
		}
	}
	_, _, code := dsm(t, "", "-addr", freeAddr(t)+","+freeAddr(t), "-timeout", "2s", "get", "x")
	if code != exitUnreachable {
		t.Errorf("with every node dead: exit %d, want %d", code, exitUnreachable)
	}
}

// TestPromptMovesOn: the node in use stops in the middle of a session;
// the prompt goes on with the other node and says so.
func TestPromptMovesOn(t *testing.T) {
	d1, d2 := startDaemon(t, ""), startDaemon(t, "")
	setAt(t, d1, "x", "1")
	setAt(t, d2, "x", "2")
	inR, inW := io.Pipe()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"-addr", d1.Addr + "," + d2.Addr}, inR, &out, &errOut) }()
	type_ := func(line string) {
		t.Helper()
		if _, err := io.WriteString(inW, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	type_("get x")
	out.waitFor(t, "1\n", 1)
	d1.Stop()
	type_("get x")
	out.waitFor(t, "\n2\n", 1)
	out.waitFor(t, "reconnected to "+d2.Addr, 1)
	type_("add x 1")
	out.waitFor(t, "\n3\n", 1)
	type_("Q")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("prompt exit %d\n%s\n%s", code, out.String(), errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("prompt did not quit")
	}
	if s := errOut.String(); s != "" {
		t.Errorf("errors during the session: %s", s)
	}
}
