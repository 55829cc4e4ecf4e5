package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/lockd"
	"github.com/dsm-dev/dsm/shm"
)

// recoveryBound is guarantee 4 (docs/GUARANTEES.md): a lock held by a
// process that died is released within 1 s. Times are measured from the
// SIGKILL.
const recoveryBound = time.Second

const killRounds = 5

var killCfg = shm.Config{Vars: 8, Procs: 4, Lanes: 4, GroupMax: 4}

// letters returns n copies of the i-th letter.
func letters(i int64, n int) []byte { return bytes.Repeat([]byte{byte('A' + i%26)}, n) }

func init() {
	// set-loop overwrites "torn" with 200 A's, then 200 B's, and so on,
	// from two goroutines as fast as they can, until it is killed. With
	// two writers the variable's lock is often held or waited for when
	// the kill lands (the recovery times in the log show it), and readers
	// still get in between the writes.
	helperRoles["set-loop"] = func(m *shm.Memory, _ string) error {
		return loopUntilKilled(2, func(i int64) error {
			_, err := m.Set(b("torn"), shm.Bytes(letters(i%2, 200)))
			return err
		})
	}
	// mset-loop sets "m1" and "m2" to one value, a new one each time, in
	// one MSet, from two goroutines, until it is killed.
	helperRoles["mset-loop"] = func(m *shm.Memory, _ string) error {
		return loopUntilKilled(2, func(i int64) error {
			v := shm.Bytes(letters(i, 200))
			return m.MSet([][]byte{b("m1"), b("m2")}, []shm.Value{v, v})
		})
	}
}

// loopUntilKilled runs op in n goroutines forever, saying "ready" once each
// has run it once, and returns the first error.
func loopUntilKilled(n int, op func(i int64) error) error {
	errs := make(chan error, n)
	var started sync.WaitGroup
	for g := 0; g < n; g++ {
		started.Add(1)
		go func() {
			for i := int64(g); ; i += int64(n) {
				if err := op(i); err != nil {
					errs <- err
					return
				}
				if i < int64(n) {
					started.Done()
				}
			}
		}()
	}
	started.Wait()
	fmt.Println("ready")
	return <-errs
}

// watch runs check in a loop in a goroutine until the returned stop is
// called; stop returns how many checks ran. A failed check fails the test.
func watch(t *testing.T, check func() error) (stop func() int64) {
	t.Helper()
	var (
		n    atomic.Int64
		quit atomic.Bool
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !quit.Load() {
			if err := check(); err != nil {
				t.Error(err)
				return
			}
			n.Add(1)
		}
	}()
	return func() int64 {
		quit.Store(true)
		wg.Wait()
		return n.Load()
	}
}

// killAtRandom lets the child run for a random while, then kills it.
func killAtRandom(t *testing.T, c *childproc.Child) time.Time {
	t.Helper()
	time.Sleep(time.Duration(rand.Int64N(int64(30 * time.Millisecond))))
	return c.Kill(t)
}

// TestKillDuringSet kills a process in the middle of its stream of 200-byte
// writes: while it runs, and after it dies, every value read is all A or
// all B, and the variable can be read and written again within the bound.
func TestKillDuringSet(t *testing.T) {
	m := newMem(t, killCfg)
	torn := func() error {
		v, _, err := m.Get(b("torn"))
		if err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		if text := v.AppendText(nil); !uniform(text, 200) || (text[0] != 'A' && text[0] != 'B') {
			return fmt.Errorf("torn value %q", text)
		}
		return nil
	}
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "set-loop", m.Path(), "")
		c.Expect(t, "ready")
		stop := watch(t, torn)
		killed := killAtRandom(t, c)
		reads := stop()
		if err := torn(); err != nil {
			t.Fatalf("round %d, after the kill: %v", round, err)
		}
		readAt := time.Now()
		_, ver, err := m.Get(b("torn"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Set(b("torn"), shm.Bytes(letters(0, 200))); err != nil {
			t.Fatal(err)
		}
		wroteAt := time.Now()
		t.Logf("round %d: %d reads while it ran; after the SIGKILL, read at %v (version %d), written at %v",
			round, reads, readAt.Sub(killed), ver, wroteAt.Sub(killed))
		if took := wroteAt.Sub(killed); took > recoveryBound {
			t.Errorf("round %d: the variable was writable again %v after the kill, the bound is %v", round, took, recoveryBound)
		}
	}
}

