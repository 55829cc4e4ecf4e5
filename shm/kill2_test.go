package shm_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// resizeNames are the variables resize-loop writes: two with names in
// place, one whose name needs a name block.
var resizeNames = []string{"r0", "r1", "a-name-that-lives-in-a-block"}

// resizeSizes are the lengths resize-loop's values take in turn: in a
// format-2 cell, and in value blocks of three classes, so that most
// writes give the spare cell a block of another class (the allocator
// lock) and some free one.
var resizeSizes = []int{3, 20, 300, 2000}

func init() {
	// resize-loop writes letters(i) of resizeSizes[i%4] bytes into the
	// resizeNames in turn from two goroutines, and every 7th time deletes
	// the variable first, until it is killed.
	helperRoles["resize-loop"] = func(m *shm.Memory, _ string) error {
		return loopUntilKilled(2, func(i int64) error {
			name := b(resizeNames[i%int64(len(resizeNames))])
			if i%7 == 0 {
				if _, err := m.Delete(name); err != nil {
					return err
				}
			}
			_, err := m.Set(name, shm.Bytes(letters(i, resizeSizes[i%int64(len(resizeSizes))])))
			return err
		})
	}
}

// TestKillDuringResize: two processes write values of changing sizes into
// a format-2 file, taking and freeing value and name blocks under the
// allocator lock, and each is killed at a random instant. Every value
// read meanwhile and after is whole (one letter, one of the sizes), the
// variables are writable again within the bound, and Check finds the
// heap, the index and the free list sound after each round.
func TestKillDuringResize(t *testing.T) {
	cfg := killCfg
	cfg.Format = 2
	m := newMem(t, cfg)
	whole := func() error {
		for _, name := range resizeNames {
			v, _, err := m.Get(b(name))
			if errors.Is(err, shm.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("Get(%q): %w", name, err)
			}
			text := v.AppendText(nil)
			if !slices.Contains(resizeSizes, len(text)) || !uniform(text, len(text)) {
				return fmt.Errorf("%q: torn value of %d bytes", name, len(text))
			}
		}
		return nil
	}
	for round := 0; round < killRounds; round++ {
		a := childproc.Start(t, "resize-loop", m.Path(), "")
		a.Expect(t, "ready")
		c := childproc.Start(t, "resize-loop", m.Path(), "")
		c.Expect(t, "ready")
		stop := watch(t, whole)
		killAtRandom(t, a)
		killed := killAtRandom(t, c)
		reads := stop()
		if err := whole(); err != nil {
			t.Fatalf("round %d, after the kills: %v", round, err)
		}
		for _, name := range resizeNames {
			if _, err := m.Set(b(name), shm.Bytes(letters(0, 300))); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(killed); took > recoveryBound {
			t.Errorf("round %d: writable again %v after the kill, the bound is %v", round, took, recoveryBound)
		}
		if err := m.Check(); err != nil {
			t.Fatalf("round %d: Check after the kills: %v", round, err)
		}
		t.Logf("round %d: %d reads while they ran", round, reads)
	}
}
