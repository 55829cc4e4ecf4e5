package lockd_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/lockd"
)

func TestAttachLayoutErrors(t *testing.T) {
	g := defaultGeom
	path := newSpace(t, g)
	good := g.layout()
	tests := []struct {
		name string
		edit func(*lockd.Layout)
	}{
		{"no process slots", func(l *lockd.Layout) { l.Procs = 0 }},
		{"too many process slots", func(l *lockd.Layout) { l.Procs = lockd.MaxProcs + 1 }},
		{"no lanes", func(l *lockd.Layout) { l.Lanes = 0 }},
		{"one lane entry", func(l *lockd.Layout) { l.LaneEntries = 1 }},
		{"unaligned process table", func(l *lockd.Layout) { l.ProcsOff += 4 }},
		{"unaligned lane table", func(l *lockd.Layout) { l.LanesOff += 4 }},
		{"process table past the mapping", func(l *lockd.Layout) { l.ProcsOff = uint64(g.size()) - 8 }},
		{"lane table past the mapping", func(l *lockd.Layout) { l.Lanes = 1 << 20 }},
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, int(g.size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lay := good
			tt.edit(&lay)
			p, err := lockd.Attach(f, mem, lay, lockd.Options{})
			if !errors.Is(err, lockd.ErrLayout) {
				if p != nil {
					p.Detach()
				}
				t.Fatalf("Attach = %v, want ErrLayout", err)
			}
		})
	}
}

func TestAttachSlots(t *testing.T) {
	g := geometry{procs: 2, lanes: 2, entries: 4}
	path := newSpace(t, g)
	a := attach(t, path, g, lockd.Options{})
	b := attach(t, path, g, lockd.Options{})
	if a.Slot() == b.Slot() {
		t.Fatalf("two attachments share slot %d", a.Slot())
	}
	if _, err := openAtt(path, g, lockd.Options{}); !errors.Is(err, lockd.ErrNoSlot) {
		t.Fatalf("third Attach on two slots = %v, want ErrNoSlot", err)
	}
	procs := a.Procs()
	if len(procs) != 2 {
		t.Fatalf("Procs() = %+v, want two", procs)
	}
	for _, pi := range procs {
		if pi.Pid != os.Getpid() || !pi.Attached || pi.Started.IsZero() {
			t.Errorf("ProcInfo %+v, want our pid %d, attached, with a start time", pi, os.Getpid())
		}
	}
	if got := a.PidOf(b.Owner()); got != os.Getpid() {
		t.Errorf("PidOf(live owner) = %d, want %d", got, os.Getpid())
	}
	old := a.Owner()
	a.close()
	if got := b.PidOf(old); got != 0 {
		t.Errorf("PidOf(detached owner) = %d, want 0", got)
	}
	c := attach(t, path, g, lockd.Options{})
	if c.Slot() != old.Slot() || c.Owner() == old {
		t.Errorf("reattach got slot %d owner %v; want slot %d with a new owner (old %v)", c.Slot(), c.Owner(), old.Slot(), old)
	}
}

func TestDetach(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	if err := a.Detach(); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if err := a.Detach(); err != nil {
		t.Fatalf("second Detach: %v", err)
	}
	if _, err := a.AcquireLane(context.Background()); !errors.Is(err, lockd.ErrDetached) {
		t.Fatalf("AcquireLane after Detach = %v, want ErrDetached", err)
	}
}

func TestLockUnlock(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(1)
	if !a.TryLock(l) {
		t.Fatal("TryLock of a free lock failed")
	}
	if b.TryLock(l) {
		t.Fatal("TryLock of a held lock succeeded")
	}
	want := lockd.LockInfo{Writer: true, WriterOwner: a.Owner(), WriterPid: os.Getpid()}
	if li := b.Inspect(l); li != want {
		t.Errorf("Inspect = %+v, want %+v", li, want)
	}
	if b.Readable(l) {
		t.Error("Readable while a writer holds the lock")
	}
	a.Unlock(l)
	if li := b.Inspect(l); li != (lockd.LockInfo{}) {
		t.Errorf("Inspect after Unlock = %+v, want free", li)
	}
	if err := b.Lock(context.Background(), l); err != nil {
		t.Fatalf("Lock of a free lock: %v", err)
	}
	b.Unlock(l)
}

func TestUnlockNotHeldPanics(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	mustPanic(t, "Unlock of a free lock", func() { a.Unlock(l) })
	if !a.TryLock(l) {
		t.Fatal("TryLock failed")
	}
	mustPanic(t, "Unlock of another Proc's lock", func() { b.Unlock(l) })
	a.Unlock(l)
	ln := lane(t, a)
	if err := ln.RLock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "Release of a lane holding a read lock", ln.Release)
	ln.RUnlock(l)
	ln.Release()
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// TestLockWaitsForWriter: a second writer waits, is counted as waiting,
// and gets the lock only after the first releases it.
func TestLockWaitsForWriter(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	if err := a.Lock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	got := make(chan bool)
	go func() {
		err := b.Lock(ctxTimeout(t, 10*time.Second), l)
		ok := err == nil && released.Load()
		if err == nil {
			b.Unlock(l)
		}
		got <- ok
	}()
	waitFor(t, "the second writer to register", func() bool { return a.Inspect(l).Waiting == 1 })
	released.Store(true)
	a.Unlock(l)
	if !<-got {
		t.Fatal("second writer failed, or got the lock before the first released it")
	}
}

