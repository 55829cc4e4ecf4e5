package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
)

// TestSubscribe: a subscription by name and one by pattern see sets and
// deletes with rising versions.
func TestSubscribe(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	byName, err := c.Subscribe(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	byPattern, err := c.PSubscribe(ctx, "x*")
	if err != nil {
		t.Fatal(err)
	}
	defer byPattern.Close()
	// Changes close together may be merged (a subscriber always gets the
	// latest), so each is awaited before the next.
	if err := c.Set(ctx, "x", "hello world"); err != nil {
		t.Fatal(err)
	}
	var sets [2]client.Change
	for i, sub := range []*client.Subscription{byName, byPattern} {
		set, err := sub.Next(ctx)
		if err != nil || set.Name != "x" || set.Value != "hello world" || set.Deleted {
			t.Fatalf("first change = %+v, %v", set, err)
		}
		sets[i] = set
	}
	if _, err := c.Del(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for i, sub := range []*client.Subscription{byName, byPattern} {
		del, err := sub.Next(ctx)
		if err != nil || del.Name != "x" || !del.Deleted || del.Version <= sets[i].Version {
			t.Fatalf("second change = %+v, %v (after version %d)", del, err, sets[i].Version)
		}
	}
	if _, err := client.ParseChange("other", "1 x"); err == nil {
		t.Errorf("ParseChange accepted a channel that is not a variable's")
	}
}

// TestLock: a Locked's commands pass its locks; another Lock times out
// until Unlock; a lost lease is reported.
func TestLock(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	l, err := c.Lock(ctx, client.LockOptions{}, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(ctx, "a", "1"); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Add(ctx, "a", 2); err != nil || n != 3 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	// The other commands on the locked connection, as Client has them.
	if err := l.MSet(ctx, "b", "x", "a", "3"); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.CAS(ctx, "b", "x", "y"); err != nil || !ok {
		t.Fatalf("CAS b x y = %v, %v", ok, err)
	}
	if ok, err := l.CAS(ctx, "b", "x", "z"); err != nil || ok {
		t.Fatalf("CAS b x z after b became y = %v, %v", ok, err)
	}
	items, err := l.MGet(ctx, "a", "b")
	if err != nil || len(items) != 2 || items[0] != (client.Item{Name: "a", Value: "3", Found: true}) ||
		items[1] != (client.Item{Name: "b", Value: "y", Found: true}) {
		t.Fatalf("MGet a b = %+v, %v", items, err)
	}
	wantKind(t, l.MSet(ctx, "a"), client.ErrInvalid)
	if n, err := l.Del(ctx, "b"); err != nil || n != 1 {
		t.Fatalf("Del b = %d, %v", n, err)
	}
	_, err = c.Lock(ctx, client.LockOptions{Wait: 50 * time.Millisecond}, "b")
	wantKind(t, err, client.ErrLockTimeout)
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := c.Lock(ctx, client.LockOptions{Lease: 50 * time.Millisecond}, "b")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	wantKind(t, l2.Set(ctx, "b", "2"), client.ErrLockLost)
	wantKind(t, l2.Unlock(ctx), client.ErrLockLost)
	if v, err := c.Get(ctx, "a"); err != nil || v != "3" {
		t.Errorf("a = %q, %v", v, err)
	}
}

// TestLockCancel: cancelling the context of a Lock that waits ends it at
// once with the context's error, and the daemon forgets the waiter: once
// the holder lets go, the variable is free for the next Lock.
func TestLockCancel(t *testing.T) {
	d := startDaemon(t, "")
	c := dial(t, d, nil)
	ctx := ctxT(t)
	held, err := c.Lock(ctx, client.LockOptions{}, "v")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Lock(wctx, client.LockOptions{Wait: time.Minute}, "v")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock cancelled while waiting = %v, want context.Canceled", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the cancelled Lock returned after %v", waited)
	}
	if err := held.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := c.Lock(ctx, client.LockOptions{Wait: -1}, "v")
	if err != nil {
		t.Fatalf("Lock after the cancelled waiter and the holder's Unlock: %v", err)
	}
	l.Unlock(ctx)
}
