//go:build dsmfail

package shm_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// bigImage is an image of m's file with n variables "v0"... at versions
// above any the tests' earlier writes reach.
func bigImage(m *shm.Memory, n int) shm.Image {
	img := emptyImage(m)
	for i := range n {
		img.Vars = append(img.Vars, shm.ImageVar{Name: b(fmt.Sprint("v", i)), Value: shm.Bytes(letters(int64(i), 100)), Version: uint64(10 + i)})
	}
	return img
}

func init() {
	// install-fail arms FailInstalling at the pass in arg ("hit@op") and
	// installs a 40-variable image (op "install") or flushes (op "flush"),
	// which the failure point interrupts.
	helperRoles["install-fail"] = func(m *shm.Memory, arg string) error {
		f := strings.Split(arg, "@")
		hit, _ := strconv.Atoi(f[0])
		shm.ArmFailpoint(shm.FailInstalling, hit)
		var err error
		if f[1] == "flush" {
			_, err = m.Flush(context.Background())
		} else {
			err = m.Install(context.Background(), bigImage(m, 40))
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("failure point %s was never passed %d times", shm.FailInstalling, hit)
	}
}

// TestInstallKilled kills a process at FailInstalling, in the middle of an
// Install or a Flush: the next Open refuses the file with
// ErrInstallIncomplete, an Open with AllowIncomplete reports it, and an
// Install through that Memory completes the file, which then opens as
// usual and holds exactly the image.
func TestInstallKilled(t *testing.T) {
	// The install drops the 20 old variables, then writes 40; the flush
	// drops 20. Each passes the point once per variable.
	for op, hit := range map[string]int{"install": 25, "flush": 10} {
		t.Run(op, func(t *testing.T) {
			m := newInstallMem(t, "mem")
			for i := range 20 {
				mustSet(t, m, fmt.Sprint("old", i), shm.Int(int64(i)))
			}
			cfg := installCfg
			cfg.Path = m.Path()
			m.Close()
			ch := childproc.Start(t, "install-fail", cfg.Path, fmt.Sprintf("%d@%s", hit, op))
			waitKilled(t, ch)
			_, err := shm.Open(cfg)
			if !errors.Is(err, shm.ErrInstallIncomplete) {
				t.Fatalf("Open after a kill in the middle of %s: %v, want ErrInstallIncomplete", op, err)
			}
			allow := cfg
			allow.AllowIncomplete = true
			m2, err := shm.Open(allow)
			if err != nil {
				t.Fatal(err)
			}
			if !m2.Incomplete() {
				t.Error("Incomplete is false")
			}
			img := bigImage(m2, 40)
			if err := m2.Install(context.Background(), img); err != nil {
				t.Fatal(err)
			}
			m2.Close()
			m3 := openMem(t, cfg)
			want := map[string]string{}
			for _, v := range img.Vars {
				want[string(v.Name)] = varText(v.Value, v.Version)
			}
			if got := dumpOf(t, m3); !maps.Equal(got, want) {
				t.Errorf("after the second install the file holds %v", got)
			}
			if err := m3.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}