// waitFor polls cond until it holds, failing after 10 s (a liveness guard
// against a hang, not a performance bound).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLockContext: a writer that gives up is withdrawn, so readers it held
// back get in.
func TestLockContext(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	ra := lane(t, a)
	if err := ra.RLock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Lock(ctx, l); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock behind a reader with a 50ms deadline = %v, want DeadlineExceeded", err)
	}
	if li := a.Inspect(l); li.Waiting != 0 || li.Readers != 1 || li.Writer {
		t.Fatalf("after the writer gave up: %+v, want one reader and nobody waiting", li)
	}
	rb := lane(t, b)
	if err := rb.RLock(ctxTimeout(t, 10*time.Second), l); err != nil {
		t.Fatalf("RLock after the writer gave up: %v", err)
	}
	rb.RUnlock(l)
	ra.RUnlock(l)
	// Canceled while waiting for another writer, too.
	if !a.TryLock(l) {
		t.Fatal("TryLock failed")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := b.Lock(ctx2, l); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a canceled context = %v, want Canceled", err)
	}
	a.Unlock(l)
	if li := a.Inspect(l); li != (lockd.LockInfo{}) {
		t.Fatalf("lock left as %+v, want free", li)
	}
}

func TestRLock(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(2)
	ra, rb := lane(t, a), lane(t, b)
	for _, ln := range []*lockd.Lane{ra, rb} {
		if err := ln.RLock(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	if li := a.Inspect(l); li != (lockd.LockInfo{Readers: 2}) {
		t.Fatalf("Inspect = %+v, want two readers", li)
	}
	if ra.Held() != 1 {
		t.Errorf("Held = %d, want 1", ra.Held())
	}
	if b.TryLock(l) {
		t.Fatal("TryLock succeeded beside readers")
	}
	if !a.Readable(l) {
		t.Error("not Readable with only readers")
	}
	var readersOut atomic.Int32
	done := make(chan bool)
	go func() {
		err := b.Lock(ctxTimeout(t, 10*time.Second), l)
		ok := err == nil && readersOut.Load() == 2
		if err == nil {
			b.Unlock(l)
		}
		done <- ok
	}()
	waitFor(t, "the writer to register", func() bool { return a.Inspect(l).Waiting == 1 })
	if a.Readable(l) {
		t.Error("Readable while a writer waits")
	}
	readersOut.Add(1)
	ra.RUnlock(l)
	readersOut.Add(1)
	rb.RUnlock(l)
	if !<-done {
		t.Fatal("writer failed, or got in before both readers left")
	}
	if ra.Held() != 0 {
		t.Errorf("Held after RUnlock = %d, want 0", ra.Held())
	}
}

// TestRLockContext: a reader behind a writer gives up with its context.
func TestRLockContext(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	if !a.TryLock(l) {
		t.Fatal("TryLock failed")
	}
	ln := lane(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ln.RLock(ctx, l); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RLock behind a writer = %v, want DeadlineExceeded", err)
	}
	if ln.Held() != 0 {
		t.Fatalf("a failed RLock left %d entries in the lane", ln.Held())
	}
	if err := a.WaitReadable(ctx, l); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReadable behind a writer = %v, want DeadlineExceeded", err)
	}
	a.Unlock(l)
	if err := a.WaitReadable(context.Background(), l); err != nil {
		t.Fatalf("WaitReadable on a free lock: %v", err)
	}
}

func TestLaneTooManyHolds(t *testing.T) {
	g := geometry{procs: 2, lanes: 2, entries: 3}
	path := newSpace(t, g)
	a := attach(t, path, g, lockd.Options{})
	ln := lane(t, a)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := ln.RLock(ctx, g.lockAt(i)); err != nil {
			t.Fatalf("RLock %d: %v", i, err)
		}
	}
	if err := ln.RLock(ctx, g.lockAt(2)); !errors.Is(err, lockd.ErrTooManyHolds) {
		t.Fatalf("third RLock in a lane of 3 entries = %v, want ErrTooManyHolds", err)
	}
	if err := ln.Lock(ctx, g.lockAt(2)); !errors.Is(err, lockd.ErrTooManyHolds) {
		t.Fatalf("Lane.Lock past the limit = %v, want ErrTooManyHolds", err)
	}
	if li := a.Inspect(g.lockAt(2)); li != (lockd.LockInfo{}) {
		t.Fatalf("a refused hold changed the lock: %+v", li)
	}
	ln.RUnlock(g.lockAt(1))
	if err := ln.Lock(ctx, g.lockAt(2)); err != nil {
		t.Fatalf("Lane.Lock after a release: %v", err)
	}
	if ln.Held() != 2 {
		t.Errorf("Held = %d, want 2", ln.Held())
	}
	ln.Unlock(g.lockAt(2))
	ln.RUnlock(g.lockAt(0))
	ln.Release()
}