// TestKillDuringMSet kills a process in the middle of its stream of MSets
// of m1 and m2 to equal values: while it runs, and after it dies, the two
// are equal in every snapshot and in separate reads (all of one group or
// all of the other, never half).
func TestKillDuringMSet(t *testing.T) {
	m := newMem(t, killCfg)
	pair := func() error {
		items, err := m.MGet([][]byte{b("m1"), b("m2")})
		if err != nil {
			return fmt.Errorf("MGet: %w", err)
		}
		a, c := items[0].Value.AppendText(nil), items[1].Value.AppendText(nil)
		if !items[0].Found || !bytes.Equal(a, c) || !uniform(a, 200) {
			return fmt.Errorf("MGet saw m1=%q m2=%q", a, c)
		}
		return nil
	}
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "mset-loop", m.Path(), "")
		c.Expect(t, "ready")
		stop := watch(t, pair)
		killed := killAtRandom(t, c)
		reads := stop()
		if err := pair(); err != nil {
			t.Fatalf("round %d, after the kill: %v", round, err)
		}
		readAt := time.Now()
		v1, _ := mustGet(t, m, "m1")
		v2, _ := mustGet(t, m, "m2")
		if !v1.Equal(v2) {
			t.Fatalf("round %d: after the kill m1=%q, m2=%q", round, v1, v2)
		}
		v := shm.Bytes(letters(int64(round), 200))
		if err := m.MSet([][]byte{b("m1"), b("m2")}, []shm.Value{v, v}); err != nil {
			t.Fatal(err)
		}
		wroteAt := time.Now()
		t.Logf("round %d: %d snapshots while it ran; after the SIGKILL, read at %v, written at %v",
			round, reads, readAt.Sub(killed), wroteAt.Sub(killed))
		if took := wroteAt.Sub(killed); took > recoveryBound {
			t.Errorf("round %d: the pair was writable again %v after the kill, the bound is %v", round, took, recoveryBound)
		}
		if err := m.Check(); err != nil {
			t.Fatalf("round %d: Check: %v", round, err)
		}
	}
}

func init() {
	// add-print adds 1 to "acked" in a loop and prints each result once
	// Add has returned it: every printed number is an acknowledged write.
	helperRoles["add-print"] = func(m *shm.Memory, _ string) error {
		fmt.Println("ready")
		for {
			n, _, err := m.Add(b("acked"), 1)
			if err != nil {
				return err
			}
			fmt.Println(n)
		}
	}
	// index-loop creates and deletes variables from two goroutines, so that
	// the index lock is often held when it is killed.
	helperRoles["index-loop"] = func(m *shm.Memory, _ string) error {
		return loopUntilKilled(2, func(i int64) error {
			name := b(fmt.Sprint("tmp-", i%6))
			if i%2 == 0 {
				_, err := m.Set(name, shm.Int(i))
				if errors.Is(err, shm.ErrFull) {
					err = nil
				}
				return err
			}
			_, err := m.Delete(name)
			return err
		})
	}
}

// TestKillLosesNoAcknowledgedAdd: after a process is killed in the middle
// of its stream of Adds, the counter holds every add it acknowledged, plus
// at most the one in flight.
func TestKillLosesNoAcknowledgedAdd(t *testing.T) {
	m := newMem(t, killCfg)
	for round := 0; round < killRounds; round++ {
		before, _, err := m.Add(b("acked"), 0)
		if err != nil {
			t.Fatal(err)
		}
		c := childproc.Start(t, "add-print", m.Path(), "")
		c.Expect(t, "ready")
		killAtRandom(t, c)
		last := before
		for _, line := range c.Rest { // what it printed before it died
			if _, err := fmt.Sscan(line, &last); err != nil {
				t.Fatalf("child printed %q", line)
			}
		}
		v, _ := mustGet(t, m, "acked")
		n, _ := v.Int()
		t.Logf("round %d: %d adds acknowledged, counter at %d", round, last-before, n)
		if n < last || n > last+1 {
			t.Fatalf("round %d: counter %d after the kill; the last acknowledged add made it %d", round, n, last)
		}
	}
}

// TestKillDuringIndexChange kills a process that creates and deletes
// variables: the index and free list it may have left half changed are
// rebuilt, so lookups, creation and Check all work afterwards.
func TestKillDuringIndexChange(t *testing.T) {
	m := newMem(t, killCfg)
	mustSet(t, m, "keep", shm.Int(1))
	for round := 0; round < killRounds; round++ {
		c := childproc.Start(t, "index-loop", m.Path(), "")
		c.Expect(t, "ready")
		killed := killAtRandom(t, c)
		if _, err := m.Set(b(fmt.Sprint("new-", round)), shm.Int(int64(round))); err != nil && !errors.Is(err, shm.ErrFull) {
			t.Fatalf("round %d: Set after the kill: %v", round, err)
		}
		took := time.Since(killed)
		m.Delete(b(fmt.Sprint("new-", round)))
		wantValue(t, m, "keep", shm.Int(1), 0)
		if err := m.Check(); err != nil {
			t.Fatalf("round %d: Check after the kill: %v", round, err)
		}
		t.Logf("round %d: a variable was created %v after the SIGKILL", round, took)
		if took > recoveryBound {
			t.Errorf("round %d: took %v, the bound is %v", round, took, recoveryBound)
		}
	}
}

func init() {
	helperRoles["open-and-hang"] = func(m *shm.Memory, _ string) error {
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return nil
	}
}

// TestKillFreesProcessSlot: the process slot of a killed process is taken
// back by the next Open, so a full table of slots does not stay full.
func TestKillFreesProcessSlot(t *testing.T) {
	cfg := small // two process slots
	m := newMem(t, cfg)
	cfg.Path = m.Path()
	c := childproc.Start(t, "open-and-hang", m.Path(), "")
	c.Expect(t, "ready")
	_, err := shm.Open(cfg)
	wantErr(t, "Open with every slot taken", err, lockd.ErrNoSlot)
	c.Kill(t)
	m2 := openMem(t, cfg)
	mustSet(t, m2, "x", shm.Int(1))
	if n := len(m.Procs()); n != 2 {
		t.Errorf("Procs lists %d processes, want 2", n)
	}
}
