package shm_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// TestGroupDeleteFreesSlot: a variable deleted through a group gives its
// slot back when the group unlocks, so a full file takes a new variable
// again; one deleted and then set again in the group keeps its slot.
func TestGroupDeleteFreesSlot(t *testing.T) {
	m := newMem(t, small) // 4 variables
	for i := range 4 {
		mustSet(t, m, "v"+strconv.Itoa(i), shm.Int(int64(i)))
	}
	if _, err := m.Set(b("new"), shm.Int(1)); !errors.Is(err, shm.ErrFull) {
		t.Fatalf("Set on a full file: %v, want ErrFull", err)
	}
	g, err := m.Lock(context.Background(), [][]byte{b("v1"), b("v2")}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return g.Delete(b("v1")) },
		func() error { return g.Delete(b("v2")) },
		g.Commit,
		func() error { return g.Set(b("v2"), shm.Int(22)) }, // v2 comes back
		g.Commit,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	g.Unlock()
	if _, _, err := m.Get(b("v1")); !errors.Is(err, shm.ErrNotFound) {
		t.Fatalf("Get(v1) after the group deleted it: %v, want ErrNotFound", err)
	}
	if v, _, err := m.Get(b("v2")); err != nil || !v.Equal(shm.Int(22)) {
		t.Fatalf("Get(v2) = %v, %v; want 22", v, err)
	}
	if _, err := m.Set(b("new"), shm.Int(1)); err != nil {
		t.Fatalf("Set after a group deleted a variable of the full file: %v", err)
	}
	if _, err := m.Set(b("newer"), shm.Int(1)); !errors.Is(err, shm.ErrFull) {
		t.Fatalf("a second new variable: %v, want ErrFull (v2 kept its slot)", err)
	}
}

// TestGroupsWaitWithoutLanes: groups that wait for a held variable, four
// times as many as the process has lanes, writers and readers, hold no
// lane while they wait, so a group on a free variable gets one at once;
// once the holder lets go, every waiter gets the variable in turn.
func TestGroupsWaitWithoutLanes(t *testing.T) {
	m := newMem(t, unit) // 4 lanes
	holder, err := m.Lock(context.Background(), [][]byte{b("x")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	const waiters = 16
	var started sync.WaitGroup
	errs := make(chan error, waiters)
	for i := range waiters {
		started.Add(1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			started.Done()
			g, err := m.Lock(ctx, [][]byte{b("x")}, i%2 == 0, true)
			if err == nil {
				g.Unlock()
			}
			errs <- err
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let them reach their wait
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if g, err := m.Lock(ctx, [][]byte{b("y")}, true, true); err != nil {
		t.Errorf("Lock of a free variable while %d groups wait for another: %v", waiters, err)
	} else {
		g.Unlock()
	}
	holder.Unlock()
	for range waiters {
		if err := <-errs; err != nil {
			t.Errorf("a waiting group: %v", err)
		}
	}
}

// TestGroupNoLane: when every lane of the process is held by a group, one
// more Lock fails with ErrNoLane once its context ends.
func TestGroupNoLane(t *testing.T) {
	m := newMem(t, unit) // 4 lanes
	for i := range 4 {
		g, err := m.Lock(context.Background(), [][]byte{b("v" + strconv.Itoa(i))}, i%2 == 0, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Unlock)
	}
	for _, write := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := m.Lock(ctx, [][]byte{b("free")}, write, true)
		cancel()
		if !errors.Is(err, shm.ErrNoLane) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock (write %v) with every lane held = %v, want ErrNoLane and DeadlineExceeded", write, err)
		}
	}
}

// TestWaitForLaneHoldsNoLock: a write group or MSet that has its locks
// but finds every lane held lets its locks go while it waits for a lane
// (whose borrowers could be waiting for those locks), so a Set of its
// variable goes ahead meanwhile; it completes once a lane is free.
func TestWaitForLaneHoldsNoLock(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(m *shm.Memory) error
	}{
		{"Lock", func(m *shm.Memory) error {
			g, err := m.Lock(context.Background(), [][]byte{b("x")}, true, true)
			if err == nil {
				g.Unlock()
			}
			return err
		}},
		{"MSet", func(m *shm.Memory) error {
			return m.MSet([][]byte{b("x"), b("z")}, []shm.Value{shm.Int(1), shm.Int(2)})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMem(t, unit) // 4 lanes
			var readers []*shm.LockGroup
			for i := range 4 {
				g, err := m.Lock(context.Background(), [][]byte{b("r" + strconv.Itoa(i))}, false, true)
				if err != nil {
					t.Fatal(err)
				}
				readers = append(readers, g)
			}
			done := make(chan error, 1)
			go func() { done <- tc.run(m) }()
			time.Sleep(100 * time.Millisecond) // let it find no lane
			set := make(chan error, 1)
			go func() { _, err := m.Set(b("x"), shm.Int(7)); set <- err }()
			select {
			case err := <-set:
				if err != nil {
					t.Errorf("Set(x): %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Errorf("Set(x) waited while %s waited for a lane", tc.name)
				defer func() { <-set }()
			}
			readers[0].Unlock()
			if err := <-done; err != nil {
				t.Errorf("%s once a lane was free: %v", tc.name, err)
			}
			for _, g := range readers[1:] {
				g.Unlock()
			}
		})
	}
}
