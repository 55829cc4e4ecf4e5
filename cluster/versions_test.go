package cluster_test

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/hashicorp/raft"
)

// installFrom takes a snapshot of from and restores it into to, as Raft
// does for a follower behind the leader's log.
func installFrom(t *testing.T, from, to *cluster.FSM) {
	t.Helper()
	snap, err := from.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, from.Applied(), 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := to.Restore(rc); err != nil {
		t.Fatal(err)
	}
}

// churn is a history that leaves free slots at versions a file that did
// not live through it does not have: variables created, deleted and
// created again, some in consecutive entries (a slot freed by one entry
// is the first the next creation takes).
var churn = []string{
	"SET a 1", "SET b 2", "SET c 3", "DEL a b", "SET d 4", "INCR c",
	"DEL c d", "SET e 5", "SET a 6", "DEL a", "SET b 7", "INCR b",
}

// After installing the leader's snapshot, a follower's slots differ from
// the leader's. Applying the same entries from there, creating variables,
// deleting and creating them again, failing commands, the follower holds
// every variable at the leader's value and version after every entry,
// and neither FSM refuses a creation's version.
func TestVersionsAfterInstall(t *testing.T) {
	lead := openMem(t, filepath.Join(t.TempDir(), "leader"))
	defer lead.Close()
	fol := openMem(t, filepath.Join(t.TempDir(), "follower"))
	defer fol.Close()
	fl, _ := cluster.NewFSM(lead, testApplier{})
	ff, _ := cluster.NewFSM(fol, testApplier{})
	index := uint64(0)
	for i, line := range churn {
		index++
		apply(t, fl, command(index, line))
		if i < 3 { // the follower saw the first entries only
			apply(t, ff, command(index, line))
		}
	}
	installFrom(t, fl, ff)
	if got, want := userDump(t, fol), userDump(t, lead); !maps.Equal(got, want) {
		t.Fatalf("after the install the follower holds %v, the leader %v", got, want)
	}
	for _, line := range slices.Concat(churn, []string{"SET f 1", "DEL e", "SET g 1", "SET e again",
		"INCR f", "DEL f g", "SET h 1", "SET f back", "INCR e", "DEL h", "SET i 1", "INCR i"}) {
		index++
		rl, rf := apply(t, fl, command(index, line)), apply(t, ff, command(index, line))
		if !errors.Is(rf.Err, rl.Err) || string(rf.Reply.Data) != string(rl.Reply.Data) {
			t.Fatalf("entry %d %q: the follower got %+v, the leader %+v", index, line, rf, rl)
		}
		if got, want := userDump(t, fol), userDump(t, lead); !maps.Equal(got, want) {
			t.Fatalf("after entry %d %q the follower holds %v, the leader %v", index, line, got, want)
		}
	}
	for _, f := range []*cluster.FSM{fl, ff} {
		if err := f.Halted(); err != nil {
			t.Errorf("halted: %v", err)
		}
	}
	if v, ver, err := lead.Get([]byte("i")); err != nil || ver != cluster.CreateVersion(index-1)+1 {
		t.Errorf("i is %v@%d (%v), want version %d", v, ver, err, cluster.CreateVersion(index-1)+1)
	}
	for _, m := range []string{"leader", "follower"} {
		mem := lead
		if m == "follower" {
			mem = fol
		}
		if err := mem.Check(); err != nil {
			t.Errorf("%s: Check: %v", m, err)
		}
	}
}

// A follower that kept its file, fell behind the leader's compacted log
// and caught up from its snapshot, then applies new entries that create,
// delete and create again: every node holds every variable at the same
// value and version.
func TestVersionsAfterFollowerInstall(t *testing.T) {
	c := newCluster(t, 3)
	var last cluster.Reply
	for _, line := range churn[:3] {
		last = c.propose(line)
	}
	c.converged(last.Index)
	f := c.members[0]
	if f == c.leader() {
		f = c.members[1]
	}
	c.stop(f)
	for _, line := range churn[3:] {
		c.propose(line)
	}
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	// Past TrailingLogs, the follower needs the snapshot; no creation
	// takes the leader's freed slots meanwhile.
	for range 4 {
		c.propose("INCR b")
	}
	if err := c.leader().node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	for _, line := range slices.Concat(churn, []string{"SET n1 1", "DEL e", "SET n2 2", "SET e again", "DEL n1 n2", "SET n3 3", "SET n1 back"}) {
		last = c.propose(line)
	}
	c.converged(last.Index)
	want := userDump(t, c.leader().mem)
	for _, m := range c.members {
		if got := userDump(t, m.mem); !maps.Equal(got, want) {
			t.Errorf("%s holds %v, the leader %v", m.id, got, want)
		}
	}
}
