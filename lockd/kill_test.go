package lockd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/lockd"
)

// recoveryBound is guarantee 4 (docs/GUARANTEES.md): a lock held by a
// process that died is released within 1 s. Times are measured from the
// SIGKILL.
const recoveryBound = time.Second

const killRounds = 3

// lockAsync starts a.Lock(l) and returns a channel that yields the instant
// it returned (the lock is released again at once) or the zero time if it
// failed.
func lockAsync(t *testing.T, a *att, l lockd.Lock) <-chan time.Time {
	t.Helper()
	ctx := ctxTimeout(t, 20*time.Second)
	got := make(chan time.Time, 1)
	go func() {
		if err := a.Lock(ctx, l); err != nil {
			t.Errorf("Lock: %v", err)
			got <- time.Time{}
			return
		}
		at := time.Now()
		a.Unlock(l)
		got <- at
	}()
	return got
}

// checkRecovered fails unless a waiter got the lock within recoveryBound
// of the kill.
func checkRecovered(t *testing.T, what string, killed, got time.Time) {
	t.Helper()
	if got.IsZero() {
		t.Fatalf("%s: never got the lock", what)
	}
	took := got.Sub(killed)
	t.Logf("%s: got the lock %v after the SIGKILL", what, took)
	if took > recoveryBound {
		t.Errorf("%s: took %v, the bound is %v", what, took, recoveryBound)
	}
}

// TestKillWriteHolder: a process killed while holding a write lock (a
// plain Proc.Lock, recorded nowhere but in the lock word) does not wedge
// the writer already waiting for it nor a reader arriving after.
func TestKillWriteHolder(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	rb := lane(t, b)
	l := defaultGeom.lockAt(0)
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "hold-write", path, "")
		c.Expect(t, "ready")
		if li := a.Inspect(l); !li.Writer || li.WriterPid != c.Cmd.Process.Pid {
			t.Fatalf("before the kill: %+v, want a writer with the child's pid %d", li, c.Cmd.Process.Pid)
		}
		got := lockAsync(t, a, l)
		waitFor(t, "our writer to wait", func() bool { return a.Inspect(l).Waiting == 1 })
		killed := c.Kill(t)
		checkRecovered(t, "waiting writer", killed, <-got)
		if err := rb.RLock(ctxTimeout(t, 10*time.Second), l); err != nil {
			t.Fatalf("RLock after the recovery: %v", err)
		}
		rb.RUnlock(l)
		if li := a.Inspect(l); li != (lockd.LockInfo{}) {
			t.Fatalf("after the recovery the lock is %+v, want free", li)
		}
	}
}

// TestKillWriteHolderNoWaiter: nobody waits at the instant of the kill; the
// next writer still gets in within the bound.
func TestKillWriteHolderNoWaiter(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "hold-write", path, "")
		c.Expect(t, "ready")
		killed := c.Kill(t)
		checkRecovered(t, "writer arriving after the kill", killed, <-lockAsync(t, a, l))
	}
}

// TestKillReadHolder: a process killed while holding a read lock (recorded
// in its lane) is counted out, so the waiting writer gets in.
func TestKillReadHolder(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	l := defaultGeom.lockAt(0)
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "hold-read", path, "")
		c.Expect(t, "ready")
		if li := a.Inspect(l); li.Readers != 1 {
			t.Fatalf("before the kill: %+v, want one reader", li)
		}
		got := lockAsync(t, a, l)
		waitFor(t, "our writer to wait", func() bool { return a.Inspect(l).Waiting == 1 })
		killed := c.Kill(t)
		checkRecovered(t, "writer waiting for a dead reader", killed, <-got)
		if li := a.Inspect(l); li != (lockd.LockInfo{}) {
			t.Fatalf("after the recovery the lock is %+v, want free", li)
		}
	}
}

