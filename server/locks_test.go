package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dsm-dev/dsm/shm"
)

// pending runs do on a new goroutine and returns a channel that gets its
// result.
func pending(do func() string) <-chan string {
	ch := make(chan string, 1)
	go func() { ch <- do() }()
	return ch
}

// mustWait checks that ch stays silent for a while (the operation waits).
func mustWait(t *testing.T, what string, ch <-chan string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s did not wait: %q", what, r)
	case <-time.After(150 * time.Millisecond):
	}
}

// mustGet returns ch's result, failing after 5 s.
func mustGet(t *testing.T, what string, ch <-chan string) string {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still waits", what)
	}
	return ""
}

// TestLockExcludes: while a client holds a write lock, another client's
// write and a local process' write wait, and the holder's own commands on
// the locked variables pass; UNLOCK lets the others through.
func TestLockExcludes(t *testing.T) {
	ts := startServer(t, Config{})
	local := openLocal(t, ts)
	holder, other := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	if got := holder.do("LOCK", "WRITE", "x", "y"); got != okReply {
		t.Fatalf("LOCK = %q", got)
	}
	remote := pending(func() string { return other.do("SET", "x", "remote") })
	localDone := pending(func() string {
		_, err := local.Set([]byte("y"), shm.Bytes([]byte("local")))
		return fmt.Sprint(err)
	})
	mustWait(t, "a remote SET of a locked variable", remote)
	mustWait(t, "a local Set of a locked variable", localDone)
	// Walks over every variable do not wait for the locks.
	third := dialRaw(t, ts.addr)
	for _, cmd := range []string{"DBSIZE", "INFO"} {
		if got := third.do(cmd); strings.HasPrefix(got, "-") {
			t.Errorf("%s while variables are locked = %q", cmd, got)
		}
	}
	for _, step := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"SET", "x", "1"}, okReply},
		{[]string{"INCR", "x"}, integer(2)},
		{[]string{"MSET", "x", "5", "y", "6"}, okReply},
		{[]string{"MGET", "x", "y"}, "*2\r\n" + bulk("5") + bulk("6")},
		{[]string{"GET", "z"}, null2},
		{[]string{"MGET", "x", "z"}, errReply(msgLockMixed)},
		{[]string{"KEYS", "*"}, "*2\r\n" + bulk("x") + bulk("y")},
		{[]string{"LOCK", "q"}, errReply(msgHolding)},
		{[]string{"LOCKS"}, ""},
	} {
		got := holder.do(step.cmd...)
		if step.want != "" && got != step.want {
			t.Errorf("holder %v = %q, want %q", step.cmd, got, step.want)
		}
		if step.want == "" && step.cmd[0] == "LOCKS" && !strings.Contains(got, "$1\r\nx\r\n$5\r\nwrite\r\n:") {
			t.Errorf("LOCKS = %q", got)
		}
	}
	if got := holder.do("UNLOCK", "x"); !strings.HasPrefix(got, "-ERR UNLOCK must name every variable") {
		t.Errorf("UNLOCK x of {x y} = %q", got)
	}
	if got := holder.do("UNLOCK"); got != integer(2) {
		t.Errorf("UNLOCK = %q", got)
	}
	if got := mustGet(t, "remote SET", remote); got != okReply {
		t.Errorf("remote SET after UNLOCK = %q", got)
	}
	if got := mustGet(t, "local Set", localDone); got != "<nil>" {
		t.Errorf("local Set after UNLOCK: %s", got)
	}
	if got := other.do("MGET", "x", "y"); got != "*2\r\n"+bulk("remote")+bulk("local") {
		t.Errorf("after both writes: %q", got)
	}
	if got := holder.do("UNLOCK"); got != integer(0) {
		t.Errorf("UNLOCK with nothing locked = %q", got)
	}
}

