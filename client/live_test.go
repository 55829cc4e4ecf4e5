package client_test

import (
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
