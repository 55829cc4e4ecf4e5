package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
)

// Every node takes writes: the leader proposes, followers forward, and the
// writer's own file holds the write when Write returns.
func TestWriteFromEveryNode(t *testing.T) {
	c := newCluster(t, 3)
	want := 0
	for round := range 3 {
		for _, m := range c.members {
			r, err := c.write(m, "INCR count")
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, m.id, err)
			}
			want++
			if got := num(t, r); got != int64(want) {
				t.Fatalf("%s: INCR returned %d, want %d", m.id, got, want)
			}
			// Read your writes, on the node written through.
			if got := get(t, m, "count"); got != fmt.Sprint(want) {
				t.Fatalf("%s reads count %s right after its write of %d", m.id, got, want)
			}
		}
	}
	f := c.followers()[0]
	if got := f.node.Metrics().ForwardedWrites; got < 3 {
		t.Errorf("a follower forwarded %d writes, want at least 3", got)
	}
	if got := c.leader().node.Metrics().Proposals; got < 9 {
		t.Errorf("the leader proposed %d entries, want at least 9", got)
	}
}

// A follower keeps the streams its forwarded writes used: writes in
// flight at once need as many streams, and the next ones reuse them
// instead of dialing (and authenticating) new ones.
func TestForwardedWritesReuseStreams(t *testing.T) {
	const writers, rounds = 32, 5
	c := newCluster(t, 3)
	// A leader starved on a loaded machine may step down mid-run: the
	// follower then dials the new leader, which is no fault of the pool.
	// Such an attempt is run again.
	for attempt := 1; ; attempt++ {
		l := c.leader()
		f := c.followers()[0]
		before := cluster.RPCDials(f.node)
		moved := false
		for round := 0; round < rounds && !moved; round++ {
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					if _, err := c.write(f, fmt.Sprintf("SET k%d %d", i, round)); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Logf("attempt %d, round %d: %v", attempt, round, err)
				moved = true
			}
		}
		if moved || c.leader() != l {
			if attempt == 3 {
				t.Fatal("leadership moved in each of 3 attempts")
			}
			continue
		}
		// At most one stream per write in flight, and a few for the
		// node's other requests (Hello, read indexes).
		if got := cluster.RPCDials(f.node) - before; got > writers+8 {
			t.Errorf("%d rounds of %d concurrent forwarded writes dialed %d streams, want at most %d", rounds, writers, got, writers+8)
		}
		return
	}
}

// A command refused at apply comes back as ErrCommand with the apply
// error's text, from the leader and through a follower alike.
func TestWriteCommandError(t *testing.T) {
	c := newCluster(t, 3)
	if _, err := c.write(c.leader(), "SET s text"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{c.leader(), c.followers()[0]} {
		_, err := c.write(m, "INCR s")
		if !errors.Is(err, cluster.ErrCommand) || !strings.Contains(err.Error(), "not an integer") && !strings.Contains(err.Error(), "integer") {
			t.Errorf("%s: INCR of a string: %v, want ErrCommand with the apply error", m.id, err)
		}
		_, err = m.node.Write(t.Context(), [][]byte{[]byte("SET"), []byte(cluster.AppliedName), []byte("1")})
		if !errors.Is(err, cluster.ErrCommand) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%s: SET of a reserved name: %v, want ErrCommand", m.id, err)
		}
		_, err = c.write(m, "NOSUCH a")
		if !errors.Is(err, cluster.ErrCommand) || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("%s: unknown command: %v, want ErrCommand", m.id, err)
		}
	}
	if _, err := c.followers()[0].node.Write(t.Context(), nil); !errors.Is(err, cluster.ErrNoCommand) {
		t.Errorf("empty write: %v, want ErrNoCommand", err)
	}
}

// A write whose outcome is not known when ctx ends fails with
// ErrUnknownOutcome, on the leader and through a follower; it is applied
// all the same.
func TestWriteUnknownOutcome(t *testing.T) {
	c := newCluster(t, 3)
	for i, m := range []*member{c.leader(), c.followers()[0]} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		key := fmt.Sprintf("slow%d", i)
		_, err := m.node.Write(ctx, args("SLOW "+key+" 400"))
		cancel()
		if !errors.Is(err, cluster.ErrUnknownOutcome) {
			t.Errorf("%s: %v, want ErrUnknownOutcome", m.id, err)
		}
		if _, err := c.write(m, "INCR after"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, m, key); got != "1" {
			t.Errorf("%s: the write of unknown outcome was not applied: %s = %q", m.id, key, got)
		}
	}
}