// TestKillWaitingWriter: a process killed while registered as a waiting
// writer no longer holds readers back.
func TestKillWaitingWriter(t *testing.T) {
	path := newSpace(t, defaultGeom)
	a := attach(t, path, defaultGeom, lockd.Options{})
	b := attach(t, path, defaultGeom, lockd.Options{})
	ra, rb := lane(t, a), lane(t, b)
	l := defaultGeom.lockAt(0)
	for round := 0; round < killRounds; round++ {
		if err := ra.RLock(context.Background(), l); err != nil {
			t.Fatal(err)
		}
		c := childproc.Start(t, "wait-write", path, "")
		c.Expect(t, "ready")
		waitFor(t, "the child to wait as a writer", func() bool { return a.Inspect(l).Waiting == 1 })
		killed := c.Kill(t)
		// Writer priority holds new readers back until the dead waiter is
		// counted out.
		if err := rb.RLock(ctxTimeout(t, 20*time.Second), l); err != nil {
			t.Fatalf("RLock: %v", err)
		}
		checkRecovered(t, "reader held back by a dead waiting writer", killed, time.Now())
		rb.RUnlock(l)
		ra.RUnlock(l)
		if li := a.Inspect(l); li != (lockd.LockInfo{}) {
			t.Fatalf("after the recovery the lock is %+v, want free", li)
		}
	}
}

// TestKillLaneWriterRepairs: a write hold recorded in a lane of a dead process is
// handed to the RepairFunc with the aux value it recorded and whether its
// lane had committed, before anyone else gets the lock.
func TestKillLaneWriterRepairs(t *testing.T) {
	for _, commit := range []bool{false, true} {
		name := map[bool]string{false: "uncommitted", true: "committed"}[commit]
		t.Run(name, func(t *testing.T) {
			path := newSpace(t, defaultGeom)
			type call struct {
				l         lockd.Lock
				aux       uint64
				committed bool
			}
			var (
				mu    sync.Mutex
				calls []call
			)
			a := attach(t, path, defaultGeom, lockd.Options{Repair: func(l lockd.Lock, aux uint64, committed bool) {
				mu.Lock()
				calls = append(calls, call{l, aux, committed})
				mu.Unlock()
			}})
			l := defaultGeom.lockAt(0)
			arg := ""
			if commit {
				arg = "commit"
			}
			c := childproc.Start(t, "lane-write", path, arg)
			c.Expect(t, "ready")
			got := lockAsync(t, a, l)
			killed := c.Kill(t)
			checkRecovered(t, "writer waiting for a dead writer recorded in a lane", killed, <-got)
			mu.Lock()
			defer mu.Unlock()
			want := []call{{l, 42, commit}}
			if len(calls) != 1 || calls[0] != want[0] {
				t.Fatalf("repair calls %+v, want %+v", calls, want)
			}
		})
	}
}

// TestStaleHoldAfterGenerationWrap: a write hold left by an attachment that
// is gone must be released for the next writer however many times its slot
// has been reused since. An owner carries only 7 bits of its slot's
// generation, and every attach/detach cycle advances the generation by 2, so
// after 64 cycles the new attachment has the very owner name of the dead
// holder: it then takes the stale hold for its own and waits for itself.
func TestStaleHoldAfterGenerationWrap(t *testing.T) {
	g := geometry{procs: 2, lanes: 2, entries: 4}
	path := newSpace(t, g)
	l := g.lockAt(0)
	dead, err := openAtt(path, g, lockd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Lock(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	deadOwner := dead.Owner()
	dead.close() // Detach leaves the hold to recovery, as a death does
	var p *att
	for cycles := 1; ; cycles++ {
		a, err := openAtt(path, g, lockd.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Slot() != deadOwner.Slot() {
			t.Fatalf("attach took slot %d, want the dead holder's %d", a.Slot(), deadOwner.Slot())
		}
		if a.Owner() == deadOwner || cycles == 200 {
			t.Logf("after %d reattachments the slot's owner is %v (the dead holder was %v)", cycles, a.Owner(), deadOwner)
			p = a
			t.Cleanup(p.close)
			break
		}
		a.close()
	}
	start := time.Now()
	err = p.Lock(ctxTimeout(t, 3*time.Second), l)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Lock of a lock held by a long-gone attachment: %v after %v (lock %+v)", err, took, p.Inspect(l))
	}
	p.Unlock(l)
	if took > recoveryBound {
		t.Errorf("Lock took %v, the bound is %v", took, recoveryBound)
	}
}
