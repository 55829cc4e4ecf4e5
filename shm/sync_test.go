package shm_test

import (
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

func TestSync(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "x", shm.Int(1))
	if err := m.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	const callers = 16
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := m.Add(b("x"), 1); err != nil {
				errs <- err
				return
			}
			errs <- m.SyncBarrier()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("SyncBarrier: %v", err)
		}
	}
	flushes, total := m.SyncStats()
	t.Logf("%d barriers took %d flushes (%v)", callers, flushes, total)
	if flushes < 1 || flushes > callers {
		t.Errorf("%d barriers ran %d flushes, want 1..%d", callers, flushes, callers)
	}
}
