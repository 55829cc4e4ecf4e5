package shm_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/shm"
)

// TestFileErrorTruncated: a file cut short under the mapping is reported by
// FileError and fails every flush, even though msync itself succeeds.
func TestFileErrorTruncated(t *testing.T) {
	m := newMem(t, small)
	mustSet(t, m, "x", shm.Int(1))
	size := m.Stats().FileSize
	if err := m.FileError(); err != nil {
		t.Fatalf("FileError on a whole file: %v", err)
	}
	if err := os.Truncate(m.Path(), size-4096); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FileError", m.FileError(), shm.ErrTruncated)
	wantErr(t, "Sync", m.Sync(), shm.ErrTruncated)
	wantErr(t, "SyncBarrier", m.SyncBarrier(), shm.ErrTruncated)
	if err := os.Truncate(m.Path(), size); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(); err != nil {
		t.Errorf("Sync after the size was restored: %v", err)
	}
}

// TestFileErrorGone: a file deleted or replaced under the mapping is
// reported, since new processes would no longer share it.
func TestFileErrorGone(t *testing.T) {
	m := newMem(t, small)
	if err := os.Rename(m.Path(), m.Path()+".moved"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FileError after a rename", m.FileError(), shm.ErrFileGone)
	if err := os.WriteFile(m.Path(), []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FileError after a replacement", m.FileError(), shm.ErrFileGone)
	if err := os.Remove(m.Path() + ".moved"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "FileError after a deletion", m.FileError(), shm.ErrFileGone)
}

// TestFaultError: with panic-on-fault, an access to a truncated mapping
// panics instead of killing the process, and FaultError names the cause.
func TestFaultError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	cfg := small
	cfg.Path = path
	m, err := shm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, m, "x", shm.Int(1))
	size := m.Stats().FileSize
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			r := recover()
			if r == nil {
				got <- errors.New("no fault")
				return
			}
			if err := m.FaultError(r); err != nil {
				got <- err
				return
			}
			got <- errors.New("FaultError did not recognise the fault")
		}()
		m.Get(b("x"))
	}()
	err = <-got
	wantErr(t, "the fault", err, shm.ErrFault)
	wantErr(t, "the fault", err, shm.ErrTruncated)
	t.Logf("fault: %v", err)
	if m.FaultError("not a fault") != nil {
		t.Error("FaultError claims a string panic")
	}
	// Give the pages back (as zeros) so that Close does not fault.
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	m.Close()
}

func init() {
	// create-on-full mounts a 16 KiB tmpfs on arg (the child runs in its
	// own mount namespace), tries to create a memory file there, and
	// prints the error and how many files were left behind.
	helperRoles["create-on-full"] = func(_ *shm.Memory, dir string) error {
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16k"); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
		defer unix.Unmount(dir, 0)
		_, err := shm.Open(shm.Config{Path: filepath.Join(dir, "dsm.mem"), Vars: 4096})
		fmt.Printf("enospc %t\n", errors.Is(err, unix.ENOSPC))
		fmt.Printf("error %v\n", err)
		left, rerr := os.ReadDir(dir)
		if rerr != nil {
			return rerr
		}
		fmt.Printf("left %d\n", len(left))
		return nil
	}
}

// TestCreateOnFullDisk: creating a file on a full filesystem fails at once
// with an error that says so (the file is allocated whole, with fallocate),
// and leaves nothing behind. The child mounts a tiny tmpfs in a private
// mount namespace, which needs root (as CI has).
func TestCreateOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		ci.NeedOrSkip(t, "needs root to mount a tmpfs in a private mount namespace")
	}
	m := newMem(t, small)
	dir := t.TempDir()
	cmd := childproc.Command("create-on-full", m.Path(), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	text := string(out)
	if !strings.Contains(text, "enospc true") || !strings.Contains(text, "no space left on device") {
		t.Errorf("creating on a full filesystem did not fail with ENOSPC:\n%s", text)
	}
	if !strings.Contains(text, "left 0") {
		t.Errorf("the failed creation left files behind:\n%s", text)
	}
}
