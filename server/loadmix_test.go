package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The saturating load: loadEnv reads its knobs from the environment, with
// defaults sized for CI (a 10 s run); scripts/load sets DSM_LOAD_SECONDS=60.
const (
	mixCounters = 8 // shared counters, INCR and INCRBY by every client
	mixGroups   = 4 // shared groups of variables, MSET and MGET by every client
)

// mixGroupFields are the variables of one group; MSET writes them all to
// one value, so an MGET that sees two values saw a torn group.
var mixGroupFields = []string{"a", "b", "c"}

// loadEnv returns the integer environment variable name, or def.
func loadEnv(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// mixKind is one kind of operation of the mix.
type mixKind int

const (
	mixGetCounter mixKind = iota
	mixIncr
	mixSetOwn
	mixGetOwn
	mixMSet
	mixMGet
	mixKinds
)

var mixNames = [mixKinds]string{"GET counter", "INCR/INCRBY", "SET own", "GET own", "MSET group", "MGET group"}

// mixWeights are the shares of the kinds, in percent.
var mixWeights = [mixKinds]int{15, 25, 15, 15, 15, 15}

// mixWorker is one client of the saturating load. Its goroutine alone uses
// it until the run ends; then the test reads its totals.
type mixWorker struct {
	id    int
	rdb   *redis.Client
	rng   *rand.Rand
	own   string
	ownV  int64              // the value own holds: only this worker writes it
	seq   int64              // makes each MSET value unique
	acked [mixCounters]int64 // increments acknowledged, per counter
	seen  [mixCounters]int64 // highest value seen, per counter
	ops   [mixKinds]int64    // operations acknowledged, per kind
	errs  int64              // operations that failed or replied wrongly
	first []string           // the first few of those, for the report
	check []func() error     // the checks of the batch in flight
	pipe  redis.Pipeliner    // the batch in flight
	kinds []mixKind          // the kinds of the batch in flight
}

func mixCounterName(k int) string { return "mix:ctr:" + strconv.Itoa(k) }

func mixGroupKeys(g int) []string {
	keys := make([]string, len(mixGroupFields))
	for i, f := range mixGroupFields {
		keys[i] = fmt.Sprintf("mix:grp:%d:%s", g, f)
	}
	return keys
}

// newMixClient is a go-redis client with one connection and no retries: a
// retried INCR could count twice, and every failure must show.
func newMixClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, PoolSize: 1, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
	})
}

// run sends batches of depth operations until the deadline.
func (w *mixWorker) run(ctx context.Context, deadline time.Time, depth int) {
	for time.Now().Before(deadline) {
		w.pipe = w.rdb.Pipeline()
		w.check, w.kinds = w.check[:0], w.kinds[:0]
		for range depth {
			w.add(w.pick())
		}
		_, err := w.pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			w.fail(fmt.Errorf("pipeline of %d: %w", depth, err))
			w.errs += int64(len(w.check)) - 1
			continue
		}
		for i, c := range w.check {
			if err := c(); err != nil {
				w.fail(fmt.Errorf("%s: %w", mixNames[w.kinds[i]], err))
				continue
			}
			w.ops[w.kinds[i]]++
		}
	}
}

func (w *mixWorker) pick() mixKind {
	r := w.rng.IntN(100)
	for k, wt := range mixWeights {
		if r < wt {
			return mixKind(k)
		}
		r -= wt
	}
	return mixGetCounter
}

func (w *mixWorker) fail(err error) {
	w.errs++
	if len(w.first) < 5 {
		w.first = append(w.first, fmt.Sprintf("client %d: %v", w.id, err))
	}
}

// add queues one operation of kind k and the check of its reply. Checks run
// in the order the daemon executed the batch, so each may rely on what the
// earlier ones saw.
func (w *mixWorker) add(k mixKind) {
	ctx := context.Background()
	var check func() error
	switch k {
	case mixGetCounter:
		c := w.rng.IntN(mixCounters)
		cmd := w.pipe.Get(ctx, mixCounterName(c))
		check = func() error { return w.sawCounter(c, cmd.Int64, 0) }
	case mixIncr:
		c, d := w.rng.IntN(mixCounters), int64(1+w.rng.IntN(3))
		var cmd *redis.IntCmd
		if d == 1 {
			cmd = w.pipe.Incr(ctx, mixCounterName(c))
		} else {
			cmd = w.pipe.IncrBy(ctx, mixCounterName(c), d)
		}
		check = func() error { return w.incremented(c, d, cmd) }
	case mixSetOwn:
		w.ownV++
		v := w.ownV
		cmd := w.pipe.Set(ctx, w.own, v, 0)
		check = func() error { return mixWant(cmd.Result, "OK") }
	case mixGetOwn:
		cmd, want := w.pipe.Get(ctx, w.own), strconv.FormatInt(w.ownV, 10)
		check = func() error { return mixWant(cmd.Result, want) }
	case mixMSet:
		w.seq++
		check = w.addMSet(ctx, fmt.Sprintf("w%d:%d", w.id, w.seq))
	case mixMGet:
		cmd := w.pipe.MGet(ctx, mixGroupKeys(w.rng.IntN(mixGroups))...)
		check = func() error { return mixUntorn(cmd) }
	}
	w.check = append(w.check, check)
	w.kinds = append(w.kinds, k)
}

