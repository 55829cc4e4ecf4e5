package shm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// waitResult runs Wait in a goroutine and returns where its result will
// arrive. The context gives up after 20 s, which no test waits for: it
// turns a lost wake-up into a failure instead of a hung test.
type waitResult struct {
	ver uint64
	err error
	at  time.Time
}

func startWait(t *testing.T, m *shm.Memory, name string, after uint64) <-chan waitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	ch := make(chan waitResult, 1)
	go func() {
		ver, err := m.Wait(ctx, b(name), after)
		ch <- waitResult{ver, err, time.Now()}
	}()
	return ch
}

// settle gives a goroutine just started time to park in Wait. The tests
// are correct without it; it only makes them exercise the sleeping path.
func settle() { time.Sleep(20 * time.Millisecond) }

func TestWaitWokenBySet(t *testing.T) {
	m := newMem(t, unit)
	ver := mustSet(t, m, "x", shm.Int(1))
	got := startWait(t, m, "x", ver)
	settle()
	changed := time.Now()
	next := mustSet(t, m, "x", shm.Int(2))
	r := <-got
	if r.err != nil || r.ver != next {
		t.Fatalf("Wait = %d, %v; want %d", r.ver, r.err, next)
	}
	t.Logf("woken %v after the Set", r.at.Sub(changed))
}

// TestWaitOtherMemory: a change made through another attachment of the
// file (as another process would make it) wakes the waiter through the
// shared futex; several waiters on one variable all wake.
func TestWaitOtherMemory(t *testing.T) {
	m1 := newMem(t, unit)
	cfg := unit
	cfg.Path = m1.Path()
	m2 := openMem(t, cfg)
	ver := mustSet(t, m1, "x", shm.Int(1))
	var waits []<-chan waitResult
	for i := 0; i < 3; i++ {
		waits = append(waits, startWait(t, m2, "x", ver))
	}
	settle()
	changed := time.Now()
	_, next, err := m1.Add(b("x"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range waits {
		r := <-w
		if r.err != nil || r.ver != next {
			t.Fatalf("waiter %d: Wait = %d, %v; want %d", i, r.ver, r.err, next)
		}
		t.Logf("waiter %d woken %v after the change in the other Memory", i, r.at.Sub(changed))
	}
}

func TestWaitAlreadyPast(t *testing.T) {
	m := newMem(t, unit)
	ver := mustSet(t, m, "x", shm.Int(1))
	mustSet(t, m, "x", shm.Int(2))
	r := <-startWait(t, m, "x", ver)
	if r.err != nil || r.ver != ver+1 {
		t.Fatalf("Wait for a version already passed = %d, %v; want %d", r.ver, r.err, ver+1)
	}
	r = <-startWait(t, m, "x", 0)
	if r.err != nil || r.ver != ver+1 {
		t.Fatalf("Wait(after 0) = %d, %v; want %d", r.ver, r.err, ver+1)
	}
}

func TestWaitContext(t *testing.T) {
	m := newMem(t, unit)
	ver := mustSet(t, m, "x", shm.Int(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Wait(ctx, b("x"), ver); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with nothing changing = %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Wait(ctx2, b("x"), ver)
		done <- err
	}()
	settle()
	cancel2()
	canceled := time.Now()
	select {
	case err := <-done:
		t.Logf("Wait returned %v after its context was canceled", time.Since(canceled))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel = %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return 10 s after its context was canceled")
	}
}

func TestWaitNotFound(t *testing.T) {
	m := newMem(t, unit)
	if _, err := m.Wait(context.Background(), b("missing"), 0); !errors.Is(err, shm.ErrNotFound) {
		t.Fatalf("Wait on a missing variable = %v, want ErrNotFound", err)
	}
	ver := mustSet(t, m, "x", shm.Int(1))
	got := startWait(t, m, "x", ver)
	settle()
	m.Delete(b("x"))
	if r := <-got; !errors.Is(r.err, shm.ErrNotFound) {
		t.Fatalf("Wait while the variable is deleted = %d, %v; want ErrNotFound", r.ver, r.err)
	}
	// Deleted and recreated under the waiter: still the end of that variable.
	ver = mustSet(t, m, "y", shm.Int(1))
	got = startWait(t, m, "y", ver+10)
	settle()
	m.Delete(b("y"))
	mustSet(t, m, "y", shm.Int(2))
	if r := <-got; !errors.Is(r.err, shm.ErrNotFound) {
		t.Fatalf("Wait while the variable is recreated = %d, %v; want ErrNotFound", r.ver, r.err)
	}
}

// TestWaitManyWaitersOtherMemory: Wait promises a wake by a change from any
// process with no polling. With more waiters in a process than it lets
// sleep in the kernel (lockd's MaxSleepers, 64 by default), a change made
// through another attachment must still wake every waiter promptly, not when
// its one-second sleep slice ends. One wake takes well under a millisecond
// (TestWaitWokenBySet logs it); the bound below is half the slice, so only
// a wake that waited for the slice can miss it.
func TestWaitManyWaitersOtherMemory(t *testing.T) {
	const n = 100
	m1 := newMem(t, shm.Config{Vars: 128, Procs: 4, Lanes: 4, GroupMax: 4})
	m2 := openMem(t, shm.Config{Path: m1.Path()})
	vers := make([]uint64, n)
	for i := range vers {
		vers[i] = mustSet(t, m1, fmt.Sprint("w", i), shm.Int(0))
	}
	waits := make([]<-chan waitResult, n)
	for i := range waits {
		waits[i] = startWait(t, m2, fmt.Sprint("w", i), vers[i])
	}
	time.Sleep(100 * time.Millisecond) // every waiter is parked
	changed := make([]time.Time, n)
	for i := range vers {
		changed[i] = time.Now()
		mustSet(t, m1, fmt.Sprint("w", i), shm.Int(1))
	}
	var late []int
	var worst time.Duration
	for i, w := range waits {
		r := <-w
		if r.err != nil || r.ver != vers[i]+1 {
			t.Fatalf("waiter %d: Wait = %d, %v; want %d", i, r.ver, r.err, vers[i]+1)
		}
		d := r.at.Sub(changed[i])
		worst = max(worst, d)
		if d > 500*time.Millisecond {
			late = append(late, i)
		}
	}
	t.Logf("%d waiters in one Memory, changes from another: slowest wake %v", n, worst)
	if len(late) > 0 {
		t.Errorf("%d of %d waiters woke more than 500ms after their change (slowest %v): woken by the sleep slice, not by the change", len(late), n, worst)
	}
}
