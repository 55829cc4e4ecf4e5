// Package dsmbin builds the project's commands for tests that run them as
// processes, and reads what dsmd says when it is ready. It imports nothing
// of the project, so that any package's tests can use it (package server's
// own tests cannot import internal/dsmtest, which imports server).
package dsmbin

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
)

// Dsmd and Dsm are the import paths of the daemon and of the client.
const (
	Dsmd = "github.com/dsm-dev/dsm/cmd/dsmd"
	Dsm  = "github.com/dsm-dev/dsm/cmd/dsm"
)

// Build compiles the commands pkgs (import paths such as Dsmd) into dir,
// each under its own name (dsmd, dsm), without the race detector.
func Build(dir string, pkgs ...string) error {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %v\n%s", pkgs, err, out)
	}
	return nil
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// ListenAddr returns the address of dsmd's "listening" log line (text
// format), and false for any other line.
func ListenAddr(line string) (string, bool) {
	m := listening.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}
