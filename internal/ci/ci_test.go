package ci

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// TestNeedOrSkip runs a test that needs something missing in a child, with
// and without CI set: it must skip outside CI and fail inside.
func TestNeedOrSkip(t *testing.T) {
	if os.Getenv("DSM_CI_CHILD") != "" {
		NeedOrSkip(t, "a prerequisite is missing")
		return
	}
	for _, tt := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"true", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedOrSkip$", "-test.v")
		cmd.Env = append(os.Environ(), "DSM_CI_CHILD=1", "CI="+tt.ci)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tt.wantFail || (!failed && !strings.Contains(string(out), "--- SKIP")) {
			t.Errorf("CI=%q: failed=%v, want %v; output:\n%s", tt.ci, failed, tt.wantFail, out)
		}
	}
}

// TestRace: Race agrees with how the test binary was built, as its build
// information records it.
func TestRace(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	built := false
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			built = s.Value == "true"
		}
	}
	if Race != built {
		t.Fatalf("Race = %v, but the binary was built with -race=%v", Race, built)
	}
}