// TestLockReadShares: read locks share with each other and with plain
// reads, keep writers out, and refuse the holder's own writes.
func TestLockReadShares(t *testing.T) {
	ts := startServer(t, Config{})
	a, b, w := dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	w.do("SET", "x", "1")
	for _, c := range []*rawClient{a, b} {
		if got := c.do("LOCK", "READ", "WAIT", "1000", "x"); got != okReply {
			t.Fatalf("LOCK READ = %q", got)
		}
	}
	if got := w.do("GET", "x"); got != bulk("1") {
		t.Errorf("GET under read locks = %q", got)
	}
	if got := a.do("SET", "x", "2"); !strings.Contains(got, "locked for reading") {
		t.Errorf("SET by a read holder = %q", got)
	}
	if got := w.do("LOCK", "WAIT", "100", "x"); !strings.HasPrefix(got, "-TIMEOUT") {
		t.Errorf("LOCK WRITE under read locks = %q, want TIMEOUT", got)
	}
	a.do("UNLOCK")
	b.do("UNLOCK")
	if got := w.do("LOCK", "WAIT", "1000", "x"); got != okReply {
		t.Errorf("LOCK WRITE after the readers left = %q", got)
	}
}

// TestLockWriterPriority: once a writer waits for a read-locked variable,
// a reader that comes after it waits behind it.
func TestLockWriterPriority(t *testing.T) {
	ts := startServer(t, Config{})
	r1, wr, r2 := dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	if got := r1.do("LOCK", "READ", "x"); got != okReply {
		t.Fatalf("first LOCK READ = %q", got)
	}
	writer := pending(func() string { return wr.do("LOCK", "WRITE", "WAIT", "5000", "x") })
	waitFor(t, "the writer to wait", func() bool { return writerWaits(ts) })
	reader := pending(func() string { return r2.do("LOCK", "READ", "WAIT", "5000", "x") })
	mustWait(t, "a reader behind a waiting writer", reader)
	r1.do("UNLOCK")
	if got := mustGet(t, "the writer", writer); got != okReply {
		t.Fatalf("writer's LOCK = %q", got)
	}
	mustWait(t, "a reader while the writer holds", reader)
	wr.do("UNLOCK")
	if got := mustGet(t, "the second reader", reader); got != okReply {
		t.Errorf("second reader's LOCK = %q", got)
	}
}

// writerWaits reports whether some connection is running LOCK (it waits:
// its last command is lock and it holds nothing).
func writerWaits(ts *testServer) bool {
	for _, c := range ts.connsByID() {
		if p := c.lastCmd.Load(); p != nil && *p == "lock" && c.live.hold.Load() == nil {
			return true
		}
	}
	return false
}

// TestLockReleasedOnDisconnect: a holder that disconnects releases its
// locks, and a client that hangs up while it waits for a lock stops
// waiting at once.
func TestLockReleasedOnDisconnect(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "x")
	waiter.send(encode("LOCK", "WAIT", "20000", "x"))
	waitFor(t, "the waiter to wait", func() bool { return writerWaits(ts) })
	waiter.c.Close()
	waitFor(t, "the server to drop the waiter", func() bool { return ts.clientCount() == 1 })
	holder.c.Close()
	third := dialRaw(t, ts.addr)
	if got := third.do("LOCK", "WAIT", "2000", "x"); got != okReply {
		t.Errorf("LOCK after the holder left = %q", got)
	}
}

// TestLockLease: a holder that stalls past its lease loses its locks to
// the server's timer; its later commands on them fail with LOCKLOST.
func TestLockLease(t *testing.T) {
	ts := startServer(t, Config{})
	holder, other := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	if got := holder.do("LOCK", "LEASE", "200", "x"); got != okReply {
		t.Fatalf("LOCK = %q", got)
	}
	start := time.Now()
	if got := other.do("LOCK", "WAIT", "3000", "x"); got != okReply {
		t.Fatalf("LOCK after the lease = %q", got)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("the lock came free after %v, before the lease ended", d)
	}
	if got := holder.do("SET", "x", "1"); got != errReply(msgLockLost) {
		t.Errorf("SET after the lease = %q", got)
	}
	if got := holder.do("LOCKS"); !strings.Contains(got, "lost") {
		t.Errorf("LOCKS after the lease = %q", got)
	}
	if got := holder.do("UNLOCK"); got != errReply(msgLockLost) {
		t.Errorf("UNLOCK after the lease = %q", got)
	}
	other.do("UNLOCK")
	if got := holder.do("LOCK", "x"); got != okReply {
		t.Errorf("LOCK again = %q", got)
	}
}

