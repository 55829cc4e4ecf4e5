package server

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// The test binary doubles as a helper process: with DSM_TEST_HELPER set it
// runs the helper instead of the tests (a local process incrementing the
// counter through shm, or a client inside a network namespace).
const helperEnv = "DSM_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "incr":
		os.Exit(helperIncr())
	case "client":
		os.Exit(helperClient())
	}
	code := m.Run()
	if dsmdDir != "" {
		os.RemoveAll(dsmdDir)
	}
	os.Exit(code)
}

// helperCmd returns a command that runs this test binary as the named
// helper, with extra environment variables.
func helperCmd(t testing.TB, name string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + name}, env...)...)
	return cmd
}

var (
	dsmdOnce sync.Once
	dsmdDir  string
	dsmdPath string
	dsmdErr  error
)

// buildDsmd builds cmd/dsmd once per test binary run.
func buildDsmd(t testing.TB) string {
	t.Helper()
	dsmdOnce.Do(func() {
		if dsmdDir, dsmdErr = os.MkdirTemp("", "dsmd-test"); dsmdErr != nil {
			return
		}
		dsmdPath = filepath.Join(dsmdDir, "dsmd")
		dsmdErr = dsmbin.Build(dsmdDir, dsmbin.Dsmd)
	})
	if dsmdErr != nil {
		t.Fatal(dsmdErr)
	}
	return dsmdPath
}

// daemon is a dsmd process started by a test.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error
	logs   *lockedLog // its stderr so far
}

// startDaemon runs dsmd (possibly through a prefix such as "ip netns exec
// NS") and waits until it logs its listening address.
func startDaemon(t testing.TB, prefix []string, args ...string) *daemon {
	t.Helper()
	argv := append(append(prefix, buildDsmd(t)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dsmd: %v", err)
	}
	d := &daemon{cmd: cmd, exited: make(chan error, 1), logs: &lockedLog{}}
	addrc := make(chan string, 1)
	go d.readLogs(stderr, addrc)
	t.Cleanup(func() { d.kill() })
	select {
	case d.addr = <-addrc:
	case <-time.After(20 * time.Second):
		d.kill()
		t.Fatalf("dsmd did not start listening; logs:\n%s", d.output())
	}
	return d
}

func (d *daemon) readLogs(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		d.logs.Write([]byte(line + "\n"))
		if addr, ok := dsmbin.ListenAddr(line); ok {
			select {
			case addrc <- addr:
			default:
			}
		}
	}
	d.exited <- d.cmd.Wait()
}

// output returns what dsmd has logged so far.
func (d *daemon) output() string { return d.logs.String() }

// kill stops the daemon with SIGKILL if it still runs.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
}

// stop sends SIGTERM and returns the exit error (nil for exit status 0).
func (d *daemon) stop(t testing.TB) error {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		return err
	case <-time.After(20 * time.Second):
		d.kill()
		return fmt.Errorf("dsmd did not exit after SIGTERM")
	}
}
