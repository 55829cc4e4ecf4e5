package shm

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// changedAt is the time of change format 2 stamped in x's current cell.
func changedAt(t *testing.T, m *Memory, name string) time.Time {
	t.Helper()
	r, ok := m.lookup([]byte(name))
	if !ok {
		t.Fatalf("%s is missing", name)
	}
	cell := m.bufOff(r.slot, atomic.LoadUint64(m.version(r.slot)))
	return time.Unix(0, int64(atomic.LoadUint64(m.u64(cell+cellChanged))))
}

// TestTimeOfChange: each write stamps its cell with a time no later than
// the write and not long before it (the ticker may wait for a CPU, so
// the bound is loose), stamps never go back, the first write after the
// clock stopped for want of writes reads the clock itself (exactly), and
// Close stops the clock's goroutine.
func TestTimeOfChange(t *testing.T) {
	m := openInternal(t, Config{Path: filepath.Join(t.TempDir(), "dsm.mem"), Vars: 16, Format: 2})
	var last time.Time
	write := func(when string, early time.Duration) {
		t.Helper()
		before := time.Now()
		if _, err := m.Set([]byte("x"), Int(1)); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		got := changedAt(t, m, "x")
		if got.Before(before.Add(-early)) || got.After(after) || got.Before(last) {
			t.Errorf("%s: stamped %v, the write ran from %v to %v, the last stamp was %v", when, got, before, after, last)
		}
		last = got
	}
	write("first write", 0)
	for i := range 50 {
		write("streaming", time.Second)
		if i%10 == 0 {
			time.Sleep(3 * clockTick)
		}
	}
	time.Sleep(2 * clockIdle * clockTick) // the ticker stops
	if m.clock.running.Load() {
		t.Errorf("the clock still runs after %v without a write", 2*clockIdle*clockTick)
	}
	write("after the clock stopped", 0)
	if !m.clock.running.Load() {
		t.Errorf("a write did not start the clock again")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m.clock.running.Load() {
		t.Errorf("the clock runs after Close")
	}
}
