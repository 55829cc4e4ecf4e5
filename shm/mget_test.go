package shm_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// TestMGetSnapshotUnderWriters checks that MGet returns one instant's state
// while a writer changes the variables in groups. Each round of the writer
// deletes x and sets y to an odd number in one group, then creates x again
// with MSet, x and y both set to the next even number. So every instant has
// either x missing and y odd, or x equal to y and even; readers check that
// every MGet finds one of the two, whichever way it read (optimistically or
// under read locks).
func TestMGetSnapshotUnderWriters(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 64, Procs: 8, Lanes: 8, GroupMax: 8})
	x, y := b("x"), b("y")
	// Readers look x up first and y last, with other variables between:
	// the wider the gap, the likelier a writer's round falls into it.
	names := [][]byte{x, b("f1"), b("f2"), b("f3"), b("f4"), b("f5"), y}
	vals := make([]shm.Value, len(names))
	for i := range vals {
		vals[i] = shm.Int(0)
	}
	if err := m.MSet(names, vals); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var rounds atomic.Int64
	wg.Go(func() {
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			g, err := m.Lock(context.Background(), [][]byte{x, y}, true, true)
			if err != nil {
				t.Error(err)
				return
			}
			g.Delete(x)
			g.Set(y, shm.Int(2*i-1))
			err = g.Commit()
			g.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			if err := m.MSet([][]byte{y, x}, []shm.Value{shm.Int(2 * i), shm.Int(2 * i)}); err != nil {
				t.Error(err)
				return
			}
			rounds.Add(1)
		}
	})
	var reads, torn atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				items, err := m.MGet(names)
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
				xi, yi := items[0], items[len(items)-1]
				yn, _ := yi.Value.Int()
				xn, _ := xi.Value.Int()
				switch {
				case !yi.Found || !items[1].Found:
					torn.Add(1)
				case !xi.Found && yn%2 == 1:
				case xi.Found && xn == yn && yn%2 == 0:
				default:
					if torn.Add(1) <= 5 {
						t.Errorf("MGet saw x=%v (found %v) and y=%v: no instant had both", xi.Value, xi.Found, yi.Value)
					}
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d writer rounds, %d MGets, %d torn", rounds.Load(), reads.Load(), torn.Load())
	if rounds.Load() < 10 || reads.Load() < 10 {
		t.Fatalf("too little ran to check anything: %d rounds, %d reads", rounds.Load(), reads.Load())
	}
	if torn.Load() != 0 {
		t.Fatalf("%d of %d MGets were not snapshots", torn.Load(), reads.Load())
	}
}