func (w *mixWorker) addMSet(ctx context.Context, v string) func() error {
	var pairs []any
	for _, k := range mixGroupKeys(w.rng.IntN(mixGroups)) {
		pairs = append(pairs, k, v)
	}
	cmd := w.pipe.MSet(ctx, pairs...)
	return func() error { return mixWant(cmd.Result, "OK") }
}

// incremented checks an INCRBY reply: other clients only add, so the new
// value is at least the highest value seen before plus d.
func (w *mixWorker) incremented(c int, d int64, cmd *redis.IntCmd) error {
	if err := w.sawCounter(c, cmd.Result, d); err != nil {
		return err
	}
	w.acked[c] += d
	return nil
}

// sawCounter checks that counter c reads at least min over the highest
// value seen before (counters never go down) and records it.
func (w *mixWorker) sawCounter(c int, result func() (int64, error), min int64) error {
	v, err := result()
	if err != nil {
		return err
	}
	if v < w.seen[c]+min {
		return fmt.Errorf("%s went from %d to %d (by %d)", mixCounterName(c), w.seen[c], v, min)
	}
	w.seen[c] = v
	return nil
}

func mixWant(result func() (string, error), want string) error {
	got, err := result()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// mixUntorn checks that an MGET of a group saw one MSET's value in all fields.
func mixUntorn(cmd *redis.SliceCmd) error {
	vals, err := cmd.Result()
	if err != nil {
		return err
	}
	for _, v := range vals {
		if v == nil || v != vals[0] {
			return fmt.Errorf("torn group: %v", vals)
		}
	}
	return nil
}

// TestLoadSaturating runs many clients, each with its own connection,
// doing a mix of GET, SET, INCR, INCRBY, MGET and MSET against one dsmd as
// fast as they can for DSM_LOAD_SECONDS (10 s by default). Every reply is
// checked as it arrives: a client reads back its own variable's last value,
// counters never go down and each INCRBY moves one by at least its delta,
// and no MGET sees a group half written. None may fail, and at the end
// every counter must equal the sum of the increments acknowledged.
func TestLoadSaturating(t *testing.T) {
	seconds := loadEnv(t, "DSM_LOAD_SECONDS", 10)
	clients := loadEnv(t, "DSM_LOAD_CLIENTS", 50)
	depth := loadEnv(t, "DSM_LOAD_PIPELINE", 1)
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "4096")
	ctx := context.Background()
	admin := newMixClient(d.addr)
	defer admin.Close()
	initMix(t, ctx, admin)

	workers := make([]*mixWorker, clients)
	for i := range workers {
		workers[i] = &mixWorker{
			id: i, rdb: newMixClient(d.addr), rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
			own: fmt.Sprintf("mix:own:%d", i),
		}
		defer workers[i].rdb.Close()
		if err := workers[i].rdb.Set(ctx, workers[i].own, 0, 0).Err(); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	start := time.Now()
	deadline := start.Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, deadline, depth) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	reportMix(t, workers, elapsed, depth)
	checkMixCounters(t, ctx, admin, workers)
	stopDaemon(t, d)
}

// initMix gives every counter 0 and every group one value.
func initMix(t *testing.T, ctx context.Context, rdb *redis.Client) {
	t.Helper()
	for c := range mixCounters {
		if err := rdb.Set(ctx, mixCounterName(c), 0, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for g := range mixGroups {
		var pairs []any
		for _, k := range mixGroupKeys(g) {
			pairs = append(pairs, k, "init")
		}
		if err := rdb.MSet(ctx, pairs...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// reportMix logs the throughput and fails the test for any error.
func reportMix(t *testing.T, workers []*mixWorker, elapsed time.Duration, depth int) {
	t.Helper()
	var ops [mixKinds]int64
	var total, errs int64
	var first []string
	for _, w := range workers {
		for k, n := range w.ops {
			ops[k] += n
			total += n
		}
		errs += w.errs
		first = append(first, w.first...)
	}
	var kinds []string
	for k, n := range ops {
		kinds = append(kinds, fmt.Sprintf("%s %d", mixNames[k], n))
	}
	t.Logf("saturating load: %d clients, pipeline depth %d, %v: %d operations, %.0f ops/s, %d errors (%s)",
		len(workers), depth, elapsed.Round(time.Millisecond), total, float64(total)/elapsed.Seconds(), errs,
		strings.Join(kinds, ", "))
	if errs > 0 {
		t.Errorf("%d operations failed; the first:\n%s", errs, strings.Join(first[:min(len(first), 10)], "\n"))
	}
	for k, n := range ops {
		if n == 0 {
			t.Errorf("no %s was acknowledged", mixNames[k])
		}
	}
}

// checkMixCounters compares every counter with the increments acknowledged.
func checkMixCounters(t *testing.T, ctx context.Context, rdb *redis.Client, workers []*mixWorker) {
	t.Helper()
	var sum int64
	for c := range mixCounters {
		var want int64
		for _, w := range workers {
			want += w.acked[c]
		}
		got, err := rdb.Get(ctx, mixCounterName(c)).Int64()
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; the acknowledged increments add up to %d", mixCounterName(c), got, err, want)
			return
		}
		sum += want
	}
	t.Logf("the %d counters hold exactly the %d increments acknowledged", mixCounters, sum)
}
