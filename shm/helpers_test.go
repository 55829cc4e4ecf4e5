package shm_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// Configurations used by the tests. Files are allocated in full up front,
// so the capacities are kept small: small is ~32 KiB.
var (
	small  = shm.Config{Vars: 4, Procs: 2, Lanes: 2, GroupMax: 4}
	unit   = shm.Config{Vars: 16, Procs: 4, Lanes: 4, GroupMax: 4}
	hammer = shm.Config{Vars: 64, Procs: 8, Lanes: 16, GroupMax: 8}
)

// testFormat is the file format newMem and openMem create files in when
// their Config names none: DSM_TEST_FORMAT (1 or 2), or the default.
// Running the package's tests with DSM_TEST_FORMAT=2 runs them on format
// 2 files while it is not yet the default.
var testFormat = func() int {
	switch os.Getenv("DSM_TEST_FORMAT") {
	case "2":
		return 2
	case "1":
		return 1
	}
	return 0
}()

// b is a name or a byte value.
func b(s string) []byte { return []byte(s) }

// newMem creates a memory file of cfg's capacities in a fresh directory and
// opens it; it is closed at the end of the test.
func newMem(t testing.TB, cfg shm.Config) *shm.Memory {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "dsm.mem")
	return openMem(t, cfg)
}

// openMem opens cfg (creating the file if needed); the Memory is closed at
// the end of the test unless the test closed it.
func openMem(t testing.TB, cfg shm.Config) *shm.Memory {
	t.Helper()
	if cfg.Format == 0 {
		cfg.Format = testFormat
	}
	m, err := shm.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Path, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil && !errors.Is(err, shm.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

func mustSet(t testing.TB, m *shm.Memory, name string, v shm.Value) uint64 {
	t.Helper()
	ver, err := m.Set(b(name), v)
	if err != nil {
		t.Fatalf("Set(%q, %v): %v", name, v, err)
	}
	return ver
}

func mustGet(t testing.TB, m *shm.Memory, name string) (shm.Value, uint64) {
	t.Helper()
	v, ver, err := m.Get(b(name))
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return v, ver
}

// wantValue fails unless name holds want at version ver (ver 0: any).
func wantValue(t testing.TB, m *shm.Memory, name string, want shm.Value, ver uint64) {
	t.Helper()
	got, gotVer := mustGet(t, m, name)
	if !got.Equal(want) || got.IsInt() != want.IsInt() {
		t.Errorf("%s = %v (int %v), want %v (int %v)", name, got, got.IsInt(), want, want.IsInt())
	}
	if ver != 0 && gotVer != ver {
		t.Errorf("%s version = %d, want %d", name, gotVer, ver)
	}
}

func wantMissing(t testing.TB, m *shm.Memory, name string) {
	t.Helper()
	if v, _, err := m.Get(b(name)); !errors.Is(err, shm.ErrNotFound) {
		t.Errorf("Get(%q) = %v, %v; want ErrNotFound", name, v, err)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// Helper processes (package childproc): the roles are defined beside the
// tests that use them, and each runs on the memory at path.
func TestMain(m *testing.M) {
	childproc.Main(runHelper)
	os.Exit(m.Run())
}

// runHelper is the body of a helper process.
func runHelper(role, path, arg string) error {
	fn, ok := helperRoles[role]
	if !ok {
		return fmt.Errorf("unknown role %q", role)
	}
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(m, arg)
}

var helperRoles = map[string]func(m *shm.Memory, arg string) error{}

// crashes runs role in a child and reports whether it died of a signal or
// a Go fatal error rather than exiting normally, with its stderr.
func crashes(t testing.TB, role, path string) (bool, string) {
	t.Helper()
	c := childproc.Start(t, role, path, "")
	for c.Out.Scan() {
	}
	err := c.Cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 2 || !ee.Exited()) {
		return true, c.Stderr.String()
	}
	if err != nil {
		t.Fatalf("child %s: %v; stderr:\n%s", role, err, c.Stderr)
	}
	return false, c.Stderr.String()
}
