// Package childproc runs helper processes for tests that need a second
// process: one to hold a lock or to write, and to be killed with SIGKILL
// at any instant. The test binary starts itself with a role in its
// environment; the package's TestMain hands the role to Main, which runs
// it instead of the tests. Parent and child talk through the child's
// standard output, line by line.
//
// It is test support for packages lockd and shm.
package childproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The environment of a child: its role and the two strings it is given.
const (
	roleEnv = "DSM_CHILD_ROLE"
	pathEnv = "DSM_CHILD_PATH"
	argEnv  = "DSM_CHILD_ARG"
)

// Main is for a TestMain, before it runs the tests. In a child it runs
// run with the child's role, path and arg, and exits: with status 0 if run
// returned nil, else with status 1 and the error on standard error. In
// the test process itself it returns at once.
func Main(run func(role, path, arg string) error) {
	role := os.Getenv(roleEnv)
	if role == "" {
		return
	}
	if err := run(role, os.Getenv(pathEnv), os.Getenv(argEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Command returns the command that runs the test binary as a child in
// role, given path and arg; the caller starts it.
func Command(role, path, arg string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"="+role, pathEnv+"="+path, argEnv+"="+arg)
	return cmd
}

// A Child is a running helper process.
type Child struct {
	Role   string
	Cmd    *exec.Cmd
	Out    *bufio.Scanner   // its standard output, line by line
	Stderr *strings.Builder // its standard error, complete once it was reaped
	Rest   []string         // what it had printed and was not read when Kill killed it
}

// Start starts a child in role, given path and arg. It is killed at the
// end of the test if it is still running.
func Start(t testing.TB, role, path, arg string) *Child {
	t.Helper()
	cmd := Command(role, path, arg)
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
	return &Child{Role: role, Cmd: cmd, Out: bufio.NewScanner(stdout), Stderr: errb}
}

// Expect reads the child's next line and fails the test unless it is want.
func (c *Child) Expect(t testing.TB, want string) {
	t.Helper()
	if !c.Out.Scan() {
		c.Cmd.Wait()
		t.Fatalf("child %s ended before saying %q: %v; stderr:\n%s", c.Role, want, c.Out.Err(), c.Stderr)
	}
	if got := c.Out.Text(); got != want {
		t.Fatalf("child %s said %q, want %q", c.Role, got, want)
	}
}

// Wait waits for the child to exit successfully and returns the rest of
// its standard output.
func (c *Child) Wait(t testing.TB) string {
	t.Helper()
	var rest strings.Builder
	for c.Out.Scan() {
		rest.WriteString(c.Out.Text())
		rest.WriteByte('\n')
	}
	if err := c.Cmd.Wait(); err != nil {
		t.Fatalf("child %s: %v; stderr:\n%s", c.Role, err, c.Stderr)
	}
	return rest.String()
}

// Kill sends the child SIGKILL, keeps the lines it printed before it died
// in Rest, reaps it, and returns the instant of the kill.
func (c *Child) Kill(t testing.TB) time.Time {
	t.Helper()
	at := time.Now()
	if err := c.Cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	// Read to the end before Wait, which closes the pipe.
	for c.Out.Scan() {
		c.Rest = append(c.Rest, c.Out.Text())
	}
	c.Cmd.Wait()
	return at
}
