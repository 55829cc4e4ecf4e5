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
	// The late callers are queued behind flush 1.
	waitUntil(t, func() bool { y.mu.Lock(); defer y.mu.Unlock(); return y.started == 1 && y.next == late })
	g.release <- nil // flush 1 ends
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

// cohort runs one caller through flush 1 while late callers queue for
// flush 2, then ends flush 1. It returns the channel of the first caller's
// result and the late callers' results.
func cohort(t *testing.T, y *Committer, g *gatedFlush, late int) (first, rest chan error) {
	t.Helper()
	first, rest = make(chan error, 1), make(chan error, late)
	go func() { first <- y.Barrier() }()
	<-g.started
	for range late {
		go func() { rest <- y.Barrier() }()
	}
	waitUntil(t, func() bool { y.mu.Lock(); defer y.mu.Unlock(); return y.next == late })
	g.release <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	return first, rest
}

// TestGatherCohort: the flush after one that served a caller waits for
// that caller to come back (as a client's next write does) before it
// starts, so one flush serves it and the callers that queued meanwhile.
func TestGatherCohort(t *testing.T) {
	g := newGatedFlush()
	y := New(g.flush)
	y.maxGather, y.gap = time.Hour, time.Hour // only the cohort ends the wait
	const late = 5
	first, rest := cohort(t, y, g, late)
	select {
	case <-g.started:
		t.Fatal("flush 2 started before the caller flush 1 served came back")
	case <-time.After(50 * time.Millisecond):
	}
	go func() { first <- y.Barrier() }()
	<-g.started // flush 2, now for all of them
	g.release <- nil
	for range late {
		if err := <-rest; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := g.runs.Load(); n != 2 {
		t.Fatalf("%d flushes, want 2: the returning caller got a flush of its own", n)
	}
}

// TestGatherGivesUp: when the caller expected does not come back, the
// flush starts anyway, after maxGather or after gap without arrivals,
// whichever ends first, and serves those waiting.
func TestGatherGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxGather, gap time.Duration
	}{
		{"maxGather", 30 * time.Millisecond, time.Hour},
		{"gap", time.Hour, 30 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatedFlush()
			y := New(g.flush)
			y.maxGather, y.gap = tc.maxGather, tc.gap
			const late = 5
			start := time.Now()
			_, rest := cohort(t, y, g, late)
			<-g.started
			if waited := time.Since(start); waited < 30*time.Millisecond {
				t.Fatalf("flush 2 started after %v, before the gather bound of 30ms", waited)
			}
			g.release <- nil
			for range late {
				if err := <-rest; err != nil {
					t.Fatal(err)
				}
			}
			y.mu.Lock()
			expect := y.expect
			y.mu.Unlock()
			if expect != late {
				t.Fatalf("after a flush for %d callers the next expects %d", late, expect)
			}
		})
	}
}