func TestAcquireLaneWaits(t *testing.T) {
	g := geometry{procs: 2, lanes: 2, entries: 3}
	path := newSpace(t, g)
	a := attach(t, path, g, lockd.Options{})
	l1, l2 := lane(t, a), lane(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.AcquireLane(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, lockd.ErrNoLane) {
		t.Fatalf("AcquireLane with every lane out = %v, want ErrNoLane and DeadlineExceeded", err)
	}
	got := make(chan *lockd.Lane)
	go func() {
		ln, err := a.AcquireLane(ctxTimeout(t, 10*time.Second))
		if err != nil {
			t.Error(err)
		}
		got <- ln
	}()
	l1.Release()
	if ln := <-got; ln == nil {
		t.Fatal("no lane after one was released")
	} else {
		ln.Release()
	}
	l2.Release()
}

// TestWaitersShareLanes: writers that wait without a lane of their own
// share one, so more of them than the attachment has lanes all register
// (writer priority holds for each) and a lane is still free for a group;
// the shared lane goes back once they are through.
func TestWaitersShareLanes(t *testing.T) {
	g := geometry{procs: 2, lanes: 2, entries: 8}
	path := newSpace(t, g)
	a := attach(t, path, g, lockd.Options{})
	b := attach(t, path, g, lockd.Options{})
	l := g.lockAt(0)
	if err := a.Lock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	const waiters = 6
	var inside atomic.Int32
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			err := b.Lock(ctxTimeout(t, 10*time.Second), l)
			if err == nil {
				if inside.Add(1) != 1 {
					err = errors.New("two writers inside at once")
				}
				inside.Add(-1)
				b.Unlock(l)
			}
			errs <- err
		}()
	}
	waitFor(t, "6 writers registered as waiting", func() bool { return a.Inspect(l).Waiting == waiters })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ln, err := b.AcquireLane(ctx)
	if err != nil {
		t.Fatalf("AcquireLane while 6 writers wait: %v", err)
	}
	ln.Release()
	a.Unlock(l)
	for range waiters {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range g.lanes {
		if _, err := b.AcquireLane(ctxTimeout(t, time.Second)); err != nil {
			t.Fatalf("lane %d of %d after the writers were through: %v", i+1, g.lanes, err)
		}
	}
}

// TestWaiterWithoutFreeLane: a writer that must wait when no lane is free
// waits unregistered instead of waiting for a lane, which could be held by
// someone waiting for a lock the writer holds: here the attachment's only
// lane is a reader's, waiting for x, which the writer holds while it waits
// for y.
func TestWaiterWithoutFreeLane(t *testing.T) {
	g := geometry{procs: 2, lanes: 1, entries: 4}
	path := newSpace(t, g)
	a := attach(t, path, g, lockd.Options{})
	b := attach(t, path, g, lockd.Options{})
	x, y := g.lockAt(0), g.lockAt(1)
	if !a.TryLock(y) || !b.TryLock(x) {
		t.Fatal("TryLock of free locks failed")
	}
	ln := lane(t, b)
	read := make(chan error, 1)
	go func() {
		err := ln.RLock(ctxTimeout(t, 3*time.Second), x)
		if err == nil {
			ln.RUnlock(x)
		}
		read <- err
	}()
	write := make(chan error, 1)
	go func() {
		err := b.Lock(ctxTimeout(t, 3*time.Second), y)
		if err == nil {
			b.Unlock(y)
		}
		b.Unlock(x)
		write <- err
	}()
	time.Sleep(50 * time.Millisecond) // let both reach their wait
	a.Unlock(y)
	if err := <-write; err != nil {
		t.Errorf("Lock of y with the only lane held by a reader waiting for x: %v", err)
	}
	if err := <-read; err != nil {
		t.Errorf("RLock of x: %v", err)
	}
	ln.Release()
}

// TestWaitWord: a sleeper in one attachment is woken by a change and
// WakeWord in another; WaitWord does not sleep on a word that already
// differs.
func TestWaitWord(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	wa := (*uint32)(unsafe.Pointer(a.word(1)))
	wb := (*uint32)(unsafe.Pointer(b.word(1)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for atomic.LoadUint32(wa) == 0 {
			a.WaitWord(context.Background(), wa, 0, time.Hour)
		}
	}()
	time.Sleep(20 * time.Millisecond) // let the sleeper reach the kernel
	atomic.StoreUint32(wb, 1)
	b.WakeWord(wb)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WaitWord (an hour's sleep) not woken by WakeWord from another attachment")
	}
	returns(t, "WaitWord (an hour's sleep) on a word that already differs", func() {
		a.WaitWord(context.Background(), wa, 0, time.Hour)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	returns(t, "WaitWord (an hour's sleep) once its context ends", func() {
		a.WaitWord(ctx, wa, 1, time.Hour)
	})
}

// returns fails if f has not returned after 10 s: a guard against a hang,
// for calls that would otherwise sleep for an hour.
func returns(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}