// TestLockBadArguments: option errors are clear.
func TestLockBadArguments(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"LOCK", "WAIT", "x", "a"}, "-ERR WAIT takes milliseconds"},
		{[]string{"LOCK", "LEASE", "0", "a"}, "-ERR LEASE must be at least 1 ms"},
		{[]string{"LOCK", "READ"}, "-ERR wrong number of arguments"},
		{[]string{"LOCK", "WAIT", "10"}, "-ERR syntax error"},
		{[]string{"LOCK", ""}, "-ERR empty variable name"},
		{[]string{"UNLOCK", "a"}, ":0"},
	} {
		if got := c.do(tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q = %q, want %q...", tc.args, got, tc.want)
		}
	}
}

// TestLockCounterMutualExclusion: remote clients (LOCK, GET, SET, UNLOCK)
// and a local process (shm Lock group) do read-modify-write on one counter
// under the lock; no update is lost.
func TestLockCounterMutualExclusion(t *testing.T) {
	ts := startServer(t, Config{})
	local := openLocal(t, ts)
	const clients, rounds, localRounds = 4, 40, 100
	var wg sync.WaitGroup
	for range clients {
		c := dialRaw(t, ts.addr)
		wg.Go(func() {
			for range rounds {
				if !lockedIncrement(t, c) {
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range localRounds {
			g, err := local.Lock(context.Background(), [][]byte{[]byte("n")}, true, true)
			if err != nil {
				t.Errorf("local Lock: %v", err)
				return
			}
			it, _ := g.Get([]byte("n"))
			v, _ := it.Value.Int()
			time.Sleep(50 * time.Microsecond) // widen the window a lost update needs
			g.Set([]byte("n"), shm.Int(v+1))
			g.Commit()
			g.Unlock()
		}
	})
	wg.Wait()
	v, _, err := local.Get([]byte("n"))
	if n, _ := v.Int(); err != nil || n != clients*rounds+localRounds {
		t.Errorf("counter = %v (%v), want %d", v, err, clients*rounds+localRounds)
	}
}

// lockedIncrement reads n and writes n+1 under a write lock.
func lockedIncrement(t *testing.T, c *rawClient) bool {
	if got := c.do("LOCK", "WAIT", "10000", "n"); got != okReply {
		t.Errorf("LOCK = %q", got)
		return false
	}
	r := c.do("GET", "n")
	n := 0
	if r != null2 {
		n, _ = strconv.Atoi(strings.Split(r, "\r\n")[1])
	}
	c.do("SET", "n", strconv.Itoa(n+1))
	if got := c.do("UNLOCK"); got != integer(1) {
		t.Errorf("UNLOCK = %q", got)
		return false
	}
	return true
}

// TestLockRandomSetsNoDeadlock: clients lock random sets of variables,
// named in random orders, increment each and unlock; all finish, and every
// variable counts exactly the increments made under its lock.
func TestLockRandomSetsNoDeadlock(t *testing.T) {
	ts := startServer(t, Config{})
	const clients, rounds, vars = 8, 60, 6
	want := make([][vars]int, clients)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		rdb := newRedis(t, ts.addr, 3, "")
		conn := rdb.Conn()
		defer conn.Close()
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		wg.Go(func() {
			for range rounds {
				names := rng.Perm(vars)[:1+rng.IntN(vars)]
				if !randomRound(t, ctx, conn, names) {
					return
				}
				for _, n := range names {
					want[i][n]++
				}
			}
		})
	}
	wg.Wait()
	rdb := newRedis(t, ts.addr, 3, "")
	for n := range vars {
		total := 0
		for i := range clients {
			total += want[i][n]
		}
		got, _ := rdb.Get(ctx, "v"+strconv.Itoa(n)).Int()
		if got != total {
			t.Errorf("v%d = %d, want %d", n, got, total)
		}
	}
}

func randomRound(t *testing.T, ctx context.Context, conn *redis.Conn, names []int) bool {
	args := []any{"LOCK", "WAIT", "20000"}
	for _, n := range names {
		args = append(args, "v"+strconv.Itoa(n))
	}
	if err := conn.Do(ctx, args...).Err(); err != nil {
		t.Errorf("%v: %v", args, err)
		return false
	}
	for _, n := range names {
		if err := conn.Incr(ctx, "v"+strconv.Itoa(n)).Err(); err != nil {
			t.Errorf("INCR under the lock: %v", err)
			return false
		}
	}
	if err := conn.Do(ctx, "UNLOCK").Err(); err != nil {
		t.Errorf("UNLOCK: %v", err)
		return false
	}
	return true
}

// TestLockHolderKilled: when dsmd is killed (SIGKILL) while a client holds
// a write lock, lockd's recovery releases it: a local process can write the
// variable within a few seconds.
func TestLockHolderKilled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "1024")
	c := dialRaw(t, d.addr)
	if got := c.do("LOCK", "LEASE", "600000", "x"); got != okReply {
		t.Fatalf("LOCK = %q", got)
	}
	local, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	blocked := pending(func() string {
		_, err := local.Set([]byte("x"), shm.Int(1))
		return fmt.Sprint(err)
	})
	mustWait(t, "a local write under the daemon's client lock", blocked)
	d.kill()
	<-d.exited
	if got := mustGet(t, "the local write after the kill", blocked); got != "<nil>" {
		t.Errorf("local write after the kill: %s", got)
	}
}

