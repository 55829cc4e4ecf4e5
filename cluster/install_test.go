package cluster_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

// userDump is dump without the reserved variables: every variable a
// client sees, as value@version.
func userDump(t *testing.T, m *shm.Memory) map[string]string {
	t.Helper()
	out := dump(t, m)
	maps.DeleteFunc(out, func(k, _ string) bool { return cluster.Reserved([]byte(k)) })
	return out
}

// A snapshot of more variables than one group holds installs over a file
// with another history, and leaves every variable at the source's value
// and version, the applied index included.
func TestSnapshotInstallsVersions(t *testing.T) {
	src := openMem(t, filepath.Join(t.TempDir(), "src"))
	defer src.Close()
	fs, _ := cluster.NewFSM(src, testApplier{})
	index := uint64(0)
	run := func(f *cluster.FSM, line string) {
		t.Helper()
		index++
		if r := apply(t, f, command(index, line)); r.Err != nil {
			t.Fatal(line, r.Err)
		}
	}
	for i := range 100 { // GroupMax is 64
		run(fs, fmt.Sprintf("SET k%d %d", i, i))
	}
	for range 3 {
		run(fs, "INCR k1")
	}
	run(fs, "DEL k2")
	store := raft.NewInmemSnapshotStore()
	snap, err := fs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, _ := store.Create(raft.SnapshotVersionMax, fs.Applied(), 1, raft.Configuration{}, 1, nil)
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}

	dst := openMem(t, filepath.Join(t.TempDir(), "dst"))
	defer dst.Close()
	fd, _ := cluster.NewFSM(dst, testApplier{})
	index = 0
	for i := range 10 { // k3 ahead of the snapshot's version, stale ones
		run(fd, fmt.Sprintf("SET k3 %d", i))
		run(fd, fmt.Sprintf("SET stale%d x", i))
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := fd.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if got, want := userDump(t, dst), userDump(t, src); !maps.Equal(got, want) {
		t.Errorf("installed %d variables differ from the source's %d:\n%v\n%v", len(got), len(want), got, want)
	}
	if fd.Applied() != fs.Applied() {
		t.Errorf("applied index %d, want %d", fd.Applied(), fs.Applied())
	}
	if err := dst.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// A follower that catches up from the leader's snapshot holds every
// variable at the leader's version, not only its value.
func TestFollowerInstallKeepsVersions(t *testing.T) {
	c := newCluster(t, 3)
	var last cluster.Reply
	for i := range 5 {
		c.propose(fmt.Sprintf("SET k%d %d", i, i))
		last = c.propose(fmt.Sprintf("INCR n%d", i%2))
	}
	c.converged(last.Index)
	f := c.members[0]
	if f == c.leader() {
		f = c.members[1]
	}
	c.stop(f)
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c.propose(fmt.Sprintf("INCR n%d", i%3))
	}
	c.propose("DEL k0")
	last = c.propose("SET k1 changed")
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for range 4 { // past TrailingLogs: the follower needs the snapshot
		last = c.propose("INCR n0")
	}
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	c.converged(last.Index)
	want := userDump(t, c.leader().mem)
	if got := userDump(t, f.mem); !maps.Equal(got, want) {
		t.Errorf("the follower holds %v, the leader %v", got, want)
	}
}
