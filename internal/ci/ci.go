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

// SkipUnderRace skips t in a build with the race detector, for the tests
// that make the memory file fault (SIGBUS) while other goroutines use it.
// Under -race, sync/atomic operations run in the race runtime's C code, and
// a fault that lands there cannot become a Go panic (most likely when the
// page is cut between the runtime's Go-side probe of the address and the C
// access): the process dies with "traceback did not unwind completely", 3
// times in about 260 runs of TestMemoryFaultStopsServer here. scripts/test
// runs these tests again without -race, so CI still runs them.
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if Race {
		t.Skip("faults the mapping under load: runs without -race (scripts/test), see ci.SkipUnderRace")
	}
}