// TestShutdownEndsLockWaits: Shutdown does not wait for LOCKs that wait
// (for a lock whose holder is idle) to time out.
func TestShutdownEndsLockWaits(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "LEASE", "60000", "x")
	waiter.send(encode("LOCK", "WAIT", "60000", "x"))
	waitFor(t, "the waiter to wait", func() bool { return writerWaits(ts) })
	start := time.Now()
	ts.stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a LOCK waiting", d)
	}
}

// TestExecByLockHolder: a transaction on variables the connection has
// locked runs through its locks; one that mixes locked and other
// variables is refused.
func TestExecByLockHolder(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	c.do("LOCK", "a", "b")
	if got := c.do("WATCH", "a"); got != okReply {
		t.Fatalf("WATCH of a locked variable = %q", got)
	}
	c.do("MULTI")
	c.do("INCR", "a")
	c.do("INCRBY", "b", "2")
	if got := c.do("EXEC"); got != "*2\r\n"+integer(1)+integer(2) {
		t.Errorf("EXEC on locked variables = %q", got)
	}
	c.do("MULTI")
	c.do("SET", "a", "1")
	c.do("SET", "other", "1")
	if got := c.do("EXEC"); got != errReply(msgLockMixed) {
		t.Errorf("EXEC mixing locked and other variables = %q", got)
	}
}

// TestHeldCommandsMatchPlain: SET with NX, XX and GET, and the INCR/DECR
// family, give the same replies on variables the client holds (they run
// through its lock group) as on variables nobody holds, overflow and
// argument errors included.
func TestHeldCommandsMatchPlain(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	steps := [][]string{
		{"SET", "a", "1"}, {"SET", "a", "2", "NX"}, {"SET", "a", "3", "XX", "GET"},
		{"SET", "b", "4", "XX"}, {"SET", "b", "5", "NX", "GET"}, {"GET", "a"}, {"GET", "b"},
		{"INCR", "a"}, {"DECR", "a"}, {"INCRBY", "a", "7"}, {"DECRBY", "a", "10"},
		{"DECRBY", "a", "-9223372036854775808"}, {"INCRBY", "a", "x"}, {"INCR", "n"}, {"DECR", "m"},
	}
	run := func(prefix string) []string {
		var out []string
		for _, st := range steps {
			args := slices.Clone(st)
			args[1] = prefix + args[1]
			out = append(out, c.do(args...))
		}
		return out
	}
	plain := run("p")
	if got := c.do("LOCK", "ha", "hb", "hn", "hm"); got != okReply {
		t.Fatalf("LOCK = %q", got)
	}
	held := run("h")
	want := []string{
		okReply, null2, bulk("1"), null2, null2, bulk("3"), bulk("5"),
		integer(4), integer(3), integer(10), integer(0),
		errReply(msgDecrOverflow), errReply(msgNotInteger), integer(1), integer(-1),
	}
	for i := range steps {
		if plain[i] != want[i] {
			t.Errorf("%q on a free variable = %q, want %q", steps[i], plain[i], want[i])
		}
		if held[i] != want[i] {
			t.Errorf("%q on a held variable = %q, want %q", steps[i], held[i], want[i])
		}
	}
}

