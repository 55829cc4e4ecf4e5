package cluster_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// After ReadBarrier on a follower, its own file holds every write
// acknowledged before the call, by whichever node: each goroutine writes
// through one node and reads through a follower, and must see at least
// the count its write returned.
func TestReadBarrierSeesAcknowledgedWrites(t *testing.T) {
	c := newCluster(t, 3)
	followers := c.followers()
	writers := []*member{c.leader(), followers[0], followers[1]}
	const goroutines, rounds = 6, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		w := writers[g%len(writers)]
		reader := followers[0]
		if w == reader {
			reader = followers[1]
		}
		key := fmt.Sprintf("ctr%d", g%2) // goroutines share counters
		wg.Go(func() {
			for range rounds {
				r, err := c.write(w, "INCR "+key)
				if err != nil {
					t.Error(err)
					return
				}
				acked := num(t, r)
				if err := reader.node.ReadBarrier(t.Context()); err != nil {
					t.Error(err)
					return
				}
				got, _ := strconv.ParseInt(get(t, reader, key), 10, 64)
				if got < acked {
					t.Errorf("%s read %s = %d after ReadBarrier; %d was acknowledged through %s before", reader.id, key, got, acked, w.id)
					return
				}
			}
		})
	}
	wg.Wait()
	var total uint64
	for _, m := range c.members {
		total += m.node.Metrics().ReadRounds
	}
	t.Logf("%d read barriers took %d rounds", goroutines*rounds, total)
}

// ReadBarrier on the leader, and on a node that just became leader,
// sees what was acknowledged before.
func TestReadBarrierOnLeaderAfterFailover(t *testing.T) {
	c := newCluster(t, 3)
	var acked int64
	for _, m := range c.members {
		r, err := c.write(m, "INCR n")
		if err != nil {
			t.Fatal(err)
		}
		acked = num(t, r)
	}
	c.stop(c.leader())
	for _, m := range c.members {
		if m.node == nil {
			continue
		}
		if err := m.node.ReadBarrier(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := get(t, m, "n"); got != fmt.Sprint(acked) {
			t.Errorf("%s reads n = %s after ReadBarrier, %d was acknowledged", m.id, got, acked)
		}
	}
}

// A new leader whose apply lags behind what the old leader acknowledged
// serves no read index until it has applied it: the barrier it runs in
// its term waits for that. The followers' applies are slowed so that the
// new leader is elected well before it has applied the last write.
func TestReadBarrierWaitsForLaggingNewLeader(t *testing.T) {
	c := newCluster(t, 3)
	old := c.leader()
	if _, err := c.write(old, "SET k 0"); err != nil {
		t.Fatal(err)
	}
	c.converged(old.node.FSM().Applied())
	for _, f := range c.followers() {
		f.lag.Store(int64(2500 * time.Millisecond))
	}
	r, err := c.write(old, "INCR k")
	if err != nil {
		t.Fatal(err)
	}
	c.stop(old) // acknowledged by its own apply; the others lag
	for _, m := range c.members {
		if m.node == nil {
			continue
		}
		if err := m.node.ReadBarrier(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := get(t, m, "k"); got != string(r.Data) {
			t.Errorf("%s reads k = %s after ReadBarrier; %s was acknowledged", m.id, got, r.Data)
		}
	}
}
