//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
)

// tmuxSession runs a command in a detached tmux session on a server of
// the test's own, and reads its screen.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		ci.NeedOrSkip(t, "tmux is not installed")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("dsmtest-%d-%d", os.Getpid(), time.Now().UnixNano())}
	s.run("new-session", "-d", "-s", "dsm", "-x", "150", "-y", "40", command)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends keys as tmux names them ("Tab", "C-r", "Enter", or text).
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", "dsm"}, keys...)...)
}

// waitFor waits until the screen matches re, and returns it.
func (s *tmuxSession) waitFor(re string) string {
	s.t.Helper()
	pat := regexp.MustCompile(re)
	var screen string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		screen = s.run("capture-pane", "-p", "-t", "dsm")
		if pat.MatchString(screen) {
			return screen
		}
	}
	s.t.Fatalf("screen never matched %s:\n%s", re, screen)
	return ""
}

// TestPromptTerminal drives the prompt on a real terminal: the redis-cli
// style prompt and its hint, Tab completion of a command and of a
// variable name, Ctrl-R history search, Ctrl-C cancelling a command that
// waits (the session goes on), and Ctrl-D ending it on a new line.
func TestPromptTerminal(t *testing.T) {
	d := startDaemon(t, "")
	if _, errOut, code := dsm(t, "", at(d, "set", "greeting", "hello")...); code != 0 {
		t.Fatal(errOut)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dsm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := startTmux(t, fmt.Sprintf("DSM_HISTFILE=%s %s -addr %s; echo EXITED=$?; sleep 60",
		filepath.Join(dir, "history"), bin, d.Addr))
	// capture-pane drops trailing spaces, the prompt's too.
	prompt := regexp.QuoteMeta("dsm " + d.Addr + ">")
	s.waitFor(`R \(read value\), W \(write value\) and Q \(quit\)[^\n]*\n` + prompt)

	s.keys("ge", "Tab")
	s.waitFor(`(?m)` + prompt + ` get$`)
	s.keys("gr", "Tab")
	s.waitFor(`(?m)` + prompt + ` get greeting$`)
	s.keys("Enter")
	s.waitFor(`(?m)^hello$`)

	s.keys("C-r", "greet")
	s.waitFor(`(?m)` + prompt + ` get greeting\nbck-i-search: greet`)
	s.keys("Enter")
	s.waitFor(`(?s)hello\n.*hello\n` + prompt)

	// With the daemon away, a command waits for it to come back (up to
	// -reconnect, 30s): Ctrl-C ends the wait and the command only.
	d.Stop()
	s.keys("get greeting", "Enter")
	s.waitFor(`reconnecting\.\.\.`)
	s.keys("C-c")
	s.waitFor(`interrupted\n` + prompt)
	d.Resume(t)
	s.keys("get greeting", "Enter")
	if screen := s.waitFor(`(?s)interrupted\n.*hello\n` + prompt); strings.Contains(screen, "EXITED") {
		t.Fatalf("Ctrl-C ended the session:\n%s", screen)
	}

	s.keys("C-d")
	s.waitFor(`(?m)^EXITED=0$`)
}

// TestPromptCtrlCCancelsLock: Ctrl-C at the prompt ends a lock that waits
// for another client's lock, well before its -wait; the session goes on,
// holds nothing, and the daemon has forgotten the waiter, so the variable
// is free once its holder lets go.
func TestPromptCtrlCCancelsLock(t *testing.T) {
	d := startDaemon(t, "")
	holder, err := net.Dial("tcp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	br := bufio.NewReader(holder)
	fmt.Fprint(holder, "*2\r\n$4\r\nLOCK\r\n$4\r\nbusy\r\n")
	if line, err := br.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("holder's LOCK = %q, %v", line, err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dsm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := startTmux(t, fmt.Sprintf("DSM_HISTFILE=%s %s -addr %s; echo EXITED=$?; sleep 60",
		filepath.Join(dir, "history"), bin, d.Addr))
	prompt := regexp.QuoteMeta("dsm " + d.Addr + ">")
	s.waitFor(prompt)
	s.keys("lock -wait 60s busy", "Enter")
	time.Sleep(300 * time.Millisecond) // the LOCK is on its way and waits
	start := time.Now()
	s.keys("C-c")
	s.waitFor(`interrupted\n` + prompt)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Ctrl-C took %v to end the lock's wait", waited)
	}
	// The holder lets go: the cancelled waiter must not take the lock.
	fmt.Fprint(holder, "*1\r\n$6\r\nUNLOCK\r\n")
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	s.keys("lock -wait 0 busy", "Enter")
	s.waitFor(`Locked busy`)
	s.keys("unlock", "Enter")
	s.waitFor(`Unlocked\n` + prompt)
	if screen := s.run("capture-pane", "-p", "-t", "dsm"); strings.Contains(screen, "EXITED") {
		t.Fatalf("Ctrl-C ended the session:\n%s", screen)
	}
}
