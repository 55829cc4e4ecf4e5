package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// statuses asks every node; a node that does not answer has its error.
func statuses(ctx context.Context, sys system, endpoints []string) ([]nodeStatus, []error) {
	sts := make([]nodeStatus, len(endpoints))
	errs := make([]error, len(endpoints))
	for i, e := range endpoints {
		sts[i], errs[i] = sys.status(ctx, e)
	}
	return sts, errs
}

// leader returns the index of the node that leads, if every node answers
// and names it.
func leader(ctx context.Context, sys system, endpoints []string) (int, error) {
	sts, errs := statuses(ctx, sys, endpoints)
	if err := errors.Join(errs...); err != nil {
		return -1, err
	}
	li := slices.IndexFunc(sts, func(s nodeStatus) bool { return s.leader })
	if li < 0 {
		return -1, errors.New("no node leads")
	}
	for i, s := range sts {
		if s.leaderID != sts[li].id || (s.leader && i != li) {
			return -1, fmt.Errorf("nodes disagree on the leader: %s names %q, %s leads as %q",
				endpoints[i], s.leaderID, endpoints[li], sts[li].id)
		}
	}
	return li, nil
}

// waitReady waits until the nodes agree on a leader and a write through
// each of them is acknowledged.
func waitReady(ctx context.Context, sys system, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.waitMax)
	defer cancel()
	var last error
	for {
		if last = ready(ctx, sys, cfg.endpoints); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", cfg.waitMax, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, sys system, endpoints []string) error {
	if _, err := leader(ctx, sys, endpoints); err != nil {
		return err
	}
	for _, e := range endpoints {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := sys.dial(rctx, e, false)
		if err == nil {
			err = c.put(rctx, "bench:ready", e)
			c.close()
		}
		cancel()
		if err != nil {
			return fmt.Errorf("write through %s: %w", e, err)
		}
	}
	return nil
}

// printStatus prints the nodes' leader changes on one line and their terms
// on the next, "-" for what a node did not tell.
func printStatus(ctx context.Context, sys system, cfg config, stdout io.Writer) error {
	sts, errs := statuses(ctx, sys, cfg.endpoints)
	var changes, terms []string
	for i, s := range sts {
		if errs[i] != nil {
			s.changes, s.term = -1, -1
		}
		changes, terms = append(changes, count(s.changes)), append(terms, count(s.term))
	}
	_, err := fmt.Fprintf(stdout, "%s\n%s\n", strings.Join(changes, " "), strings.Join(terms, " "))
	return err
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// failoverSteady is how many writes in a row must succeed through the
// survivors before the leader is killed.
const failoverSteady = 20

// failoverPause is the least time between the starts of two writes after
// a failure, so that a node that refuses at once is not spun on.
const failoverPause = 10 * time.Millisecond

// failover kills the leader with SIGKILL while one client writes through
// the other nodes, and prints the leader's index and the milliseconds
// from the kill to the acknowledgement of the first write sent after it.
func failover(ctx context.Context, sys system, cfg config, stdout io.Writer) error {
	li, err := leader(ctx, sys, cfg.endpoints)
	if err != nil {
		return err
	}
	var survivors []string
	for i, e := range cfg.endpoints {
		if i != li {
			survivors = append(survivors, e)
		}
	}
	w, err := sys.writer(survivors, cfg.timeout)
	if err != nil {
		return err
	}
	defer w.close()
	seq := 0
	put := func() error {
		seq++
		rctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		return w.put(rctx, "bench:failover", strconv.Itoa(seq))
	}
	if err := steady(ctx, put, cfg.waitMax); err != nil {
		return fmt.Errorf("before the kill: %w", err)
	}
	if now, err := leader(ctx, sys, cfg.endpoints); err != nil || now != li {
		return fmt.Errorf("the leader moved before the kill (was %s): %v", cfg.endpoints[li], err)
	}

	killed := time.Now()
	if err := syscall.Kill(cfg.pids[li], syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %d: %w", cfg.pids[li], err)
	}
	for time.Since(killed) < cfg.waitMax {
		begin := time.Now()
		if err := put(); err == nil {
			_, err := fmt.Fprintf(stdout, "%d %.1f\n", li, ms(time.Since(killed)))
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(failoverPause - time.Since(begin))
	}
	return fmt.Errorf("no write acknowledged %v after the kill", cfg.waitMax)
}

// steady writes until failoverSteady writes in a row succeed.
func steady(ctx context.Context, put func() error, limit time.Duration) error {
	end := time.Now().Add(limit)
	ok := 0
	var last error
	for ok < failoverSteady {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("writes do not succeed: %w", last)
		}
		if last = put(); last != nil {
			ok = 0
			time.Sleep(failoverPause)
			continue
		}
		ok++
	}
	return nil
}
