package torture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// buildDaemon builds ./cmd/dsmd into dir and returns the binary's path.
// DSM_TORTURE_DSMD names a binary to use instead.
func buildDaemon(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("DSM_TORTURE_DSMD"); bin != "" {
		return bin
	}
	if err := dsmbin.Build(dir, dsmbin.Dsmd); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "dsmd")
}

// daemons runs one dsmd process at a time on the same file, each on a new
// port, and remembers when each generation was seen dead.
type daemons struct {
	bin, file string
	modes     []string // -sync modes, used in turn

	mu     sync.Mutex // guards the fields below
	gen    int        // the current generation, 0 before the first start
	addr   string     // where the current generation listens; "" while down
	cmd    *exec.Cmd
	logs   *logTail
	deaths map[int]int64 // generation -> instant it was reaped
}

func newDaemons(bin, file string) *daemons {
	return &daemons{bin: bin, file: file, modes: []string{"always", "interval", "never"}, deaths: map[int]int64{}}
}

// start runs a new generation and waits until it listens.
func (d *daemons) start() error {
	d.mu.Lock()
	gen := d.gen + 1
	d.mu.Unlock()
	mode := d.modes[gen%len(d.modes)]
	cmd := exec.Command(d.bin, "-listen", "127.0.0.1:0", "-file", d.file, "-sync", mode, "-vars", "64")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	logs := &logTail{}
	addrc := make(chan string, 1)
	go logs.read(stderr, addrc)
	select {
	case addr := <-addrc:
		d.mu.Lock()
		d.gen, d.addr, d.cmd, d.logs = gen, addr, cmd, logs
		d.mu.Unlock()
		return nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("dsmd (generation %d, -sync %s) did not listen within 10 s; its log:\n%s", gen, mode, logs)
	}
}

// current returns the running generation and its address ("" while down).
func (d *daemons) current() (int, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gen, d.addr
}

// deathOf returns when generation gen was reaped, if it was.
func (d *daemons) deathOf(gen int) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.deaths[gen]
	return t, ok
}

// detach marks the daemon down and returns the generation that ran, if
// any (cmd is nil if none), for the caller to end and reap.
func (d *daemons) detach() (gen int, cmd *exec.Cmd, logs *logTail) {
	d.mu.Lock()
	defer d.mu.Unlock()
	gen, cmd, logs = d.gen, d.cmd, d.logs
	d.addr, d.cmd = "", nil
	return gen, cmd, logs
}

// kill SIGKILLs the running generation and reaps it. It fails if the
// daemon had already exited by itself.
func (d *daemons) kill() error {
	gen, cmd, logs := d.detach()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(unix.SIGKILL); err != nil {
		return fmt.Errorf("kill dsmd: %w", err)
	}
	err := cmd.Wait()
	t := now()
	d.mu.Lock()
	d.deaths[gen] = t
	d.mu.Unlock()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		return fmt.Errorf("dsmd generation %d had exited by itself (%v); its log:\n%s", gen, err, logs)
	}
	return nil
}

// stop ends the running generation gracefully (SIGTERM) and checks that it
// exits 0.
func (d *daemons) stop() error {
	gen, cmd, logs := d.detach()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(unix.SIGTERM)
	err := cmd.Wait()
	d.mu.Lock()
	d.deaths[gen] = now()
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("dsmd generation %d: %v; its log:\n%s", gen, err, logs)
	}
	return nil
}

// logTail keeps the last lines a daemon logged, for failure messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

// read consumes r, sends the listening address on addrc once, and keeps
// the last 40 lines.
func (l *logTail) read(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if addr, ok := dsmbin.ListenAddr(line); ok && !sent {
			addrc <- addr
			sent = true
		}
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > 40 {
			l.lines = l.lines[1:]
		}
		l.mu.Unlock()
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// outDir is where failed histories are saved.
func outDir() string {
	if d := os.Getenv("DSM_TORTURE_OUT"); d != "" {
		return d
	}
	return os.TempDir()
}
