// Package ci holds what the project's tests share about where they run.
package ci

import (
	"os"
	"testing"
)

// NeedOrSkip skips t for a missing prerequisite (a tool, root) outside CI,
// and fails it in CI, where .ci/run provides everything the suite needs: a
// test that should run there never passes by skipping.
func NeedOrSkip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI must provide it", why)
	}
	t.Skip(why)
}
