package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
)

// decodeNext is the entry decoder of a dsm one format ahead of this
// build: for the test, format EntryVersion+1 is format EntryVersion under
// the next number. What a real new format would change is not the point:
// only that this build cannot read it and a newer one can.
func decodeNext(b []byte) ([][]byte, error) {
	if len(b) > 0 && b[0] == cluster.EntryVersion+1 {
		b = append([]byte{cluster.EntryVersion}, b[1:]...)
	}
	return cluster.DecodeEntry(b)
}

// newer gives the nodes its map marks the decoder of a newer dsm.
func newer(ids map[string]bool) option {
	return func(cfg *cluster.Config) {
		if ids[cfg.ID] {
			cluster.SetDecoder(cfg, decodeNext)
		}
	}
}

// A rolling upgrade's worst case: an entry of a newer format reaches a
// node that does not know it. That node halts its FSM at the entry: it
// applies neither the entry nor any after it, its applied index stays
// below it (in the FSM and in the file), it refuses to snapshot and a
// read through it fails rather than serve stale data. The newer nodes
// apply the entry and go on. Restarted with the newer decoder, the halted
// node replays from the entry and ends with the others' variables.
func TestNewerEntryHaltsUntilUpgrade(t *testing.T) {
	isNew := map[string]bool{"n0": true, "n1": true}
	c := newCluster(t, 3, newer(isNew))
	old := c.members[2]
	if c.leader() == old {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := old.node.Transfer(ctx, "n0")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	c.propose("SET a 1")
	last := c.propose("INCR n")
	c.converged(last.Index)

	entry := cluster.EncodeEntry(args("SET b 2"))
	entry[0] = cluster.EntryVersion + 1
	fut := c.leader().node.Raft().Apply(entry, wait)
	if err := fut.Error(); err != nil {
		t.Fatal(err)
	}
	if r := fut.Response().(*cluster.Result); r.Err != nil {
		t.Fatalf("the newer leader applied the entry with %v", r.Err)
	}
	newIndex := fut.Index()
	for range 3 {
		last = c.propose("INCR n")
	}
	for _, m := range c.members[:2] {
		waitFor(t, m.id+" to apply", func() bool { return m.node.FSM().Applied() >= last.Index })
		if get(t, m, "b") != "2" || get(t, m, "n") != "4" {
			t.Errorf("%s: b = %q, n = %q after the newer entry", m.id, get(t, m, "b"), get(t, m, "n"))
		}
	}

	waitFor(t, "the old node to halt", func() bool { return old.node.FSM().Halted() != nil })
	if err := old.node.FSM().Halted(); !errors.Is(err, cluster.ErrEntryVersion) {
		t.Errorf("halted with %v, want ErrEntryVersion", err)
	}
	applied := old.node.FSM().Applied()
	if applied >= newIndex {
		t.Errorf("the old node's applied index %d reached the newer entry's %d", applied, newIndex)
	}
	if v, _, err := old.mem.Get([]byte(cluster.AppliedName)); err != nil || v.String() != fmt.Sprint(applied) {
		t.Errorf("the old node's file records applied %v (%v), its FSM %d", v, err, applied)
	}
	if get(t, old, "b") != "" || get(t, old, "n") != "1" {
		t.Errorf("the halted node applied past the entry: b = %q, n = %q", get(t, old, "b"), get(t, old, "n"))
	}
	if err := old.node.Snapshot(); err == nil {
		t.Error("the halted node took a snapshot")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	err := old.node.ReadBarrier(ctx)
	cancel()
	if !errors.Is(err, cluster.ErrHalted) {
		t.Errorf("a read through the halted node: %v, want ErrHalted", err)
	}

	c.stop(old)
	isNew[old.id] = true
	c.restart(old)
	c.converged(last.Index)
	if err := old.node.FSM().Halted(); err != nil {
		t.Errorf("the upgraded node halted: %v", err)
	}
	want := userDump(t, c.members[0].mem)
	for _, m := range c.members[1:] {
		if got := userDump(t, m.mem); !maps.Equal(got, want) {
			t.Errorf("%s holds %v, n0 %v", m.id, got, want)
		}
	}
}
