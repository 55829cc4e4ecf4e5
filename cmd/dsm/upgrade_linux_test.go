//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// TestUpgradeCommand: dsm -file F upgrade rewrites a format-1 file in
// format 2 with its variables, keeps F.format1, says so, and says that a
// second run has nothing to do; a file in use is refused with exit 1 and
// left as it was.
func TestUpgradeCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	m, err := shm.Open(shm.Config{Path: path, Vars: 8, Format: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set([]byte("x"), shm.Int(42)); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := dsm(t, "", "-file", path, "upgrade")
	if code != exitError || !strings.Contains(errOut, "in use by other processes") {
		t.Errorf("upgrade of a file in use: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	m.Close()
	out, errOut, code = dsm(t, "", "-file", path, "upgrade")
	if code != exitOK || out != "upgraded "+path+" to file format 2; the format 1 file is kept as "+path+".format1\n" {
		t.Errorf("upgrade: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(path + ".format1"); err != nil {
		t.Errorf("the format 1 file was not kept: %v", err)
	}
	if out, _, code := dsm(t, "", "-file", path, "get", "x"); code != exitOK || out != "42\n" {
		t.Errorf("get x after the upgrade: exit %d, %q", code, out)
	}
	out, _, code = dsm(t, "", "-o", "json", "-file", path, "upgrade")
	if code != exitOK || !strings.Contains(out, `"path"`) || strings.Contains(out, `"kept"`) {
		t.Errorf("second upgrade -o json: exit %d, %q", code, out)
	}
	if _, errOut, code := dsm(t, "", "upgrade"); code != exitError || !strings.Contains(errOut, "-file") {
		t.Errorf("upgrade without -file: exit %d, %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "missing.mem")
	if _, errOut, code := dsm(t, "", "-file", missing, "upgrade"); code == exitOK || !strings.Contains(errOut, "no such file") {
		t.Errorf("upgrade of a missing file: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("upgrade of a missing file created it")
	}
}
