package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lockConn is one connection to node i of tc, for a lock holder.
func (tc *testCluster) lockConn(i int) *redis.Conn {
	tc.t.Helper()
	c := tc.client(i).Conn()
	tc.t.Cleanup(func() { c.Close() })
	return c
}

// lockToken takes locks with LOCK args... on c and returns the token.
func lockToken(t *testing.T, c *redis.Conn, args ...any) int64 {
	t.Helper()
	tok, err := c.Do(context.Background(), append([]any{"LOCK"}, args...)...).Int64()
	if err != nil || tok <= 0 {
		t.Fatalf("LOCK %v = %d, %v; want a positive token", args, tok, err)
	}
	return tok
}

// locksRows returns LOCKS on node i as name -> [mode, token, holder].
func locksRows(t *testing.T, tc *testCluster, i int) map[string][]any {
	t.Helper()
	v, err := tc.client(i).Do(context.Background(), "LOCKS").Slice()
	if err != nil {
		t.Fatalf("LOCKS on node %d: %v", i, err)
	}
	rows := make(map[string][]any)
	for _, r := range v {
		row := r.([]any)
		rows[row[0].(string)] = []any{row[1], row[3], row[4]}
	}
	return rows
}

func TestClusterLockThroughFollower(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	f := tc.follower()
	holder := tc.lockConn(f)
	tok := lockToken(t, holder, "WRITE", "LEASE", 20000, "x", "y")
	if err := holder.Set(ctx, "x", "mine", 0).Err(); err != nil {
		t.Fatalf("the holder's SET: %v", err)
	}
	// Every node lists the lock, with its token.
	for i := range tc.nodes {
		deadline := time.Now().Add(clusterWait)
		for {
			rows := locksRows(t, tc, i)
			if r := rows["x"]; r != nil && r[0] == "write" && r[1] == tok && strings.HasPrefix(r[2].(string), tc.nodes[f].id+" ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("LOCKS on node %d: %v; want x write-locked with token %d by %s", i, rows, tok, tc.nodes[f].id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Another client's write and read, on another node, wait for UNLOCK.
	other := (f + 1) % len(tc.nodes)
	done := make(chan string, 2)
	go func() {
		err := tc.client(other).Set(ctx, "x", "theirs", 0).Err()
		done <- "set " + errText(err)
	}()
	go func() {
		v, err := tc.client(other).Get(ctx, "y").Result()
		done <- "get " + v + errText(err)
	}()
	select {
	case got := <-done:
		t.Fatalf("%s ran while x and y were write-locked", got)
	case <-time.After(500 * time.Millisecond):
	}
	if err := holder.Set(ctx, "y", "held", 0).Err(); err != nil {
		t.Fatalf("the holder's second SET: %v", err)
	}
	if n, err := holder.Do(ctx, "UNLOCK").Int(); err != nil || n != 2 {
		t.Fatalf("UNLOCK = %d, %v; want 2", n, err)
	}
	got := map[string]bool{<-done: true, <-done: true}
	if !got["set "] || !got["get held"] {
		t.Fatalf("after UNLOCK: %v; want the SET done and the GET to read held", got)
	}
	if v, _ := tc.client(f).Get(ctx, "x").Result(); v != "theirs" {
		t.Fatalf("x = %q; want theirs, written after the unlock", v)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestClusterLockFencing(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	l, f := tc.leader(), tc.follower()
	first := tc.lockConn(f)
	t1 := lockToken(t, first, "LEASE", 300, "x")
	if err := tc.client(l).Do(ctx, "FENCED", t1, "SET", "x", "1").Err(); err != nil {
		t.Fatalf("FENCED with the holder's token, from another connection: %v", err)
	}
	// The lease ends; the next holder's token is newer.
	second := tc.lockConn(l)
	t2 := lockToken(t, second, "WAIT", 5000, "LEASE", 20000, "x")
	if t2 <= t1 {
		t.Fatalf("the second grant's token %d is not above the first's %d", t2, t1)
	}
	if err := first.Set(ctx, "x", "late", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOCKLOST") {
		t.Fatalf("the expired holder's SET: %v; want LOCKLOST", err)
	}
	for i := range tc.nodes {
		err := tc.client(i).Do(ctx, "FENCED", t1, "SET", "x", "stale").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "FENCED") {
			t.Fatalf("FENCED with the stale token through node %d: %v; want FENCED", i, err)
		}
	}
	if err := tc.client(f).Do(ctx, "FENCED", t2, "MSET", "x", "2", "z", "3").Err(); err != nil {
		t.Fatalf("FENCED with the current token: %v", err)
	}
	if v, _ := second.Get(ctx, "x").Result(); v != "2" {
		t.Fatalf("x = %q; want 2 (the stale writes refused)", v)
	}
	if err := tc.client(f).Do(ctx, "FENCED", "abc", "SET", "x", "1").Err(); err == nil {
		t.Fatal("FENCED took a token that is not a number")
	}
	if err := tc.client(f).Do(ctx, "FENCED", t2, "GET", "x").Err(); err == nil {
		t.Fatal("FENCED ran a read")
	}
}

func TestClusterLockWriterPriority(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	reader := tc.lockConn(0)
	lockToken(t, reader, "READ", "LEASE", 20000, "x")
	// A writer waits on node 1; a reader that comes later, on node 2,
	// must not go ahead of it.
	got := make(chan string, 2)
	var wg sync.WaitGroup
	for _, w := range []struct {
		node int
		mode string
	}{{1, "WRITE"}, {2, "READ"}} {
		c := tc.lockConn(w.node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Do(ctx, "LOCK", w.mode, "WAIT", 10000, "LEASE", 500, "x").Err(); err != nil {
				got <- w.mode + " " + err.Error()
				return
			}
			got <- w.mode
		}()
		if w.mode == "WRITE" {
			waitCluster(t, "node 2 sees the writer wait", func() bool { return locksRows(t, tc, 2)["x"] != nil && hasWaiter(t, tc, 2) })
		}
	}
	select {
	case g := <-got:
		t.Fatalf("%s granted while the first reader holds x and the writer waits", g)
	case <-time.After(300 * time.Millisecond):
	}
	if err := reader.Do(ctx, "UNLOCK").Err(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "WRITE" {
		t.Fatalf("first granted after the reader: %s; want the waiting writer", g)
	}
	if g := <-got; g != "READ" {
		t.Fatalf("then: %s; want the later reader, once the writer's lease ended", g)
	}
	wg.Wait()
}

func hasWaiter(t *testing.T, tc *testCluster, i int) bool {
	v, err := tc.client(i).Do(context.Background(), "LOCKS").Slice()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v {
		if strings.HasPrefix(r.([]any)[1].(string), "wait-") {
			return true
		}
	}
	return false
}

// waitCluster waits for cond as long as an election may take.
func waitCluster(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, clusterWait, what, cond)
}

func TestClusterLockReleasedWhenConnectionCloses(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	// A client of its own: closing it hangs up (a redis.Conn's Close
	// would only return the connection to the pool).
	holder := tc.client(tc.follower())
	if err := holder.Do(ctx, "LOCK", "LEASE", 60000, "x").Err(); err != nil {
		t.Fatal(err)
	}
	waiter := tc.lockConn(tc.leader())
	start := time.Now()
	got := make(chan error, 1)
	go func() { got <- waiter.Do(ctx, "LOCK", "WAIT", 20000, "x").Err() }()
	time.Sleep(200 * time.Millisecond)
	holder.Close()
	if err := <-got; err != nil {
		t.Fatalf("the waiter's LOCK after the holder hung up: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the waiter got the lock after %v: the closed connection's locks waited for their lease", d)
	}
	// A LOCK that cannot be granted within WAIT times out as on one host.
	err := tc.client(0).Do(ctx, "LOCK", "WAIT", 100, "x").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "TIMEOUT") {
		t.Fatalf("LOCK of a held variable with WAIT 100: %v; want TIMEOUT", err)
	}
	if hasWaiter(t, tc, 0) {
		t.Fatal("the timed-out request still waits in the table")
	}
}

// TestClusterLockSurvivesLeaderLoss kills the leader while a lock is held
// and another client waits: the lock stays held on the new leader, and the
// waiter gets it only when the lease, given its full length again by the
// new leader, has ended: never sooner than the holder was promised.
func TestClusterLockSurvivesLeaderLoss(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	l := tc.leader()
	h, w := (l+1)%3, (l+2)%3
	const lease = 2 * time.Second
	holder := tc.lockConn(h)
	asked := time.Now()
	t1 := lockToken(t, holder, "LEASE", lease.Milliseconds(), "x")
	waiter := tc.lockConn(w)
	got := make(chan int64, 1)
	go func() {
		tok, err := waiter.Do(ctx, "LOCK", "WAIT", 30000, "LEASE", 20000, "x").Int64()
		if err != nil {
			t.Error(err)
		}
		got <- tok
	}()
	waitCluster(t, "the waiter queued", func() bool { return hasWaiter(t, tc, w) })
	tc.kill(l)
	nl := tc.leader()
	if nl == l {
		t.Fatal("the killed node leads")
	}
	if err := holder.Set(ctx, "x", "after the failover", 0).Err(); err != nil {
		t.Fatalf("the holder's SET after the leader died: %v", err)
	}
	t2 := <-got
	if held := time.Since(asked); held < lease {
		t.Fatalf("the waiter got the lock %v after the holder asked: shorter than its lease %v", held, lease)
	}
	if t2 <= t1 {
		t.Fatalf("token %d after %d", t2, t1)
	}
	if err := holder.Set(ctx, "x", "late", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOCKLOST") {
		t.Fatalf("the first holder's SET after its lease: %v; want LOCKLOST", err)
	}
	// The restarted node rebuilds the same table.
	tc.restart(l)
	waitCluster(t, "the restarted node lists the lock", func() bool {
		r := locksRows(t, tc, l)["x"]
		return r != nil && r[1] == t2
	})
}
