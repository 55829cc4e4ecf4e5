package server

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestStringWritesPublish: APPEND, SETRANGE, SETNX and GETDEL each publish
// their change on __dsm__:NAME as SET and DEL do.
func TestStringWritesPublish(t *testing.T) {
	ts := startServer(t, Config{})
	sub := dialRaw(t, ts.addr)
	sub.do("PSUBSCRIBE", "__dsm__:s*")
	other := dialRaw(t, ts.addr)
	for _, step := range []struct {
		args []string
		text string // the value in the message, "" for a removal
	}{
		{[]string{"SETNX", "s1", "a"}, "a"},
		{[]string{"APPEND", "s1", "bc"}, "abc"},
		{[]string{"SETRANGE", "s1", "1", "X"}, "aXc"},
		{[]string{"GETDEL", "s1"}, ""},
	} {
		other.do(step.args...)
		got := sub.reply()
		if !strings.Contains(got, "__dsm__:s1") {
			t.Fatalf("after %q: message %q, want one on __dsm__:s1", step.args, got)
		}
		last := got[strings.LastIndex(strings.TrimSuffix(got, "\r\n"), "\r\n")+2:]
		_, text, _ := strings.Cut(strings.TrimSuffix(last, "\r\n"), " ")
		if text != step.text {
			t.Errorf("after %q: message %q carries %q, want %q", step.args, got, text, step.text)
		}
	}
}

// TestAppendIsAtomic: concurrent APPENDs to one variable lose none of
// their bytes, as a read then a write would.
func TestAppendIsAtomic(t *testing.T) {
	ts := startServer(t, Config{})
	const clients, each = 4, 50
	var wg sync.WaitGroup
	for range clients {
		c := dialRaw(t, ts.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c.do("APPEND", "log", "x")
			}
		}()
	}
	wg.Wait()
	c := dialRaw(t, ts.addr)
	if got, want := c.do("STRLEN", "log"), ":"+strconv.Itoa(clients*each)+"\r\n"; got != want {
		t.Errorf("STRLEN after %d APPENDs = %q, want %q", clients*each, got, want)
	}
}

// TestMSetNXIsAtomic: of several clients racing MSETNX over the same two
// names, exactly one stores, and both names hold its value.
func TestMSetNXIsAtomic(t *testing.T) {
	ts := startServer(t, Config{})
	for round := range 20 {
		a, b := "a"+strconv.Itoa(round), "b"+strconv.Itoa(round)
		var wg sync.WaitGroup
		wins := make([]string, 4)
		for i := range wins {
			c := dialRaw(t, ts.addr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				wins[i] = c.do("MSETNX", a, strconv.Itoa(i), b, strconv.Itoa(i))
			}()
		}
		wg.Wait()
		if n := strings.Count(strings.Join(wins, ""), ":1\r\n"); n != 1 {
			t.Fatalf("round %d: %d MSETNX stored (%q), want 1", round, n, wins)
		}
		c := dialRaw(t, ts.addr)
		if va, vb := c.do("GET", a), c.do("GET", b); va != vb || va == null2 {
			t.Fatalf("round %d: %s = %q, %s = %q, want one client's value in both", round, a, va, b, vb)
		}
	}
}

// TestRenameIsAtomic: while one client moves a value back and forth with
// RENAME, a reader's MGET of both names always finds it in exactly one.
func TestRenameIsAtomic(t *testing.T) {
	ts := startServer(t, Config{})
	mover, reader := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	mover.do("SET", "here", "v")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			mover.do("RENAME", "here", "there")
			mover.do("RENAME", "there", "here")
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		got := reader.do("MGET", "here", "there")
		if strings.Count(got, null2) != 1 {
			t.Errorf("MGET here there = %q, want the value in exactly one", got)
			<-done // the mover's client must not outlive the test
			return
		}
	}
}
