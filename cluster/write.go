package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/dsm-dev/dsm/internal/planted"
)

// errNotSent marks a failure to reach the leader before the request left:
// the leader certainly did not act on it, so it may be retried.
var errNotSent = errors.New("cluster: request not sent")

// Write replicates a write command (its arguments as the server received
// them) from any node and returns its reply. The leader proposes it; a
// follower forwards it to the leader over the cluster port, then waits
// until its own file holds the write (Reply.Index applied), so that the
// caller's next local read sees it.
//
// Errors:
//   - ErrNoLeader: no leader could be reached within Config.LeaderWait (or
//     before ctx ended); the write was certainly not applied.
//   - ErrUnknownOutcome: the entry may have been appended but its outcome
//     is not known (leadership lost, the connection to the leader broke
//     after the request was sent, ctx ended while waiting). It may yet be
//     applied, or have been.
//   - ErrCommand: the command was applied as a failed command, alike on
//     every node; the text after ErrCommand's is for the client.
func (n *Node) Write(ctx context.Context, args [][]byte) (Reply, error) {
	if len(args) == 0 {
		return Reply{}, ErrNoCommand
	}
	entry := EncodeEntry(args)
	var r Reply
	err := n.routeToLeader(ctx, func(ctx context.Context, addr string, self bool) (bool, error) {
		var err error
		if self {
			r, err = n.propose(ctx, entry)
		} else {
			r, err = n.forwardWrite(ctx, addr, entry)
		}
		return errors.Is(err, ErrNotLeader) || errors.Is(err, errNotSent), err
	})
	return r, err
}

// Propose replicates a write command like Write but only on the leader:
// elsewhere it fails with ErrNotLeader naming the leader. Its other errors
// are Write's.
func (n *Node) Propose(ctx context.Context, args [][]byte) (Reply, error) {
	if len(args) == 0 {
		return Reply{}, ErrNoCommand
	}
	ctx, cancel := n.bound(ctx)
	defer cancel()
	return n.propose(ctx, EncodeEntry(args))
}

// routeToLeader calls try with the leader's cluster address (self if this
// node leads) until try reports it need not be retried, waiting for a
// leader between attempts. When none turns up within LeaderWait (or ctx
// ends first) it fails with ErrNoLeader: try must report retry only for
// failures that certainly did nothing.
func (n *Node) routeToLeader(ctx context.Context, try func(ctx context.Context, addr string, self bool) (retry bool, err error)) error {
	ctx, cancel := n.bound(ctx)
	defer cancel()
	waitCtx, cancelWait := context.WithTimeout(ctx, n.leaderWait)
	defer cancelWait()
	ctx = withDialDeadline(ctx, deadline(waitCtx))
	var last error
	for {
		changed := n.leaderWatch()
		if addr, id := n.raft.LeaderWithID(); id != "" {
			retry, err := try(ctx, string(addr), string(id) == n.id)
			if !retry {
				return err
			}
			last = err
		}
		if !n.awaitLeader(waitCtx, changed) {
			switch {
			case n.ctx.Err() != nil:
				return ErrShutdown
			case last == nil:
				last = waitCtx.Err()
			}
			return fmt.Errorf("%w (waited up to %v; last: %v)", ErrNoLeader, n.leaderWait, last)
		}
	}
}

