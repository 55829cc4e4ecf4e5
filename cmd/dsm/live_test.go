//go:build linux

package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/shm"
)

// watchLine is one line of watch's output.
var watchLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ (\S+) (.*) \(version (\d+)\)$`)

// watchUntilDone runs dsm with args (a watch with -n) while set(i) changes
// variables every 20 ms, until the watch exits; it returns what the watch
// printed.
func watchUntilDone(t *testing.T, set func(i int), args ...string) string {
	t.Helper()
	type ran struct {
		out, errOut string
		code        int
	}
	done := make(chan ran, 1)
	go func() {
		out, errOut, code := dsm(t, "", args...)
		done <- ran{out, errOut, code}
	}()
	for i := 1; ; i++ {
		select {
		case r := <-done:
			if r.code != 0 {
				t.Fatalf("dsm %q: exit %d: %s", args, r.code, r.errOut)
			}
			return r.out
		case <-time.After(20 * time.Millisecond):
			if i > 500 {
				t.Fatalf("dsm %q did not end", args)
			}
			set(i)
		}
	}
}

// checkWatch checks that out has want lines about names, with rising
// versions per name.
func checkWatch(t *testing.T, out string, want int, names ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != want {
		t.Fatalf("watch printed %d lines, want %d:\n%s", len(lines), want, out)
	}
	last := map[string]int{}
	for _, l := range lines {
		m := watchLine.FindStringSubmatch(l)
		if m == nil || !strings.Contains(" "+strings.Join(names, " ")+" ", " "+m[1]+" ") {
			t.Fatalf("watch line %q: want TIME NAME VALUE (version N) for %v", l, names)
		}
		ver, _ := strconv.Atoi(m[3])
		if ver <= last[m[1]] {
			t.Errorf("watch line %q: version not above %d", l, last[m[1]])
		}
		last[m[1]] = ver
	}
}

// TestWatchRemote: dsm watch prints the changes of a name and of a
// pattern, made by another client.
func TestWatchRemote(t *testing.T) {
	d := startDaemon(t, "")
	c, err := client.Dial(context.Background(), d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	set := func(i int) {
		c.Set(context.Background(), "x", strconv.Itoa(i))
		c.Set(context.Background(), "p"+strconv.Itoa(i%2), "v")
	}
	out := watchUntilDone(t, set, at(d, "watch", "-n", "4", "x", "p*")...)
	checkWatch(t, out, 4, "x", "p0", "p1")
	if out, errOut, code := dsm(t, "", at(d, "watch")...); code != exitError || !strings.Contains(errOut, "usage: watch") {
		t.Errorf("watch with no name: exit %d, %q %q", code, out, errOut)
	}
}

// TestWatchLocal: dsm -file watch prints the changes another process makes
// to the file, with no daemon.
func TestWatchLocal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	m, err := shm.Open(shm.Config{Path: file, Vars: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	set := func(i int) { m.Set([]byte("x"), shm.Int(int64(i))) }
	out := watchUntilDone(t, set, "-file", file, "watch", "-n", "2", "x")
	checkWatch(t, out, 2, "x")
	out = watchUntilDone(t, func(i int) { m.Delete([]byte("x")); set(i) }, "-file", file, "-o", "json", "watch", "-n", "1", "x*")
	if !strings.Contains(out, `"name":"x"`) || !strings.Contains(out, `"version":`) {
		t.Errorf("watch -o json printed %q", out)
	}
}

// TestLockCommand: dsm lock runs commands on the locks and releases them;
// it waits for (and times out on) locks another client holds; the prompt's
// lock and unlock work; local mode locks through the file.
func TestLockCommand(t *testing.T) {
	d := startDaemon(t, "")
	if out, errOut, code := dsm(t, "", at(d, "lock", "x", "--", "set", "x", "5")...); code != 0 || out != "OK\n" {
		t.Fatalf("lock x -- set x 5: exit %d, %q %q", code, out, errOut)
	}
	if out, _, _ := dsm(t, "", at(d, "lock", "x", "y", "--", "add", "x", "1", "--", "add", "y", "2", "--", "mget", "x", "y")...); out != "6\n2\n6\n2\n" {
		t.Errorf("lock x y -- add -- add -- mget printed %q", out)
	}
	c, err := client.Dial(context.Background(), d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, err := c.Lock(context.Background(), client.LockOptions{}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := dsm(t, "", at(d, "lock", "-wait", "100ms", "x", "--", "get", "x")...); code == 0 || !strings.Contains(errOut, "not free") {
		t.Errorf("lock of a held variable: exit %d, %q", code, errOut)
	}
	held.Unlock(context.Background())
	out, errOut, code := dsm(t, "lock x\nset x 7\nget x\nunlock\nget x\nQ\n", at(d)...)
	if code != 0 || !strings.Contains(out, "Locked x") || !strings.Contains(out, "Unlocked") || strings.Count(out, "7\n") != 2 {
		t.Errorf("prompt lock session: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := dsm(t, "", at(d, "lock", "x")...); code != exitError || !strings.Contains(errOut, "usage: lock") {
		t.Errorf("lock without a command: exit %d, %q", code, errOut)
	}

	file := filepath.Join(t.TempDir(), "local.mem")
	if out, errOut, code := dsm(t, "", "-file", file, "lock", "n", "--", "add", "n", "3", "--", "get", "n"); code != 0 || out != "3\n3\n" {
		t.Errorf("local lock: exit %d, %q %q", code, out, errOut)
	}
	// -wait 0 tries once in local mode too: a lock another holder keeps
	// fails at once.
	m, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g, err := m.Lock(context.Background(), [][]byte{[]byte("n")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Unlock()
	type ran struct {
		errOut string
		code   int
	}
	done := make(chan ran, 1)
	go func() {
		_, errOut, code := dsm(t, "", "-file", file, "lock", "-wait", "0", "n", "--", "get", "n")
		done <- ran{errOut, code}
	}()
	select {
	case r := <-done:
		if r.code == 0 || !strings.Contains(r.errOut, "not free") {
			t.Errorf("local lock -wait 0 of a held variable: exit %d, %q", r.code, r.errOut)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("local lock -wait 0 of a held variable still waited after 5 s")
	}
}
