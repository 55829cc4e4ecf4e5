package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// requestLimit bounds each request of fill, and how long a load run's
// requests go on after the run's end, so that a node that stops answering
// ends the run (with errors counted) rather than hangs it.
const requestLimit = 5 * time.Second

// operation runs one request of a load run on key number k.
type operation func(ctx context.Context, c client, k int) error

// keyNames are the keys of the put and get runs, counterNames those of
// incr (a put would leave a value INCR refuses).
func keyNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func newOperation(cfg config) (operation, error) {
	switch cfg.op {
	case "put":
		keys, value := keyNames("bench:k:", cfg.keys), strings.Repeat("v", cfg.valueSize)
		return func(ctx context.Context, c client, k int) error { return c.put(ctx, keys[k], value) }, nil
	case "get", "sget":
		keys := keyNames("bench:k:", cfg.keys)
		return func(ctx context.Context, c client, k int) error { return c.get(ctx, keys[k]) }, nil
	case "incr":
		keys := keyNames("bench:n:", cfg.keys)
		return func(ctx context.Context, c client, k int) error { return c.incr(ctx, keys[k]) }, nil
	}
	return nil, fmt.Errorf("-op %q: want put, get, sget or incr", cfg.op)
}

// dialAll opens n clients, client i on node i mod len(endpoints).
func dialAll(ctx context.Context, sys system, endpoints []string, n int, stale bool) ([]client, error) {
	clients := make([]client, 0, n)
	for i := range n {
		c, err := sys.dial(ctx, endpoints[i%len(endpoints)], stale)
		if err != nil {
			closeAll(clients)
			return nil, fmt.Errorf("client %d on %s: %w", i, endpoints[i%len(endpoints)], err)
		}
		clients = append(clients, c)
	}
	return clients, nil
}

func closeAll(clients []client) {
	for _, c := range clients {
		c.close()
	}
}

// tally is what one client of a load run did.
type tally struct {
	latencies []time.Duration // of the requests that succeeded
	errors    int
	firstErr  error
}

// runLoad runs cfg.op from cfg.clients clients for cfg.duration and
// prints "OPS_PER_S P50_MS P99_MS ERRORS OPS".
func runLoad(ctx context.Context, sys system, cfg config, stdout io.Writer) error {
	op, err := newOperation(cfg)
	if err != nil {
		return err
	}
	if cfg.clients < 1 || cfg.keys < 1 {
		return errors.New("-clients and -keys must be at least 1")
	}
	clients, err := dialAll(ctx, sys, cfg.endpoints, cfg.clients, cfg.op == "sget")
	if err != nil {
		return err
	}
	defer closeAll(clients)

	tallies := make([]tally, len(clients))
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { tallies[i] = drive(ctx, c, op, cfg.keys, deadline, uint64(i)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	var all []time.Duration
	errs := 0
	var firstErr error
	for _, t := range tallies {
		all = append(all, t.latencies...)
		errs += t.errors
		if firstErr == nil {
			firstErr = t.firstErr
		}
	}
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "clusterload: %s %s: %d errors, the first: %v\n", cfg.system, cfg.op, errs, firstErr)
	}
	if len(all) == 0 {
		return fmt.Errorf("%s %s: no request succeeded", cfg.system, cfg.op)
	}
	slices.Sort(all)
	_, err = fmt.Fprintf(stdout, "%.0f %.3f %.3f %d %d\n", float64(len(all))/elapsed.Seconds(),
		ms(percentile(all, 0.50)), ms(percentile(all, 0.99)), errs, len(all))
	return err
}

// drive sends requests on random keys, one at a time, until the deadline.
func drive(ctx context.Context, c client, op operation, keys int, deadline time.Time, seed uint64) tally {
	rng := rand.New(rand.NewPCG(seed, 0x636c7573746572))
	t := tally{latencies: make([]time.Duration, 0, 1<<14)}
	// One context for the run rather than one a request (a timer each):
	// a request that hangs still ends, requestLimit after the run.
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(requestLimit))
	defer cancel()
	for ctx.Err() == nil {
		begin := time.Now()
		if !begin.Before(deadline) {
			break
		}
		err := op(ctx, c, rng.IntN(keys))
		if err != nil {
			t.errors++
			if t.firstErr == nil {
				t.firstErr = err
			}
			continue
		}
		t.latencies = append(t.latencies, time.Since(begin))
	}
	return t
}

// percentile of sorted durations, by the nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fill puts every key of the get runs once, from one client per node.
func fill(ctx context.Context, sys system, cfg config) error {
	clients, err := dialAll(ctx, sys, cfg.endpoints, len(cfg.endpoints), false)
	if err != nil {
		return err
	}
	defer closeAll(clients)
	keys, value := keyNames("bench:k:", cfg.keys), strings.Repeat("v", cfg.valueSize)
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for k := i; k < len(keys) && errs[i] == nil; k += len(clients) {
				rctx, cancel := context.WithTimeout(ctx, requestLimit)
				errs[i] = c.put(rctx, keys[k], value)
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
