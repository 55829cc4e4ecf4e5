package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/dsm-dev/dsm/internal/planted"
)

// Linearizable reads.
//
// hashicorp/raft has no ReadIndex; it is built here from a barrier and
// VerifyLeader, as Consul and rqlite do. The leader's read index is its
// FSM's applied index taken after both of these:
//
//  1. A barrier has completed in the leader's current term. The barrier
//     is appended after every entry an earlier leader may have committed
//     and completes once the FSM has applied them all, so from then on
//     the leader's file holds every write acknowledged in earlier terms.
//     Writes acknowledged in this term were acknowledged by this leader
//     after its own FSM applied them (Propose waits for that, and a
//     forwarded write is answered by the leader), so its file holds them
//     too.
//  2. VerifyLeader succeeded after the read began: a quorum still took
//     this node as leader of that term, so no later leader had been
//     elected, and none could have acknowledged a write this one lacks.
//     The term, read again afterwards, must still be the barrier's:
//     terms only grow, so the verification happened in it.
//
// The index is the FSM's applied index, not Raft's commit index: FSM.Apply
// never sees no-op, barrier or configuration entries, so the file's
// applied index stays below a commit index that counts them, and a
// follower waiting for its file to reach the commit index could wait for
// ever once the log ends with such an entry. Applied indexes compare like
// with like: a follower whose FSM has applied index i holds every command
// up to i, whatever came between.
//
// A follower asks the leader for its read index over the cluster port and
// waits until its own FSM has applied it. Concurrent ReadBarrier calls on
// a node share one round, as etcd's linearizableReadLoop does: a call
// joins the next round, one that has not begun yet, so the round's
// verification comes after the call began.

// readRounds batches read-index requests.
type readRounds struct {
	mu      sync.Mutex // guards next and running
	next    *readRound // the round new calls join; nil until one does
	running bool       // whether readLoop is running
}

// readRound is one read-index round; done is closed when index and err
// are set. It runs while some call still waits for it: the last one to
// give up (its ctx ended) cancels it, so no caller's context bounds the
// others' and a round with nobody left stops.
type readRound struct {
	done  chan struct{}
	index uint64
	err   error

	// Guarded by readRounds.mu:
	waiters int                // calls waiting for the round
	cancel  context.CancelFunc // ends the running round; nil until it begins
}

// ReadBarrier returns nil once this node's file holds every write
// acknowledged, by any node, before the call began: the local reads that
// follow are linearizable. It fails with ErrNoLeader when no leader (or
// only a minority) is reachable within Config.LeaderWait, or with ctx's
// error. Once a leader is reached, how long the leader and this node take
// to apply what came before is bounded by ctx alone.
func (n *Node) ReadBarrier(ctx context.Context) error {
	if planted.On(planted.ReadSkipsLeaderCheck) {
		return nil
	}
	ctx, cancel := n.bound(ctx)
	defer cancel()
	index, err := n.readIndex(ctx)
	if err != nil {
		return err
	}
	return n.WaitApplied(ctx, index)
}

// readIndex joins the next read round and returns its index: once this
// node's FSM has applied it, the file holds every write acknowledged
// before the call.
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	rs := &n.reads
	rs.mu.Lock()
	if rs.next == nil {
		rs.next = &readRound{done: make(chan struct{})}
	}
	r := rs.next
	if !rs.running {
		if !n.spawn(n.readLoop) {
			rs.mu.Unlock()
			return 0, ErrShutdown
		}
		rs.running = true
	}
	r.waiters++
	rs.mu.Unlock()
	select {
	case <-r.done:
		return r.index, r.err
	case <-ctx.Done():
		rs.mu.Lock()
		if r.waiters--; r.waiters == 0 && r.cancel != nil {
			r.cancel()
		}
		rs.mu.Unlock()
		return 0, ctx.Err()
	}
}

// readLoop runs rounds while calls wait for one. A round begins when it is
// taken out of next: calls that come later join the following one.
func (n *Node) readLoop() {
	rs := &n.reads
	for {
		rs.mu.Lock()
		r := rs.next
		rs.next = nil
		if r == nil {
			rs.running = false
			rs.mu.Unlock()
			return
		}
		ctx, cancel := context.WithCancel(n.ctx)
		r.cancel = cancel
		if r.waiters == 0 {
			cancel() // everyone left before it began
		}
		rs.mu.Unlock()
		n.metrics.readRounds.Add(1)
		r.index, r.err = n.readRound(ctx)
		cancel()
		close(r.done)
	}
}

// readRound gets a read index from the leader, this node or another,
// waiting up to LeaderWait for one to be reachable.
func (n *Node) readRound(ctx context.Context) (uint64, error) {
	var index uint64
	err := n.routeToLeader(ctx, func(ctx context.Context, addr string, self bool) (bool, error) {
		var err error
		if self {
			index, err = n.leaderReadIndex(ctx)
			return errors.Is(err, ErrNotLeader), err
		}
		// An answer may never come (the request or the reply lost with
		// its connection across partitions and restarts): without a bound
		// the round, and every read on this node that joins the rounds
		// after it, would wait for good. The bound is the Raft
		// transport's own, well above a leader's wait for its apply to
		// catch up; then the round asks again, on a new connection.
		callCtx, cancel := context.WithTimeout(ctx, transportTimeout)
		status, d, err := n.rpc.call(callCtx, addr, opReadIndex, nil)
		cancel()
		switch {
		case err != nil:
			return true, err // a read changes nothing: any failure may be retried
		case status == statusOK:
			index = d.uvarint()
			return false, d.err
		}
		err = statusError(status, d.string())
		return status == statusNotLeader || status == statusNoLeader, err
	})
	return index, err
}

// leaderReadIndex is the leader's read index (see the comment at the top).
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	if n.barrierTerm.Load() != n.raft.CurrentTerm() {
		if err := n.barrier(ctx); err != nil {
			return 0, err
		}
	}
	if err := waitFuture(ctx, n.raft.VerifyLeader()); err != nil {
		return 0, leadershipError(err)
	}
	if n.raft.CurrentTerm() != n.barrierTerm.Load() {
		return 0, fmt.Errorf("%w: the term changed", ErrNotLeader)
	}
	return n.fsm.Applied(), nil
}

// barrier runs a Raft barrier and, if it completed as leader in the term
// it began in, records that term: reads may then be served in it.
func (n *Node) barrier(ctx context.Context) error {
	term := n.raft.CurrentTerm()
	if err := waitFuture(ctx, n.raft.Barrier(0)); err != nil {
		return leadershipError(err)
	}
	if n.raft.CurrentTerm() != term || n.raft.State() != raft.Leader {
		return fmt.Errorf("%w: leadership changed during the barrier", ErrNotLeader)
	}
	for {
		old := n.barrierTerm.Load()
		if old >= term || n.barrierTerm.CompareAndSwap(old, term) {
			return nil
		}
	}
}

// leadershipError makes Raft's failures for lost leadership ErrNotLeader,
// which callers retry at the new leader.
func leadershipError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return err
}

// handleReadIndex answers a follower's read-index request; only the
// leader does, and from its own read index, never through a read round:
// a round may go to another node, and a leader that has just lost its
// place would ask the new leader, whose own round may be the very one
// waiting for this answer (its requests join the round after it). The
// cluster torture's SIGSTOP of the leader tied that knot: reads stalled on
// two nodes for good.
func (n *Node) handleReadIndex(ctx context.Context) []byte {
	index, err := n.leaderReadIndex(ctx)
	if err != nil {
		return encodeError(nil, err)
	}
	return binary.AppendUvarint([]byte{statusOK}, index)
}
