package lockd_test

import (
	"context"
	"testing"

	"github.com/dsm-dev/dsm/lockd"
)

// BenchmarkLockUnlock is an uncontended Proc.Lock and Unlock.
func BenchmarkLockUnlock(b *testing.B) {
	path := newSpace(b, defaultGeom)
	a := attach(b, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	ctx := context.Background()
	for b.Loop() {
		if err := a.Lock(ctx, l); err != nil {
			b.Fatal(err)
		}
		a.Unlock(l)
	}
}

// BenchmarkRLockRUnlock is an uncontended Lane.RLock and RUnlock.
func BenchmarkRLockRUnlock(b *testing.B) {
	path := newSpace(b, defaultGeom)
	a := attach(b, path, defaultGeom, lockd.Options{})
	ln := lane(b, a)
	l := defaultGeom.lockAt(0)
	ctx := context.Background()
	for b.Loop() {
		if err := ln.RLock(ctx, l); err != nil {
			b.Fatal(err)
		}
		ln.RUnlock(l)
	}
}

// BenchmarkLockUnlockParallel is Lock and Unlock of one lock from every
// P of one attachment.
func BenchmarkLockUnlockParallel(b *testing.B) {
	path := newSpace(b, defaultGeom)
	a := attach(b, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.Lock(ctx, l); err != nil {
				b.Error(err)
				return
			}
			a.Unlock(l)
		}
	})
}
