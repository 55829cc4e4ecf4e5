package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/internal/ci"
)

// TestCrossBuild: dsm builds and vets for macOS and Windows, where it is
// a remote client, and its local mode there says that it needs Linux.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dsm twice")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		ci.NeedOrSkip(t, "no go command to cross-build with")
	}
	for _, goos := range []string{"darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "dsm")
			for _, args := range [][]string{{"build", "-o", bin, "."}, {"vet", "."}} {
				cmd := exec.Command(gobin, args...)
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("GOOS=%s go %v: %v\n%s", goos, args, err, out)
				}
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte("(local mode) maps the memory file and needs Linux")) {
				t.Errorf("the %s build does not say that local mode needs Linux", goos)
			}
		})
	}
}
