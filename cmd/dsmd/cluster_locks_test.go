package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// holding is one lock holder's interval, as the holder saw it: from the
// grant's reply to its UNLOCK, or to the end of its lease counted from
// when it asked (whichever came first; the lease's end when the UNLOCK
// failed).
type holding struct {
	token      int64
	from, to   time.Time
	worker     int
	unlockedOK bool
}

// TestClusterLocksSurviveKill9 has clients take a write lock on one
// variable through every node of three dsmd processes, hold it a while and
// release it (or outlive their lease, now and then), while the leader is
// killed with SIGKILL and restarted. No two holders' intervals overlap,
// tokens rise with the grants, a holder whose lease ended gets LOCKLOST
// and its fenced write is refused, and the variable the holders increment
// under the lock lost no acknowledged increment.
func TestClusterLocksSurviveKill9(t *testing.T) {
	bin := buildDsmd(t)
	nodes, peers := startProcCluster(t, bin)
	ctx := context.Background()
	clients := make([]*redis.Client, len(nodes))
	for i, p := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, MaxRetries: -1, ReadTimeout: 30 * time.Second})
		defer clients[i].Close()
	}
	waitLeader := func() int {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			for i, c := range clients {
				if nodes[i].cmd == nil {
					continue
				}
				if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && role[0] == "master" {
					return i
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("no leader")
		return -1
	}
	waitLeader()

	const lease = 1500 * time.Millisecond
	var (
		mu       sync.Mutex
		held     []holding
		acked    int64 // increments acknowledged under the lock
		fenced   int   // stale fenced writes refused
		lost     int   // LOCKLOST seen by a holder past its lease
		failures []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				c := clients[(w+k)%len(clients)]
				h, ok := holdOnce(ctx, c, clients[(w+k+1)%len(clients)], w, k, lease)
				mu.Lock()
				switch {
				case h.err != "":
					failures = append(failures, h.err)
				case ok:
					held = append(held, h.holding)
					acked += h.incr
					fenced += h.fenced
					lost += h.lost
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	l := waitLeader()
	t.Logf("kill -9 of the leader at %v", time.Now().Format("05.000"))
	nodes[l].kill() // kill -9 while locks are held and waited for
	time.Sleep(4 * time.Second)
	nodes[l].start(t, bin, peers)
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d failures: %s", len(failures), strings.Join(failures, "\n"))
	}
	if len(held) < 10 || lost == 0 || fenced == 0 {
		t.Fatalf("%d grants, %d LOCKLOST, %d fenced refusals: too few to show anything", len(held), lost, fenced)
	}
	slices.SortFunc(held, func(a, b holding) int { return a.from.Compare(b.from) })
	for i := 1; i < len(held); i++ {
		a, b := held[i-1], held[i]
		if b.from.Before(a.to) {
			t.Fatalf("holders overlap: worker %d (token %d) held %v..%v, worker %d (token %d) got it at %v",
				a.worker, a.token, a.from.Format("15:04:05.000"), a.to.Format("15:04:05.000"), b.worker, b.token, b.from.Format("15:04:05.000"))
		}
		if b.token <= a.token {
			t.Fatalf("token %d granted after token %d", b.token, a.token)
		}
	}
	var n int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := clients[(l+1)%3].Get(ctx, "x").Int64()
		if err == nil {
			n = v
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n < acked {
		t.Fatalf("counter %d below the %d acknowledged increments", n, acked)
	}
	t.Logf("%d grants, %d acknowledged increments (counter %d), %d LOCKLOST, %d stale fenced writes refused", len(held), acked, n, lost, fenced)
}

// holdResult is one round of a lock worker.
type holdResult struct {
	holding
	incr         int64
	fenced, lost int
	err          string
}

// holdOnce takes the lock through c, increments the counter under it,
// and releases it, or, every fifth round, outlives its lease and checks
// that its writes are refused. other is another node, for fenced writes.
// It reports false when the lock was not taken (a failover's errors).
func holdOnce(ctx context.Context, c, other *redis.Client, worker, round int, lease time.Duration) (holdResult, bool) {
	conn := c.Conn()
	defer conn.Close()
	asked := time.Now()
	tok, err := conn.Do(ctx, "LOCK", "WAIT", 10000, "LEASE", lease.Milliseconds(), "x").Int64()
	if err != nil {
		time.Sleep(50 * time.Millisecond)
		return holdResult{}, false
	}
	r := holdResult{holding: holding{token: tok, from: time.Now(), to: asked.Add(lease), worker: worker}}
	if _, err := conn.Incr(ctx, "x").Result(); err == nil {
		r.incr++
	}
	if round%5 == 4 {
		time.Sleep(lease + 300*time.Millisecond)
		err := conn.Incr(ctx, "x").Err()
		if err == nil {
			// Still held: a new leader gave the lease its full length
			// again. The holder held it until now, as far as exclusion
			// goes.
			r.incr++
			r.to = time.Now()
		} else if strings.HasPrefix(err.Error(), "LOCKLOST") {
			r.lost++
		}
		// Once someone else was granted the lock, the stale token's write
		// is refused.
		for range 100 {
			err = other.Do(ctx, "FENCED", tok, "INCR", "x").Err()
			if err != nil && strings.HasPrefix(err.Error(), "FENCED") {
				r.fenced++
				break
			}
			if err == nil {
				r.incr++ // no newer grant yet: the fenced write ran
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Do(ctx, "UNLOCK")
		return r, true
	}
	time.Sleep(time.Duration(round%4) * 50 * time.Millisecond)
	unlocked := time.Now()
	if err := conn.Do(ctx, "UNLOCK").Err(); err == nil && unlocked.Before(r.to) {
		r.to, r.unlockedOK = unlocked, true
	} else if err != nil && !isFailover(err) && !strings.HasPrefix(err.Error(), "LOCKLOST") {
		r.err = fmt.Sprintf("UNLOCK: %v", err)
	}
	return r, true
}

// isFailover reports whether err is what a client sees while the leader
// changes: no leader yet, an unknown outcome, or a broken connection.
func isFailover(err error) bool {
	var ne interface{ Timeout() bool }
	return strings.HasPrefix(err.Error(), "CLUSTERDOWN") || strings.HasPrefix(err.Error(), "UNCERTAIN") ||
		errors.As(err, &ne) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "connection refused")
}
