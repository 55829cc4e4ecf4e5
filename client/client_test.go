package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
)

// startDaemon runs a daemon for the test, with password if not empty.
func startDaemon(tb testing.TB, password string) *dsmtest.Daemon {
	tb.Helper()
	return dsmtest.Start(tb, server.Config{Password: password})
}

// dial connects to d and closes the client when the test ends.
func dial(tb testing.TB, d *dsmtest.Daemon, opts *client.Options) *client.Client {
	tb.Helper()
	if opts == nil {
		opts = &client.Options{Password: d.Password}
	}
	c, err := client.Dial(context.Background(), d.Addr, opts)
	if err != nil {
		tb.Fatalf("Dial(%s): %v", d.Addr, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func wantKind(tb testing.TB, err, kind error) {
	tb.Helper()
	if !errors.Is(err, kind) {
		tb.Fatalf("error %v, want one that is %v", err, kind)
	}
}

func TestGetSetAdd(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)

	if _, err := c.Get(ctx, "x"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get of a missing variable: %v, want ErrNotFound", err)
	}
	if err := c.Set(ctx, "x", "41"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Add(ctx, "x", 1); err != nil || n != 42 {
		t.Fatalf("Add = %d, %v; want 42", n, err)
	}
	if v, err := c.Get(ctx, "x"); err != nil || v != "42" {
		t.Fatalf("Get = %q, %v; want 42", v, err)
	}
	if n, err := c.Add(ctx, "fresh", -3); err != nil || n != -3 {
		t.Fatalf("Add on a missing variable = %d, %v; want -3", n, err)
	}
	if err := c.Set(ctx, "s", "hello world"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "s"); err != nil || v != "hello world" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	_, err := c.Add(ctx, "s", 1)
	wantKind(t, err, client.ErrNotInteger)

	if err := c.Set(ctx, "big", strconv.FormatInt(1<<62, 10)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Add(ctx, "big", 1<<62)
	wantKind(t, err, client.ErrOverflow)
}

func TestCAS(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	if err := c.Set(ctx, "x", "5"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CAS(ctx, "x", "4", "6"); err != nil || ok {
		t.Fatalf("CAS with the wrong old value = %v, %v; want false", ok, err)
	}
	if ok, err := c.CAS(ctx, "x", "5", "6"); err != nil || !ok {
		t.Fatalf("CAS = %v, %v; want true", ok, err)
	}
	if v, _ := c.Get(ctx, "x"); v != "6" {
		t.Fatalf("after CAS x = %q, want 6", v)
	}
}

func TestMGetMSetDel(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	if err := c.MSet(ctx, "a", "1", "b", "two"); err != nil {
		t.Fatal(err)
	}
	items, err := c.MGet(ctx, "a", "missing", "b")
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Item{{Name: "a", Value: "1", Found: true}, {Name: "missing"}, {Name: "b", Value: "two", Found: true}}
	if fmt.Sprint(items) != fmt.Sprint(want) {
		t.Fatalf("MGet = %v, want %v", items, want)
	}
	if n, err := c.Del(ctx, "a", "b", "missing"); err != nil || n != 2 {
		t.Fatalf("Del = %d, %v; want 2", n, err)
	}
	wantKind(t, c.MSet(ctx, "a"), client.ErrInvalid)
	_, err = c.MGet(ctx)
	wantKind(t, err, client.ErrInvalid)
}

func TestList(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	var want []string
	for i := range 300 {
		name := fmt.Sprintf("user:%03d", i)
		want = append(want, name)
		if err := c.Set(ctx, name, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "other", "1"); err != nil {
		t.Fatal(err)
	}
	got, err := c.List(ctx, "user:*")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List(user:*) has %d names, want %d sorted", len(got), len(want))
	}
	all, err := c.List(ctx, "")
	if err != nil || len(all) != 301 {
		t.Fatalf("List() = %d names, %v; want 301", len(all), err)
	}
}

func TestAuth(t *testing.T) {
	d := startDaemon(t, "s3cret")
	ctx := ctxT(t)
	for _, pw := range []string{"", "wrong"} {
		_, err := client.Dial(ctx, d.Addr, &client.Options{Password: pw})
		wantKind(t, err, client.ErrAuth)
		wantKind(t, err, client.ErrRefused)
	}
	c := dial(t, d, &client.Options{Password: "s3cret"})
	if err := c.Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = client.Dial(ctxT(t), addr, &client.Options{DialTimeout: time.Second})
	wantKind(t, err, client.ErrUnreachable)
	var e *client.Error
	if !errors.As(err, &e) || e.Op != "dial" || e.Name != addr {
		t.Fatalf("error %#v, want an *Error for dial %s", err, addr)
	}
}

func TestContextAndClose(t *testing.T) {
	d := startDaemon(t, "")
	c, err := client.Dial(ctxT(t), d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v, want context.Canceled", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctxT(t), "x")
	wantKind(t, err, client.ErrClosed)
}

// TestConcurrentAdds: many goroutines share one Client; every addition
// counts once.
func TestConcurrentAdds(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, &client.Options{PoolSize: 4})
	ctx := ctxT(t)
	const workers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := c.Add(ctx, "n", 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "n"); err != nil || v != strconv.Itoa(workers*each) {
		t.Fatalf("n = %q, %v; want %d", v, err, workers*each)
	}
}

// TestSurvivesRestart: a Client keeps working when the daemon restarts on
// the same address and file, and the file kept the value.
func TestSurvivesRestart(t *testing.T) {
	d := startDaemon(t, "")
	connects := 0
	var mu sync.Mutex
	c := dial(t, d, &client.Options{OnConnect: func() { mu.Lock(); connects++; mu.Unlock() }})
	ctx := ctxT(t)
	if err := c.Set(ctx, "x", "7"); err != nil {
		t.Fatal(err)
	}
	d.Restart(t)
	if v, err := c.Get(ctx, "x"); err != nil || v != "7" {
		t.Fatalf("after restart Get = %q, %v; want 7", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if connects < 2 {
		t.Fatalf("OnConnect ran %d times, want 2 or more (a reconnection)", connects)
	}
}

func TestDo(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	v, err := c.Do(ctxT(t), "PING")
	if err != nil || v != "PONG" {
		t.Fatalf("Do(PING) = %v, %v", v, err)
	}
}

func TestInfoAndClients(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, &client.Options{ClientName: "tester"})
	ctx := ctxT(t)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info) == 0 {
		t.Fatal("INFO has no fields")
	}
	list, err := c.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cl := range list {
		if cl.Name == "tester" && cl.Addr != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("CLIENT LIST has no client named tester with an address: %+v", list)
	}
}
