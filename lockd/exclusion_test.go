package lockd_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/lockd"
)

// Exclusion is proven as in sync's rwmutex_test.go: one shared word, to
// which a reader adds 1 and a writer 10000 while holding the lock. A reader
// must never see a writer's 10000 in it, and a writer must see exactly its
// own 10000. The word lives in the mapping, so holders in other processes
// count too.
const writerMark = 10000

// hammerExclusion runs n goroutines on a for d, all on lock 0 and word 0:
// a quarter write through Proc.Lock, a quarter through Lane.Lock (the
// lane path), half read through Lane.RLock. It returns the first
// violation, or an error if a lock could not be had within a generous
// margin (a wedged lock).
func hammerExclusion(a *att, d time.Duration, n int, stats *exclusionStats) error {
	l := a.g.lockAt(0)
	word := a.word(0)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(d)
	var (
		wg     sync.WaitGroup
		once   sync.Once
		bad    error
		failed atomic.Bool
	)
	fail := func(err error) {
		once.Do(func() { bad = err })
		failed.Store(true)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(kind int) {
			defer wg.Done()
			ln, err := a.AcquireLane(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer ln.Release()
			for time.Now().Before(deadline) && !failed.Load() {
				var err error
				switch kind {
				case 0:
					err = writeOnce(ctx, word, func() error { return a.Lock(ctx, l) }, func() { a.Unlock(l) })
				case 1:
					err = writeOnce(ctx, word, func() error { return ln.Lock(ctx, l) }, func() { ln.Unlock(l) })
				default:
					err = readOnce(ctx, ln, l, word)
				}
				if err != nil {
					fail(err)
					return
				}
				if kind < 2 {
					stats.writes.Add(1)
					// Writers have priority: without a pause between
					// their holds, readers would hardly ever get in.
					time.Sleep(200 * time.Microsecond)
				} else {
					stats.reads.Add(1)
				}
			}
		}(i % 4)
	}
	wg.Wait()
	return bad
}

func writeOnce(ctx context.Context, word *int64, lock func() error, unlock func()) error {
	if err := lock(); err != nil {
		return fmt.Errorf("write lock: %w", err)
	}
	defer unlock()
	if n := atomic.AddInt64(word, writerMark); n != writerMark {
		return fmt.Errorf("writer saw %d in the word, want exactly %d: another holder is inside", n, writerMark)
	}
	runtime.Gosched()
	if n := atomic.LoadInt64(word); n != writerMark {
		return fmt.Errorf("writer saw %d in the word while holding, want %d", n, writerMark)
	}
	atomic.AddInt64(word, -writerMark)
	return nil
}

func readOnce(ctx context.Context, ln *lockd.Lane, l lockd.Lock, word *int64) error {
	if err := ln.RLock(ctx, l); err != nil {
		return fmt.Errorf("read lock: %w", err)
	}
	defer ln.RUnlock(l)
	if n := atomic.AddInt64(word, 1); n < 1 || n >= writerMark {
		return fmt.Errorf("reader saw %d in the word: a writer is inside beside it", n)
	}
	runtime.Gosched()
	if n := atomic.LoadInt64(word); n < 1 || n >= writerMark {
		return fmt.Errorf("reader saw %d in the word while holding", n)
	}
	atomic.AddInt64(word, -1)
	return nil
}

// TestExclusion hammers one lock from three attachments in this process
// (so under -race the Go side is checked too).
func TestExclusion(t *testing.T) {
	path := newSpace(t, defaultGeom)
	var stats exclusionStats
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	var atts []*att
	for i := 0; i < 3; i++ {
		atts = append(atts, attach(t, path, defaultGeom, lockd.Options{}))
	}
	for _, a := range atts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- hammerExclusion(a, time.Second, 8, &stats)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkHammered(t, atts[0], stats.reads.Load(), stats.writes.Load())
}

// TestExclusionProcesses hammers one lock from four processes of eight
// goroutines each, for two seconds.
func TestExclusionProcesses(t *testing.T) {
	path := newSpace(t, defaultGeom)
	var kids []*childproc.Child
	for i := 0; i < 4; i++ {
		c := childproc.Start(t, "exclusion", path, "2s")
		kids = append(kids, c)
	}
	for _, c := range kids {
		c.Expect(t, "ready")
	}
	var reads, writes int64
	for i, c := range kids {
		out := strings.TrimSpace(c.Wait(t))
		var r, w int64
		if _, err := fmt.Sscanf(out, "reads=%d writes=%d", &r, &w); err != nil {
			t.Fatalf("child %d printed %q: %v", i, out, err)
		}
		t.Logf("child %d: %d read holds, %d write holds", i, r, w)
		reads += r
		writes += w
	}
	a := attach(t, path, defaultGeom, lockd.Options{})
	checkHammered(t, a, reads, writes)
}

// checkHammered checks that both kinds of hold happened and that the lock
// and the word were left clean.
func checkHammered(t *testing.T, a *att, reads, writes int64) {
	t.Helper()
	t.Logf("%d read holds, %d write holds", reads, writes)
	if reads == 0 || writes == 0 {
		t.Fatalf("the hammer took %d read and %d write holds; both kinds must happen", reads, writes)
	}
	if n := atomic.LoadInt64(a.word(0)); n != 0 {
		t.Errorf("word left at %d, want 0", n)
	}
	if li := a.Inspect(a.g.lockAt(0)); li != (lockd.LockInfo{}) {
		t.Errorf("lock left as %+v, want free", li)
	}
}
