//go:build dsmfail

package shm_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// failHit is the pass of a failure point at which the child dies: a few
// writes in, so that an old value exists.
const failHit = 3

func init() {
	// fail-write arms the failure point named in arg ("point@hit@op") and
	// runs op in a loop until the point kills the process: setwith stores
	// letters(i) in "torn" through the general write path, sync does that
	// and flushes, mset stores letters(i) in "m1" and "m2" as one group,
	// add adds 1 to "ctr" through Add's fast path.
	helperRoles["fail-write"] = func(m *shm.Memory, arg string) error {
		f := strings.Split(arg, "@")
		hit, _ := strconv.Atoi(f[1])
		shm.ArmFailpoint(f[0], hit)
		for i := int64(1); i <= 100; i++ {
			if err := failOp(m, f[2], i); err != nil {
				return err
			}
		}
		return fmt.Errorf("failure point %s was never passed %d times", f[0], hit)
	}
}

func failOp(m *shm.Memory, op string, i int64) error {
	v := failValue(op, i)
	switch op {
	case "setwith":
		_, _, err := m.SetWith(b("torn"), v, shm.SetOptions{})
		return err
	case "sync":
		if _, _, err := m.SetWith(b("torn"), v, shm.SetOptions{}); err != nil {
			return err
		}
		return m.Sync()
	case "mset":
		return m.MSet([][]byte{b("m1"), b("m2")}, []shm.Value{v, v})
	case "add":
		_, _, err := m.Add(b("ctr"), 1)
		return err
	case "resize":
		_, _, err := m.SetWith(b("torn"), v, shm.SetOptions{})
		return err
	}
	return fmt.Errorf("unknown op %q", op)
}

// failValue is what op's i-th write leaves: letters(i) or, for add, i.
// For resize the letters are 20 or 300, two writes each, so that in
// format 2 every write needs a value block of another size than its spare
// cell has, and takes it from the allocator.
func failValue(op string, i int64) shm.Value {
	switch op {
	case "add":
		return shm.Int(i)
	case "resize":
		return shm.Bytes(letters(i, []int{20, 300}[i/2%2]))
	}
	return shm.Bytes(letters(i, 200))
}

// failNames are the variables op writes.
func failNames(op string) []string {
	switch op {
	case "mset":
		return []string{"m1", "m2"}
	case "add":
		return []string{"ctr"}
	}
	return []string{"torn"}
}

// TestFailpoints kills a process with SIGKILL at each failure point, in the
// middle of a write, a group write or a flush, and then checks, from
// another process that had the file open all along: every variable holds
// exactly its old or its new value as the point implies (never a torn
// one), a group is all old or all new, the variables' locks are free again
// within 1 s, and Check finds the file sound.
func TestFailpoints(t *testing.T) {
	cases := []struct {
		point, op string
		hit       int
		iteration int64 // the write that the kill interrupted
		newValue  bool  // whether it must be visible afterwards
		format    int   // the file's format, if the point is one format's
	}{
		{shm.FailLocked, "setwith", failHit, failHit, false, 0},
		{shm.FailBeforeValue, "setwith", failHit, failHit, false, 0},
		{shm.FailValueWritten, "setwith", failHit, failHit, false, 0},
		{shm.FailPublished, "setwith", failHit, failHit, true, 0},
		// Add's fast path passes the same points as any write.
		{shm.FailBeforeValue, "add", failHit, failHit, false, 0},
		{shm.FailValueWritten, "add", failHit, failHit, false, 0},
		{shm.FailPublished, "add", failHit, failHit, true, 0},
		{shm.FailUnlocked, "setwith", failHit, failHit, true, 0},
		{shm.FailBeforeFlush, "sync", failHit, failHit, true, 0},
		{shm.FailAfterFlush, "sync", failHit, failHit, true, 0},
		// Two variables per group: pass 2j-1 is the j-th group, after its
		// first variable.
		{shm.FailGroupHalf, "mset", 2*failHit - 1, failHit, false, 0},
		{shm.FailGroupCommitted, "mset", 2*failHit - 1, failHit, true, 0},
		// In format 2, killed holding the allocator lock: the heap is
		// rebuilt from the cells, the block taken goes back.
		{shm.FailAllocating, "resize", failHit, failHit, false, 2},
	}
	// A rebuild is no write: TestRepairKilled kills one. A whole-file
	// write is refused at the next Open: TestInstallKilled kills one.
	covered := map[string]bool{shm.FailRebuilding: true, shm.FailInstalling: true}
	for _, c := range cases {
		covered[c.point] = true
		t.Run(c.point+"/"+c.op, func(t *testing.T) {
			cfg := killCfg
			cfg.Format = c.format
			m := newMem(t, cfg)
			names := failNames(c.op)
			for _, n := range names {
				mustSet(t, m, n, failValue(c.op, 0))
			}
			ch := childproc.Start(t, "fail-write", m.Path(), fmt.Sprintf("%s@%d@%s", c.point, c.hit, c.op))
			died := waitKilled(t, ch)
			want := c.iteration - 1
			if c.newValue {
				want = c.iteration
			}
			for _, n := range names {
				wantValue(t, m, n, failValue(c.op, want), 0)
			}
			for _, n := range names {
				if _, _, err := m.SetWith(b(n), failValue(c.op, 0), shm.SetOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if took := time.Since(died); took > recoveryBound {
				t.Errorf("the variables were writable again %v after the kill, the bound is %v", took, recoveryBound)
			}
			if err := m.Check(); err != nil {
				t.Errorf("Check after the kill: %v", err)
			}
		})
	}
	for _, p := range shm.FailPoints {
		if !covered[p] {
			t.Errorf("failure point %s has no case", p)
		}
	}
}

// waitKilled waits for a child to die of SIGKILL (its failure point) and
// returns when it was reaped.
func waitKilled(t *testing.T, c *childproc.Child) time.Time {
	t.Helper()
	for c.Out.Scan() {
	}
	err := c.Cmd.Wait()
	at := time.Now()
	if st := c.Cmd.ProcessState; st == nil || st.Exited() {
		t.Fatalf("child exited instead of dying at its failure point: %v; stderr:\n%s", err, c.Stderr)
	}
	return at
}
