package ci

import (
	"os"
	"os/exec"
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