// TestClientListShowsLiveState: CLIENT LIST and INFO show subscriptions,
// locks and transactions.
func TestClientListShowsLiveState(t *testing.T) {
	ts := startServer(t, Config{})
	holder, sub, tx, admin := dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	holder.do("LOCK", "a", "b")
	sub.do("SUBSCRIBE", "__dsm__:a")
	sub.do("PSUBSCRIBE", "__dsm__:*", "__dsm__:b*")
	tx.do("MULTI")
	tx.do("GET", "c")
	list := admin.do("CLIENT", "LIST")
	for _, want := range []string{
		"flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 locks=2 cmd=lock",
		"flags=P db=0 sub=1 psub=2 ssub=0 multi=-1 locks=0",
		"flags=x db=0 sub=0 psub=0 ssub=0 multi=1 locks=0",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("CLIENT LIST lacks %q:\n%s", want, list)
		}
	}
	info := admin.do("INFO", "clients")
	for _, want := range []string{"pubsub_clients:1", "dsm_lock_holders:1", "dsm_locked_vars:2"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO clients lacks %q:\n%s", want, info)
		}
	}
}

// TestLockHoldersBounded: at most half of the file's lanes hold LOCKs at
// once (here 1 of 2), so MGET, MSET and EXEC always find a lane; one LOCK
// more, whose variables are free, fails with the error that says the lanes
// ran out and names the flag, or gets its locks if a holder leaves within
// its WAIT.
func TestLockHoldersBounded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	m, err := shm.Open(shm.Config{Path: file, Vars: 64, Lanes: 2})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	ts := startServer(t, Config{File: file})
	a, b := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	if got := a.do("LOCK", "x"); got != okReply {
		t.Fatalf("first LOCK = %q", got)
	}
	if got := b.do("LOCK", "WAIT", "100", "y"); !isNoLane(got) {
		t.Errorf("LOCK beyond the holders' lanes = %q, want the no-lane error", got)
	}
	if got := b.do("MSET", "p", "1", "q", "2"); got != okReply {
		t.Errorf("MSET while a LOCK holds = %q", got)
	}
	second := pending(func() string { return b.do("LOCK", "WAIT", "5000", "y") })
	mustWait(t, "a LOCK beyond the holders' lanes", second)
	a.do("UNLOCK")
	if got := mustGet(t, "the second LOCK", second); got != okReply {
		t.Errorf("LOCK after the holder left = %q", got)
	}
}

// isNoLane reports whether a reply is the error for lanes run out, which
// names the flag that gives more.
func isNoLane(reply string) bool {
	return strings.HasPrefix(reply, "-ERR no free lock lane: all ") && strings.Contains(reply, "-lock-lanes ")
}

// TestLockWaitersHoldNoLane: twenty LOCKs waiting for one held variable,
// writers and readers, more than the default file's 16 lanes and 8 holder
// slots, keep neither from anyone: a LOCK of a free variable, MGET and
// MSET go ahead at once, and once the holder leaves every waiter gets the
// variable in turn.
func TestLockWaitersHoldNoLane(t *testing.T) {
	ts := startServer(t, Config{})
	holder := dialRaw(t, ts.addr)
	if got := holder.do("LOCK", "x"); got != okReply {
		t.Fatalf("holder's LOCK = %q", got)
	}
	const waiters = 20
	replies := make(chan string, waiters)
	for i := range waiters {
		w := dialRaw(t, ts.addr)
		mode := []string{"WRITE", "READ"}[i%2]
		go func() {
			got := w.do("LOCK", mode, "WAIT", "20000", "x")
			if got == okReply {
				w.do("UNLOCK")
			}
			replies <- mode + ": " + got
		}()
	}
	waitFor(t, "20 LOCKs to wait", func() bool { return lockWaiters(ts) == waiters })
	other := dialRaw(t, ts.addr)
	if got := other.do("LOCK", "WAIT", "1000", "y"); got != okReply {
		t.Errorf("LOCK of a free variable while %d LOCKs wait = %q", waiters, got)
	}
	other.do("UNLOCK")
	if got := other.do("MSET", "p", "1", "q", "2"); got != okReply {
		t.Errorf("MSET while %d LOCKs wait = %q", waiters, got)
	}
	holder.do("UNLOCK")
	for range waiters {
		if got := <-replies; !strings.HasSuffix(got, okReply) {
			t.Errorf("a waiting LOCK %s", got)
		}
	}
}

