package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Metrics are a node's counters since it started, for the daemon to
// export.
type Metrics struct {
	// LeaderChanges counts the times the node saw a leader other than
	// the one it saw last, a re-elected leader after a time without one
	// included.
	LeaderChanges uint64
	// Proposals counts the entries this node proposed as leader, its own
	// writes and the ones forwarded to it.
	Proposals uint64
	// ForwardedWrites counts the writes this node sent to the leader.
	ForwardedWrites uint64
	// ReadRounds counts the read-index rounds this node ran (each serves
	// every ReadBarrier that joined it).
	ReadRounds uint64
	// RefusedConns counts connections to the cluster port that failed
	// the handshake.
	RefusedConns uint64
}

type counters struct {
	leaderChanges, proposals, forwardedWrites, readRounds atomic.Uint64
}

// Metrics returns the node's counters.
func (n *Node) Metrics() Metrics {
	return Metrics{
		LeaderChanges: n.metrics.leaderChanges.Load(), Proposals: n.metrics.proposals.Load(),
		ForwardedWrites: n.metrics.forwardedWrites.Load(), ReadRounds: n.metrics.readRounds.Load(),
		RefusedConns: n.mux.refused.Load(),
	}
}

// watchTick is how often the watch goroutine looks again without an
// observation: Raft drops observations when the channel is full, and a
// learner's promotion to voter is not one.
const watchTick = time.Second

// watchRaft registers an observer of leader and state changes and starts
// the goroutine that acts on them: it wakes the waiters for a leader,
// reports role changes, runs a barrier when the node becomes leader (so
// that reads are ready early) and learns the leader's client address.
func (n *Node) watchRaft() {
	ch := make(chan raft.Observation, 64)
	n.observer = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.observer)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		tick := time.NewTicker(watchTick)
		defer tick.Stop()
		var role, leader string
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-ch:
			case <-tick.C:
				n.learnPeers()
			}
			n.wakeLeaderWaiters()
			r, l := n.role(), n.leaderID()
			if l != leader && l != "" {
				n.metrics.leaderChanges.Add(1)
				n.learnLeader()
			}
			if r == "leader" && role != "leader" {
				n.spawn(func() { n.barrier(n.ctx) })
			}
			if (r != role || l != leader) && n.onRole != nil {
				n.onRole(r, l)
			}
			role, leader = r, l
		}
	}()
}

// spawn runs f on a goroutine Shutdown waits for, unless Shutdown has
// begun: it reports whether f runs.
func (n *Node) spawn(f func()) bool {
	n.spawnMu.Lock()
	defer n.spawnMu.Unlock()
	if n.stopping {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// stopSpawning makes spawn refuse, so that Shutdown's wait is final.
func (n *Node) stopSpawning() {
	n.spawnMu.Lock()
	n.stopping = true
	n.spawnMu.Unlock()
}

// leaderWatch returns a channel closed at the next leader or state change
// the node observes; take it before reading the leader, so that no change
// between the two is missed.
func (n *Node) leaderWatch() <-chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderChanged
}

func (n *Node) wakeLeaderWaiters() {
	n.leaderMu.Lock()
	close(n.leaderChanged)
	n.leaderChanged = make(chan struct{})
	n.leaderMu.Unlock()
}

func (n *Node) leaderID() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// role is the node's role as INFO reports it: a follower that is not a
// voter is a learner.
func (n *Node) role() string {
	switch n.raft.State() {
	case raft.Leader:
		return "leader"
	case raft.Candidate:
		return "candidate"
	case raft.Shutdown:
		return "shutdown"
	}
	if !n.isVoter() {
		return "learner"
	}
	return "follower"
}

func (n *Node) isVoter() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.id) {
			return s.Suffrage == raft.Voter
		}
	}
	return false
}

// leaderRetry is how often a call that found no usable leader looks again
// when no change was observed meanwhile (the leader it knows may be one
// that just stopped, which refuses connections until an election).
const leaderRetry = 20 * time.Millisecond

// awaitLeader waits for a leader change seen since changed was taken, or
// leaderRetry, and reports false once ctx has ended.
func (n *Node) awaitLeader(ctx context.Context, changed <-chan struct{}) bool {
	t := time.NewTimer(leaderRetry)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return ctx.Err() == nil
}

// Leader waits until the node knows a leader, for at most
// Config.LeaderWait (or until ctx ends), and returns its ID and client
// address, which the node asks the leader for if it has not heard it yet
// ("" if the leader cannot tell). With no leader in time it fails with
// ErrNoLeader. A server that redirects clients to the leader uses it.
func (n *Node) Leader(ctx context.Context) (id, clientAddr string, err error) {
	ctx, cancel := n.bound(ctx)
	defer cancel()
	waitCtx, cancelWait := context.WithTimeout(ctx, n.leaderWait)
	defer cancelWait()
	for {
		changed := n.leaderWatch()
		if addr, lid := n.raft.LeaderWithID(); lid != "" {
			id = string(lid)
			if clientAddr = n.clientAddrOf(id); clientAddr == "" {
				if h, err := n.helloPeer(waitCtx, string(addr)); err == nil && h.ID == id {
					clientAddr = h.ClientAddr
				}
			}
			return id, clientAddr, nil
		}
		if !n.awaitLeader(waitCtx, changed) {
			if n.ctx.Err() != nil {
				return "", "", ErrShutdown
			}
			return "", "", fmt.Errorf("%w (waited up to %v)", ErrNoLeader, n.leaderWait)
		}
	}
}