// A forwarded write in flight when the leader stops has an unknown
// outcome, not a failure: here it was committed, and the survivors apply
// it.
func TestWriteUnknownOutcomeLeaderStops(t *testing.T) {
	c := newCluster(t, 3)
	l, f := c.leader(), c.followers()[0]
	proposed, forwarded := l.node.Metrics().Proposals, f.node.Metrics().ForwardedWrites
	done := make(chan error, 1)
	go func() {
		_, err := c.write(f, "SLOW stopped 600")
		done <- err
	}()
	waitFor(t, "the write to reach the leader", func() bool {
		return f.node.Metrics().ForwardedWrites > forwarded && l.node.Metrics().Proposals > proposed
	})
	c.stop(l)
	if err := <-done; !errors.Is(err, cluster.ErrUnknownOutcome) {
		t.Fatalf("write in flight when the leader stopped: %v, want ErrUnknownOutcome", err)
	}
	if err := f.node.ReadBarrier(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, f, "stopped"); got != "1" {
		t.Errorf("the write of unknown outcome: stopped = %q", got)
	}
}

// Killing the leader: a write through a survivor succeeds within the
// bounded wait, and no acknowledged write is lost.
func TestWriteFailover(t *testing.T) {
	c := newCluster(t, 3)
	acked := 0
	for _, m := range c.members {
		if _, err := c.write(m, "INCR count"); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	old := c.leader()
	survivor := c.followers()[0]
	c.stop(old) // without leaving the cluster
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), leaderWait+time.Second)
	r, err := survivor.node.Write(ctx, args("INCR count"))
	cancel()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("write through %s after the leader stopped: %v (after %v)", survivor.id, err, took)
	}
	acked++
	t.Logf("leader stopped to the next acknowledged write: %v", took)
	if got := num(t, r); got != int64(acked) {
		t.Errorf("INCR after failover returned %d, want %d: acknowledged writes lost", got, acked)
	}
	for _, m := range c.followers() {
		if _, err := c.write(m, "INCR count"); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	if got := get(t, survivor, "count"); got != fmt.Sprint(acked) {
		t.Errorf("count is %s, want %d", got, acked)
	}
}

// A node cut off from the majority answers ErrNoLeader within the bound,
// for writes and reads.
func TestMinorityNoLeader(t *testing.T) {
	c := newCluster(t, 3)
	r, err := c.write(c.leader(), "SET k v")
	if err != nil {
		t.Fatal(err)
	}
	c.converged(r.Index)
	lone := c.followers()[0]
	for _, m := range c.members {
		if m != lone {
			c.stop(m)
		}
	}
	// Once it knows it has no leader (a leader steps down within the
	// lease), nothing it does can have been applied.
	waitFor(t, "the leader to be gone", func() bool { return lone.node.Status().LeaderID == "" })
	for name, op := range map[string]func(context.Context) error{
		"Write": func(ctx context.Context) error {
			_, err := lone.node.Write(ctx, args("SET k w"))
			return err
		},
		"ReadBarrier": lone.node.ReadBarrier,
	} {
		start := time.Now()
		err := op(context.Background())
		took := time.Since(start)
		if !errors.Is(err, cluster.ErrNoLeader) || took > leaderWait+500*time.Millisecond {
			t.Errorf("%s on a minority: %v after %v, want ErrNoLeader within %v", name, err, took, leaderWait)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start = time.Now()
		err = op(ctx)
		took = time.Since(start)
		cancel()
		if !errors.Is(err, cluster.ErrNoLeader) && !errors.Is(err, context.DeadlineExceeded) || took > 500*time.Millisecond {
			t.Errorf("%s on a minority with a short context: %v after %v", name, err, took)
		}
	}
	if got := get(t, lone, "k"); got != "v" {
		t.Errorf("k = %q, want v", got)
	}
}
