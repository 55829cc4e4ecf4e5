package shm_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/shm"
)

// Configurations used by the tests. Files are allocated in full up front,
// so the capacities are kept small: small is ~32 KiB.
var (
	small  = shm.Config{Vars: 4, Procs: 2, Lanes: 2, GroupMax: 4}
	unit   = shm.Config{Vars: 16, Procs: 4, Lanes: 4, GroupMax: 4}
	hammer = shm.Config{Vars: 64, Procs: 8, Lanes: 16, GroupMax: 8}
)

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

// Helper processes. The test binary runs itself with helperEnv naming a
// role; TestMain then runs that role instead of the tests, and the role
// talks to the parent on stdout.
const (
	helperEnv = "SHM_TEST_HELPER"
	pathEnv   = "SHM_TEST_PATH"
	argEnv    = "SHM_TEST_ARG"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		if err := runHelper(role, os.Getenv(pathEnv), os.Getenv(argEnv)); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper is the body of a helper process; the roles are defined beside
// the tests that use them.
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

// A child is a running helper process; its stdout is read line by line.
type child struct {
	role string
	cmd  *exec.Cmd
	out  *bufio.Scanner
	errb *strings.Builder
	rest []string // what a killed child had printed and not yet been read
}

// startChild starts the test binary as a helper in role on the memory at
// path. It is killed at the end of the test if it is still running.
func startChild(t testing.TB, role, path, arg string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, pathEnv+"="+path, argEnv+"="+arg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := new(strings.Builder)
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return &child{role: role, cmd: cmd, out: bufio.NewScanner(stdout), errb: errb}
}

// expect reads the child's next line and fails unless it is want.
func (c *child) expect(t testing.TB, want string) {
	t.Helper()
	if !c.out.Scan() {
		c.cmd.Wait()
		t.Fatalf("child %s ended before saying %q: %v; stderr:\n%s", c.role, want, c.out.Err(), c.errb)
	}
	if got := c.out.Text(); got != want {
		t.Fatalf("child %s said %q, want %q", c.role, got, want)
	}
}

// wait waits for the child to exit successfully and returns the rest of
// its stdout.
func (c *child) wait(t testing.TB) string {
	t.Helper()
	var rest strings.Builder
	for c.out.Scan() {
		rest.WriteString(c.out.Text())
		rest.WriteByte('\n')
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child %s: %v; stderr:\n%s", c.role, err, c.errb)
	}
	return rest.String()
}

// kill SIGKILLs the child, keeps the lines it printed before it died in
// c.rest, reaps it, and returns the instant of the kill.
func (c *child) kill(t testing.TB) time.Time {
	t.Helper()
	at := time.Now()
	if err := c.cmd.Process.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Read to the end before Wait, which closes the pipe.
	for c.out.Scan() {
		c.rest = append(c.rest, c.out.Text())
	}
	c.cmd.Wait()
	return at
}

// crashes runs role in a child and reports whether it died of a signal or
// a Go fatal error rather than exiting normally, with its stderr.
func crashes(t testing.TB, role, path string) (bool, string) {
	t.Helper()
	c := startChild(t, role, path, "")
	for c.out.Scan() {
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 2 || !ee.Exited()) {
		return true, c.errb.String()
	}
	if err != nil {
		t.Fatalf("child %s: %v; stderr:\n%s", role, err, c.errb)
	}
	return false, c.errb.String()
}