// propose appends entry as leader and waits until it is applied here.
func (n *Node) propose(ctx context.Context, entry []byte) (Reply, error) {
	if n.raft.State() != raft.Leader {
		addr, id := n.raft.LeaderWithID()
		return Reply{}, fmt.Errorf("%w: the leader is %q at %q", ErrNotLeader, id, addr)
	}
	if err := ctx.Err(); err != nil {
		return Reply{}, fmt.Errorf("%w: %w", errNotSent, err)
	}
	n.metrics.proposals.Add(1)
	f := n.raft.Apply(entry, 0)
	if err := waitFuture(ctx, f); err != nil {
		// Raft refuses with ErrNotLeader before it appends anything;
		// every other failure may come after the append.
		if errors.Is(err, raft.ErrNotLeader) {
			return Reply{}, fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return Reply{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	res, ok := f.Response().(*Result)
	if !ok {
		return Reply{}, fmt.Errorf("%w: no result", ErrUnknownOutcome)
	}
	r := res.Reply
	r.Index = f.Index()
	switch {
	case res.Err == nil:
		return r, nil
	case errors.Is(res.Err, ErrHalted):
		// Committed, so the other nodes apply it; this one cannot.
		return r, fmt.Errorf("%w: %w", ErrUnknownOutcome, res.Err)
	}
	return r, fmt.Errorf("%w: %w", ErrCommand, res.Err)
}

// waitFuture waits for f, or for ctx to end. Raft settles every future
// (at the latest at Shutdown, for those it took), so the waiter ends; its
// channel is buffered so that it never blocks once ctx has ended the wait.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-done:
		return err
	}
}

// forwardWrite sends entry to the leader at addr, then waits until this
// node has applied it.
func (n *Node) forwardWrite(ctx context.Context, addr string, entry []byte) (Reply, error) {
	if len(entry) > maxFrame-16 {
		return Reply{}, fmt.Errorf("cluster: a command of %d bytes exceeds what a forwarded write carries (%d)", len(entry), maxFrame-16)
	}
	n.metrics.forwardedWrites.Add(1)
	// A leader that took the request and then went silent (paused, cut
	// off with the connection still open) would keep the caller waiting
	// for good: the call is bounded by the Raft transport's own timeout,
	// far above a commit's, and then its outcome is unknown.
	callCtx, cancel := context.WithTimeout(ctx, transportTimeout)
	defer cancel()
	status, d, err := n.rpc.call(callCtx, addr, opWrite, entry)
	if planted.On(planted.ForwardRetried) {
		n.rpc.call(callCtx, addr, opWrite, entry)
	}
	if err != nil {
		return Reply{}, callFailure(err)
	}
	switch status {
	case statusOK:
		r := Reply{Index: d.uvarint(), Data: d.bytes()}
		if d.err != nil {
			return Reply{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, d.err)
		}
		if err := n.WaitApplied(ctx, r.Index); err != nil {
			return r, fmt.Errorf("%w: applied by the leader at %d, not yet here: %w", ErrUnknownOutcome, r.Index, err)
		}
		return r, nil
	case statusCommand:
		r := Reply{Index: d.uvarint()}
		return r, commandError(d.string())
	}
	return Reply{}, statusError(status, d.string())
}

// commandError rebuilds the error of a command the leader applied as
// failed from the text it sent: ErrCommand, and the lock table's errors
// keep their identity (errors.Is), as on the leader itself.
func commandError(text string) error {
	for _, e := range []error{ErrLocked, ErrLockLost, ErrFenced} {
		if rest, ok := strings.CutPrefix(text, e.Error()); ok {
			return fmt.Errorf("%w: %w%s", ErrCommand, e, rest)
		}
	}
	return fmt.Errorf("%w: %s", ErrCommand, text)
}

// callFailure classifies a failed call: one whose request may have reached
// the peer has an unknown outcome, one that never left may be retried.
func callFailure(err error) error {
	var ce *callError
	if errors.As(err, &ce) && ce.sent {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, ce.err)
	}
	return fmt.Errorf("%w: %w", errNotSent, err)
}

// handleWrite proposes a forwarded write. It never forwards it further: a
// node that is no longer the leader says so and the caller looks again.
func (n *Node) handleWrite(ctx context.Context, d *fields) []byte {
	entry := d.b
	if _, err := DecodeEntry(entry); err != nil {
		return encodeError(nil, err)
	}
	r, err := n.propose(ctx, entry)
	switch {
	case err == nil:
		return appendBytes(binary.AppendUvarint([]byte{statusOK}, r.Index), r.Data)
	case errors.Is(err, ErrCommand):
		b := binary.AppendUvarint([]byte{statusCommand}, r.Index)
		return appendString(b, after(err, ErrCommand))
	}
	return encodeError(nil, err)
}
