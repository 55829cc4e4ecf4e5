package main

import (
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// TestVersion: dsm --version prints one line, the version, the commit and
// the Go release of the binary's build information, and exits 0.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	if err := dsmbin.Build(dir, dsmbin.Dsm); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dsm")
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"--version", "-version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("dsm %s: %v", arg, err)
		}
		if !strings.HasPrefix(string(out), "dsm "+bi.Main.Version+" commit ") ||
			!strings.HasSuffix(string(out), " "+bi.GoVersion+"\n") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("dsm %s = %q", arg, out)
		}
	}
}