// lockWaiters counts the connections running LOCK that hold nothing yet.
func lockWaiters(ts *testServer) int {
	n := 0
	for _, c := range ts.connsByID() {
		if p := c.lastCmd.Load(); p != nil && *p == "lock" && c.live.hold.Load() == nil {
			n++
		}
	}
	return n
}

// TestLockLanesExhausted: with the default file, eight holders take every
// lane LOCK may hold; a ninth LOCK of a free variable gets the error that
// says so and names -lock-lanes, at once with WAIT 0, while MSET still
// runs.
func TestLockLanesExhausted(t *testing.T) {
	ts := startServer(t, Config{})
	for i := range 8 {
		if got := dialRaw(t, ts.addr).do("LOCK", "v"+strconv.Itoa(i)); got != okReply {
			t.Fatalf("holder %d's LOCK = %q", i+1, got)
		}
	}
	c := dialRaw(t, ts.addr)
	got := c.do("LOCK", "WAIT", "0", "free")
	if !isNoLane(got) || !strings.Contains(got, "all 8 lanes for LOCK") {
		t.Errorf("ninth LOCK = %q, want the no-lane error for 8 lanes", got)
	}
	if got := c.do("MSET", "p", "1", "q", "2"); got != okReply {
		t.Errorf("MSET while 8 LOCKs hold = %q", got)
	}
}

// TestLockLanesSetting: Config.LockLanes sizes a new file's lanes, and so
// how many clients may hold LOCKs at once (half of them: here 20, more
// than the default 8); a file that exists keeps its own count.
func TestLockLanesSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	ts := startServer(t, Config{File: file, LockLanes: 40})
	if got := ts.mem.Limits().Lanes; got != 40 {
		t.Fatalf("lanes of a file created with LockLanes 40 = %d", got)
	}
	for i := range 20 {
		if got := dialRaw(t, ts.addr).do("LOCK", "WAIT", "0", "v"+strconv.Itoa(i)); got != okReply {
			t.Fatalf("LOCK %d of 20 = %q", i+1, got)
		}
	}
	ts.stop(t)
	again := startServer(t, Config{File: file, LockLanes: 4})
	if got := again.mem.Limits().Lanes; got != 40 {
		t.Errorf("lanes of the existing file reopened with LockLanes 4 = %d, want its own 40", got)
	}
}

// TestSlotWaitersHoldNoLane: LOCKs waiting for a holder slot hold no lane
// of the file, so that holders and waiters together never take more than
// the half of the lanes that is LOCK's: MSET still finds one at once.
func TestSlotWaitersHoldNoLane(t *testing.T) {
	ts := startServer(t, Config{LockLanes: 4}) // 2 holder slots
	for _, name := range []string{"a", "b"} {
		if got := dialRaw(t, ts.addr).do("LOCK", name); got != okReply {
			t.Fatalf("LOCK %s = %q", name, got)
		}
	}
	for _, name := range []string{"c", "d"} {
		dialRaw(t, ts.addr).send(encode("LOCK", "WAIT", "5000", name))
	}
	waitFor(t, "both to wait for a slot", func() bool {
		n := 0
		for _, c := range ts.connsByID() {
			if p := c.lastCmd.Load(); p != nil && *p == "lock" && c.live.hold.Load() == nil {
				n++
			}
		}
		return n == 2
	})
	time.Sleep(50 * time.Millisecond) // let them take their locks, if they would
	start := time.Now()
	if got := dialRaw(t, ts.addr).do("MSET", "e", "1", "f", "2"); got != okReply {
		t.Errorf("MSET while LOCKs wait for a slot = %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("MSET took %v: it waited for a lane the slot waiters held", d)
	}
}
