//go:build linux

package main

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestListPatternBound: dsm list refuses a pattern that can match no name
// (more elements other than '*' than names have bytes), through the
// mapping and through the daemon, and takes one at the bound.
func TestListPatternBound(t *testing.T) {
	d := startDaemon(t, "")
	long := strings.Repeat("n", 120) // shm's default name limit
	for _, mode := range [][]string{{"-file", d.File}, at(d)} {
		args := append(mode, "list", long+"?")
		if _, errOut, code := dsm(t, "", args...); code == 0 || !strings.Contains(errOut, "can match no name") {
			t.Errorf("dsm %s list LONG?: exit %d, stderr %q", mode[0], code, errOut)
		}
		args = append(mode, "list", "*"+long)
		if out, errOut, code := dsm(t, "", args...); code != 0 || out != "" {
			t.Errorf("dsm %s list *LONG: exit %d, stdout %q, stderr %q", mode[0], code, out, errOut)
		}
	}
}

// endingContext is a context whose Err reports Canceled from its limit-th
// call on, counting the calls: the work a walk does after it ends.
type endingContext struct {
	context.Context
	calls atomic.Int64
	limit int64
}

func (c *endingContext) Err() error {
	if c.calls.Add(1) >= c.limit {
		return context.Canceled
	}
	return nil
}

// TestListLocalStopsWhenContextEnds: a local list stops walking the file
// once its context ends and returns the context's error, instead of
// walking every slot and printing a full list.
func TestListLocalStopsWhenContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	l, err := openLocal(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const vars = 200
	for i := range vars {
		if err := l.Set(context.Background(), "v"+strconv.Itoa(i), "1"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := &endingContext{Context: context.Background(), limit: 10}
	names, err := l.List(ctx, "v*")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List after its context ended = %d names, %v; want context.Canceled", len(names), err)
	}
	// The walk asks its context once per variable, and List once more at
	// the end: it stopped at the limit-th of the 200.
	if n := ctx.calls.Load(); n != ctx.limit+1 {
		t.Errorf("the context was asked %d times, want %d (stopped at variable %d of %d)", n, ctx.limit+1, ctx.limit, vars)
	}
}

// TestWatchPatternBound: dsm watch refuses a pattern that can match no
// name, through the mapping (compiled once when the watch starts) and
// through the daemon (which refuses the PSUBSCRIBE), instead of waiting
// for changes that can never come.
func TestWatchPatternBound(t *testing.T) {
	d := startDaemon(t, "")
	pattern := strings.Repeat("n", 120) + "?*" // 121 bytes; the name limit is 120
	if w, err := watchLocal(d.File, []string{pattern}); err == nil || !strings.Contains(err.Error(), "can match no name") {
		if w != nil {
			w.Close()
		}
		t.Errorf("local watch of a pattern too long: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, errOut, code := dsm(t, "", at(d, "watch", "-n", "1", pattern)...); code == 0 || !strings.Contains(errOut, "can match no channel") {
			t.Errorf("remote watch of a pattern too long: exit %d, stderr %q", code, errOut)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("remote watch of a pattern too long still waits after 30 s")
	}
}
