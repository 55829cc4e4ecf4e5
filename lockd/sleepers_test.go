package lockd_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/dsm-dev/dsm/lockd"
)

// threads is this process's OS thread count.
func threads(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// TestSleepersBounded parks a thousand goroutines on a thousand different
// words: a futex wait holds an OS thread, so without the bound this would
// take a thousand threads. With MaxSleepers 8 the process may grow by 8
// sleeping threads (plus a little slack for the runtime).
//
// Then every goroutine must wake when its word changes, in both rounds
// sleeping for an hour, so that no waiter is rescued by its timeout. A wake
// from this attachment reaches every waiter at once; one from another
// attachment (as from another process) reaches the kernel sleepers through
// their words and the spilled waiters through the spill sequence, as the
// parker documents.
func TestSleepersBounded(t *testing.T) {
	const (
		waiters     = 1000
		maxSleepers = 8
		slack       = 24
	)
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{MaxSleepers: maxSleepers})
	b := attach(t, path, defaultGeom, lockd.Options{})
	word := func(x *att, i int) *uint32 { return (*uint32)(unsafe.Add(unsafe.Pointer(x.word(0)), 4*i)) }
	rounds := []struct {
		name  string
		waker *att
	}{
		{"woken by this attachment", a},
		{"woken by another attachment", b},
	}
	before := threads(t)
	for r, round := range rounds {
		var wg sync.WaitGroup
		var parked, woken atomic.Int64
		for i := 0; i < waiters; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := word(a, i)
				parked.Add(1)
				for atomic.LoadUint32(w) == uint32(r) {
					a.WaitWord(context.Background(), w, uint32(r), time.Hour)
				}
				woken.Add(1)
			}()
		}
		waitFor(t, "the waiters to park", func() bool { return parked.Load() == waiters })
		time.Sleep(100 * time.Millisecond) // let the sleepers reach the kernel
		during := threads(t)
		t.Logf("%s: %d threads before, %d with %d goroutines parked (MaxSleepers %d)", round.name, before, during, waiters, maxSleepers)
		if during-before > maxSleepers+slack {
			t.Errorf("parking %d goroutines added %d threads; the bound is %d (+%d slack)", waiters, during-before, maxSleepers, slack)
		}
		start := time.Now()
		for i := 0; i < waiters; i++ {
			atomic.StoreUint32(word(round.waker, i), uint32(r+1))
			round.waker.WakeWord(word(round.waker, i))
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			t.Logf("%s: all %d woken in %v", round.name, waiters, time.Since(start))
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: %d of %d waiters not woken after 20 s", round.name, waiters-woken.Load(), waiters)
		}
	}
}
