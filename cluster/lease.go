package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LockResult is what a lock request got: its ID (the log index that
// names it in later entries) and, if granted at once, its token.
type LockResult struct {
	ID     uint64
	Token  uint64 // 0: queued; wait with AwaitLock
	Queued bool
}

// Lock asks the leader (from any node, as Write does) for locks on names:
// write or read, waiting at most wait, held at most lease unless released
// (Release) or withdrawn (Withdraw). holder is shown by LOCKS. Its errors
// are Write's.
func (n *Node) Lock(ctx context.Context, holder string, write bool, wait, lease time.Duration, names [][]byte) (LockResult, error) {
	mode := "R"
	if write {
		mode = "W"
	}
	args := append([][]byte{[]byte(entryLock), []byte(opLockRequest), []byte(holder), []byte(mode),
		[]byte(strconv.FormatInt(wait.Milliseconds(), 10)), []byte(strconv.FormatInt(max(lease.Milliseconds(), 1), 10))}, names...)
	r, err := n.Write(ctx, args)
	if err != nil {
		return LockResult{}, err
	}
	res := LockResult{ID: r.Index, Queued: string(r.Data) == "Q"}
	if tok, ok := strings.CutPrefix(string(r.Data), "G "); ok {
		res.Token, err = strconv.ParseUint(tok, 10, 64)
	} else if !res.Queued {
		err = fmt.Errorf("%w: lock reply %q", ErrUnknownOutcome, r.Data)
	}
	return res, err
}

// Release lets go of the held request id and returns how many variables
// it held; ErrLockLost (wrapped in ErrCommand) if it was no longer held.
func (n *Node) Release(ctx context.Context, id uint64) (int, error) {
	r, err := n.Write(ctx, lockOp(opLockRelease, id))
	if err != nil {
		return 0, err
	}
	count, _ := strings.CutPrefix(string(r.Data), "R ")
	c, _ := strconv.Atoi(count)
	return c, nil
}

// Withdraw ends request id's wait; a request granted meanwhile is
// released. It reports whether the request was still waiting.
func (n *Node) Withdraw(ctx context.Context, id uint64) (bool, error) {
	r, err := n.Write(ctx, lockOp(opLockWithdraw, id))
	return err == nil && string(r.Data) == "W", err
}

func lockOp(op string, id uint64) [][]byte {
	return [][]byte{[]byte(entryLock), []byte(op), []byte(strconv.FormatUint(id, 10))}
}

// AwaitLock waits until request id is granted (returning its token) or
// gone (ErrLockLost: the leader withdrew it, its wait long over), as this
// node applies the table, or until ctx ends.
func (n *Node) AwaitLock(ctx context.Context, id uint64) (uint64, error) {
	for {
		_, changed, halted := n.fsm.watch()
		switch st, tok := n.fsm.locks.State(id); {
		case st == LockHeld:
			return tok, nil
		case st == LockGone:
			return 0, ErrLockLost
		case halted != nil:
			return 0, fmt.Errorf("%w: %w", ErrHalted, halted)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// WriteHeld replicates a write by the holder of request id: applied only
// while that request holds write locks on every variable it names
// (ErrLockLost otherwise). Its errors are Write's.
func (n *Node) WriteHeld(ctx context.Context, id uint64, args [][]byte) (Reply, error) {
	return n.Write(ctx, append([][]byte{[]byte(entryHeld), []byte(strconv.FormatUint(id, 10))}, args...))
}

// WriteFenced replicates a write fenced by token: refused with ErrFenced
// if a variable it names was granted to a lock after token, and with
// ErrLocked while another lock than token's holds one.
func (n *Node) WriteFenced(ctx context.Context, token uint64, args [][]byte) (Reply, error) {
	return n.Write(ctx, append([][]byte{[]byte(entryFenced), []byte(strconv.FormatUint(token, 10))}, args...))
}

// Locks returns the node's lock table, as applied here.
func (n *Node) Locks() *LockTable { return n.fsm.locks }

// ListLocks lists the lock table with the time left of each request, as
// this node counts it (the leader's count is the one enforced).
func (n *Node) ListLocks() []LockInfo {
	return n.fsm.locks.List(time.Now(), n.leaderSince())
}

func (n *Node) leaderSince() time.Time {
	n.leaseMu.Lock()
	defer n.leaseMu.Unlock()
	return n.leadingSince
}

// keepLeases ends leases and waits on the leader: when one is due it
// proposes the expiry (for a waiter, the lapse). Each lease counts from
// when the leader applied its grant or, for grants it found when it
// became leader, from then: a new leader gives every lease its full
// length again, so no lease is ever shorter than the holder was
// promised. Followers end nothing.
func (n *Node) keepLeases() {
	defer n.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		leaderCh := n.leaderWatch()
		changed := n.fsm.locks.watch()
		leading := n.IsLeader()
		n.leaseMu.Lock()
		switch {
		case !leading:
			n.leadingSince = time.Time{}
		case n.leadingSince.IsZero():
			n.leadingSince = time.Now()
		}
		since := n.leadingSince
		n.leaseMu.Unlock()
		wait := time.Hour
		if leading {
			ops, next := n.fsm.locks.due(time.Now(), since)
			failed := false
			for _, op := range ops {
				id, _ := strconv.ParseUint(op[1], 10, 64)
				ctx, cancel := context.WithTimeout(n.ctx, n.leaderWait)
				_, err := n.Propose(ctx, lockOp(op[0], id))
				cancel()
				if err != nil && !errors.Is(err, ErrCommand) {
					n.logger.Warn("lock lease not ended yet", "request", id, "op", op[0], "err", err)
					failed = true
				}
			}
			switch {
			case failed:
				wait = 100 * time.Millisecond
			case len(ops) > 0:
				continue
			case !next.IsZero():
				wait = time.Until(next)
			}
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-n.ctx.Done():
			return
		case <-leaderCh:
		case <-changed:
		case <-timer.C:
		}
	}
}

// AwaitUnlocked waits until this node's lock table lets a read (write
// false) or a write of names by the holder of request own (0: nobody's)
// go, a fenced write passing the holder of token, or until ctx ends. It
// waits at most the longest lease or wait in the table, and a second: a
// node cut off from the leader hears of no release, and its caller then
// goes on to the leader, which decides.
func (n *Node) AwaitUnlocked(ctx context.Context, names [][]byte, write bool, own, token uint64) error {
	t := n.fsm.locks
	if t.Empty() {
		return nil
	}
	var timer *time.Timer
	for {
		changed := t.watch()
		if !t.Blocked(names, write, own, token) {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(t.longest() + waitGrace)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
