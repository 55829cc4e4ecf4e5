//go:build dsmfail

package shm_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// createVer is the create version of the create-group role: an even step
// from a fresh slot's version 0, so each slot passes through version 1
// first, and the lane records a version more than one above it.
const createVer = 10

func init() {
	// create-group arms the failure point named in arg ("point@hit") and
	// creates "c1" and "c2" in one group with create version createVer,
	// which the point interrupts.
	helperRoles["create-group"] = func(m *shm.Memory, arg string) error {
		f := strings.Split(arg, "@")
		hit, _ := strconv.Atoi(f[1])
		shm.ArmFailpoint(f[0], hit)
		g, err := m.Lock(context.Background(), [][]byte{b("c1"), b("c2")}, true, true)
		if err != nil {
			return err
		}
		defer g.Unlock()
		g.SetCreateVersion(createVer)
		for _, n := range []string{"c1", "c2"} {
			if err := g.Set(b(n), shm.Bytes(letters(1, 200))); err != nil {
				return err
			}
		}
		if err := g.Commit(); err != nil {
			return err
		}
		return fmt.Errorf("failure point %s was never passed %d times", f[0], hit)
	}
}

// TestCreateVersionKilled kills a process in the middle of a group commit
// that creates two variables at a create version: killed before the
// commit point, neither exists; after it, with the first published, the
// recovery of the dead process's locks publishes the second at the
// version the commit gave it, not the slot's next one. The variables'
// locks are free again within 1 s, and Check finds the file sound.
func TestCreateVersionKilled(t *testing.T) {
	for _, c := range []struct {
		point string
		done  bool
	}{
		{shm.FailGroupHalf, false},
		{shm.FailGroupCommitted, true},
	} {
		t.Run(c.point, func(t *testing.T) {
			m := newMem(t, killCfg)
			ch := childproc.Start(t, "create-group", m.Path(), c.point+"@1")
			died := waitKilled(t, ch)
			for _, n := range []string{"c1", "c2"} {
				if c.done {
					wantValue(t, m, n, shm.Bytes(letters(1, 200)), createVer)
				} else {
					wantMissing(t, m, n)
				}
			}
			if _, err := m.Set(b("c2"), shm.Int(1)); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(died); took > recoveryBound {
				t.Errorf("the variables were writable again %v after the kill, the bound is %v", took, recoveryBound)
			}
			if err := m.Check(); err != nil {
				t.Errorf("Check after the kill: %v", err)
			}
		})
	}
}

// TestCreateVersionSpare: a creation at an even step passes through the
// next version first, so the commit fills the spare buffer: until the
// commit point, a walk that reads the current buffer without waiting for
// the writer finds neither variable.
func TestCreateVersionSpare(t *testing.T) {
	m := newMem(t, unit)
	var seen []string
	remove := shm.SetFailHook(shm.FailGroupHalf, func() {
		if _, err := m.Scan(0, func(name []byte, _ uint64) bool {
			seen = append(seen, string(name))
			return true
		}); err != nil {
			t.Error(err)
		}
	})
	defer remove()
	g, err := m.Lock(context.Background(), [][]byte{b("p"), b("q")}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	g.SetCreateVersion(4)
	for _, n := range []string{"p", "q"} {
		if err := g.Set(b(n), shm.Int(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Commit(); err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	if len(seen) != 0 {
		t.Errorf("before the commit point a walk found %q", seen)
	}
	wantValue(t, m, "p", shm.Int(1), 4)
	wantValue(t, m, "q", shm.Int(1), 4)
}
