package groupcommit

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedFlush is a flush that blocks until released, counting its runs.
type gatedFlush struct {
	runs    atomic.Int64
	started chan struct{} // receives one value as each flush starts
	release chan error    // each flush returns the error it receives
}

func newGatedFlush() *gatedFlush {
	return &gatedFlush{started: make(chan struct{}, 16), release: make(chan error)}
}

func (g *gatedFlush) flush() error {
	g.runs.Add(1)
	g.started <- struct{}{}
	return <-g.release
}

// TestGroupCommit: callers that arrive while a flush runs wait for the
// next flush (the running one may have started before their writes), and
// all of them share that one.
func TestGroupCommit(t *testing.T) {
	g := newGatedFlush()
	y := New(g.flush)
	first := make(chan error)
	go func() { first <- y.Barrier() }()
	<-g.started // flush 1 is running
	const late = 10
	var wg sync.WaitGroup
	var returned atomic.Int64
	errs := make(chan error, late)
	for i := 0; i < late; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- y.Barrier()
			returned.Add(1)
		}()
	}
	waitUntil(t, func() bool { y.mu.Lock(); defer y.mu.Unlock(); return y.started == 1 })
	time.Sleep(20 * time.Millisecond) // the late callers are queued
	g.release <- nil                  // flush 1 ends
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-g.started // flush 2, for all the late callers
	if n := returned.Load(); n != 0 {
		t.Fatalf("%d late callers returned on the flush that started before them", n)
	}
	g.release <- nil
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := g.runs.Load(); n != 2 {
		t.Fatalf("%d flushes for 1 early and %d late callers, want 2", n, late)
	}
}

// TestError: a failed flush is reported to the callers it covered,
// and not to those served by a later flush.
func TestError(t *testing.T) {
	g := newGatedFlush()
	y := New(g.flush)
	boom := errors.New("boom")
	got := make(chan error)
	go func() { got <- y.Barrier() }()
	<-g.started
	g.release <- boom
	if err := <-got; !errors.Is(err, boom) {
		t.Fatalf("barrier over a failed flush = %v, want boom", err)
	}
	go func() { got <- y.Barrier() }()
	<-g.started
	g.release <- nil
	if err := <-got; err != nil {
		t.Fatalf("barrier over a good flush after a failed one = %v", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}
