package lockd_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/lockd"
)

// priorityBound is how long a writer may wait while readers flood the
// lock. A reader holds for ~1ms, so the writer should need a few ms; the
// bound is generous because the machine is shared.
const priorityBound = time.Second

// TestWriterPriority floods a lock with readers (8 goroutines in each of two
// attachments, each holding ~1ms and coming straight back, so the lock is
// never free of readers) and then, 20 times, lets a writer in. It proves
// the seed's rule as lockd/doc.go states it:
//   - the writer gets the lock within priorityBound despite the flood;
//   - a reader that began RLock after it saw the writer waiting
//     (Inspect(l).Waiting > 0) gets its hold only after the writer's
//     hold: when it gets in, the writer has already been inside.
func TestWriterPriority(t *testing.T) {
	path := newSpace(t, defaultGeom)
	readers := []*att{
		attach(t, path, defaultGeom, lockd.Options{}),
		attach(t, path, defaultGeom, lockd.Options{}),
	}
	w := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)

	var (
		writerIn  atomic.Int64 // how many write holds have begun
		late      atomic.Int64 // readers that arrived while the writer waited
		overtaken atomic.Int64 // ... and got in before it
		holds     atomic.Int64
		stop      atomic.Bool
		wg        sync.WaitGroup
	)
	ctx := ctxTimeout(t, 60*time.Second)
	for _, a := range readers {
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ln, err := a.AcquireLane(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				defer ln.Release()
				for !stop.Load() {
					// Order matters: note the writer's holds so far, then
					// look for a waiting writer, then ask.
					before := writerIn.Load()
					waiting := a.Inspect(l).Waiting > 0
					if err := ln.RLock(ctx, l); err != nil {
						t.Error(err)
						return
					}
					if waiting {
						late.Add(1)
						if writerIn.Load() == before {
							overtaken.Add(1)
						}
					}
					holds.Add(1)
					time.Sleep(time.Millisecond)
					ln.RUnlock(l)
				}
			}()
		}
	}
	// However the test ends, the readers stop before the mapping goes.
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	waitFor(t, "the readers to flood the lock", func() bool { return holds.Load() > 100 })
	wctx := ctxTimeout(t, 10*priorityBound)
	var worst time.Duration
	for round := 0; round < 20; round++ {
		if li := w.Inspect(l); li.Readers == 0 {
			t.Logf("round %d: no reader inside as the writer starts", round)
		}
		start := time.Now()
		if err := w.Lock(wctx, l); err != nil {
			t.Fatalf("round %d: writer starved by the readers: %v after %v", round, err, time.Since(start))
		}
		took := time.Since(start)
		writerIn.Add(1)
		if li := w.Inspect(l); li.Readers != 0 {
			t.Errorf("writer inside beside %d readers", li.Readers)
		}
		time.Sleep(2 * time.Millisecond) // let late readers pile up
		w.Unlock(l)
		worst = max(worst, took)
		if took > priorityBound {
			t.Errorf("round %d: writer waited %v under a read flood, the bound is %v", round, took, priorityBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("worst writer wait %v; %d read holds; %d readers arrived while the writer waited, %d got in before it",
		worst, holds.Load(), late.Load(), overtaken.Load())
	if late.Load() == 0 {
		t.Fatal("no reader arrived while the writer waited: the test proved nothing about ordering")
	}
	if n := overtaken.Load(); n != 0 {
		t.Fatalf("%d readers that arrived after the writer registered got in before it", n)
	}
}

// TestWriterPriorityWaitReadable: optimistic readers (shm's Get) call
// WaitReadable, which also yields to a waiting writer.
func TestWriterPriorityWaitReadable(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	w := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	ra := lane(t, a)
	if err := ra.RLock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	var writerDone atomic.Bool
	got := make(chan struct{})
	go func() {
		defer close(got)
		if err := w.Lock(ctxTimeout(t, 20*time.Second), l); err != nil {
			t.Error(err)
			return
		}
		writerDone.Store(true)
		w.Unlock(l)
	}()
	waitFor(t, "the writer to wait", func() bool { return a.Inspect(l).Waiting == 1 })
	readable := make(chan bool, 1)
	go func() {
		err := a.WaitReadable(ctxTimeout(t, 20*time.Second), l)
		readable <- err == nil && writerDone.Load()
	}()
	time.Sleep(20 * time.Millisecond) // the optimistic reader is now waiting too
	ra.RUnlock(l)
	<-got
	if !<-readable {
		t.Fatal("WaitReadable returned before the waiting writer had its turn")
	}
}
