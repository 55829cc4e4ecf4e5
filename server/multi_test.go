package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dsm-dev/dsm/shm"
)

// TestMultiExecRaw checks transactions byte for byte against Redis 7's
// replies: queuing, EXEC's array, errors at run time inside it, and the
// errors of misplaced commands.
func TestMultiExecRaw(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	long := strings.Repeat("n", 200)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"EXEC"}, errReply(msgExecNoMulti)},
		{[]string{"DISCARD"}, errReply(msgDiscardNoMulti)},
		{[]string{"MULTI"}, okReply},
		{[]string{"MULTI"}, errReply(msgNestedMulti)},
		{[]string{"WATCH", "a"}, errReply(msgWatchInMulti)},
		{[]string{"SET", "a", "1"}, simple("QUEUED")},
		{[]string{"INCR", "a"}, simple("QUEUED")},
		{[]string{"SET", "s", "text"}, simple("QUEUED")},
		{[]string{"INCR", "s"}, simple("QUEUED")},
		{[]string{"MGET", "a", "s", "none"}, simple("QUEUED")},
		{[]string{"PING"}, simple("QUEUED")},
		{[]string{"EXEC"}, "*6\r\n" + okReply + integer(2) + okReply + errReply(msgNotInteger) +
			"*3\r\n" + bulk("2") + bulk("text") + null2 + simple("PONG")},
		{[]string{"MULTI"}, okReply},
		{[]string{"SET", "a", "9"}, simple("QUEUED")},
		{[]string{"DISCARD"}, okReply},
		{[]string{"GET", "a"}, bulk("2")},
		// Errors while queuing doom the transaction.
		{[]string{"MULTI"}, okReply},
		{[]string{"SET", "a", "9"}, simple("QUEUED")},
		{[]string{"NOSUCH", "x"}, errReply("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")},
		{[]string{"EXEC"}, errReply(msgExecAbort)},
		{[]string{"MULTI"}, okReply},
		{[]string{"GET"}, errReply("ERR wrong number of arguments for 'get' command")},
		{[]string{"EXEC"}, errReply(msgExecAbort)},
		{[]string{"MULTI"}, okReply},
		{[]string{"LOCK", "a"}, errReply(msgNotInMulti)},
		{[]string{"EXEC"}, errReply(msgExecAbort)},
		{[]string{"GET", "a"}, bulk("2")},
		{[]string{"MULTI"}, okReply},
		{[]string{"EXEC"}, "*0\r\n"},
		// A name no variable can have reads as missing and cannot be set.
		{[]string{"WATCH", long}, okReply},
		{[]string{"MULTI"}, okReply},
		{[]string{"GET", long}, simple("QUEUED")},
		{[]string{"SET", long, "1"}, simple("QUEUED")},
		{[]string{"EXEC"}, "*2\r\n" + null2 + "-ERR variable name is too long"},
	}
	for _, s := range steps {
		if got := c.do(s.args...); got != s.want && !(strings.HasPrefix(got, s.want) && strings.HasSuffix(s.want, "too long")) {
			t.Errorf("%q = %q, want %q", s.args, got, s.want)
		}
	}
}

// TestWatchAborts: EXEC answers null (RESP2 *-1, RESP3 _) when a watched
// variable changed after WATCH, by another client or a local process, and
// runs when nothing changed; UNWATCH forgets.
func TestWatchAborts(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("resp3=%v", resp3), func(t *testing.T) {
			ts := startServer(t, Config{})
			local := openLocal(t, ts)
			c, other := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
			null := "*-1\r\n"
			if resp3 {
				c.do("HELLO", "3")
				null = "_\r\n"
			}
			other.do("SET", "w", "1")
			for _, change := range []func(){
				func() { other.do("SET", "w", "2") },
				func() { local.Set([]byte("w"), shm.Int(3)) },
				func() { other.do("DEL", "w") },
				func() { other.do("SET", "w", "4") },
			} {
				c.do("WATCH", "w", "missing")
				change()
				c.do("MULTI")
				c.do("SET", "out", "x")
				if got := c.do("EXEC"); got != null {
					t.Errorf("EXEC after a watched change = %q, want %q", got, null)
				}
			}
			c.do("WATCH", "w")
			c.do("MULTI")
			c.do("SET", "out", "y")
			if got := c.do("EXEC"); got != "*1\r\n"+okReply {
				t.Errorf("EXEC without a change = %q", got)
			}
			c.do("WATCH", "w")
			other.do("SET", "w", "5")
			c.do("UNWATCH")
			c.do("MULTI")
			c.do("SET", "out", "z")
			if got := c.do("EXEC"); got != "*1\r\n"+okReply {
				t.Errorf("EXEC after UNWATCH = %q", got)
			}
			if got := other.do("GET", "out"); got != bulk("z") {
				t.Errorf("out = %q", got)
			}
		})
	}
}

// TestWatchCounterGoRedis: many go-redis clients increment one counter with
// WATCH, GET, and MULTI/SET/EXEC (TxPipelined), retrying on conflict, while
// a local process adds too. The total is exact and conflicts did happen.
func TestWatchCounterGoRedis(t *testing.T) {
	ts := startServer(t, Config{})
	local := openLocal(t, ts)
	const clients, rounds, locals = 8, 40, 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		rdb := newRedis(t, ts.addr, 2+i%2, "")
		wg.Go(func() {
			for range rounds {
				if err := watchIncrement(ctx, rdb, &conflicts); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range locals {
			if _, _, err := local.Add([]byte("total"), 1); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	got, err := newRedis(t, ts.addr, 3, "").Get(ctx, "total").Int()
	if want := clients*rounds + locals; err != nil || got != want {
		t.Errorf("total = %d (%v), want %d", got, err, want)
	}
	t.Logf("%d conflicts retried", conflicts.Load())
	if conflicts.Load() == 0 {
		t.Errorf("no transaction conflicted: the test did not contend")
	}
}

// watchIncrement is the classic optimistic increment, retried on conflict.
func watchIncrement(ctx context.Context, rdb *redis.Client, conflicts *atomic.Int64) error {
	for {
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, "total").Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "total", n+1, 0)
				return nil
			})
			return err
		}, "total")
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		conflicts.Add(1)
	}
}

// TestExecAtomicForLocalReaders: a transaction that sets two variables
// becomes visible all at once: a local process reading both as one
// snapshot never sees them differ.
func TestExecAtomicForLocalReaders(t *testing.T) {
	ts := startServer(t, Config{})
	local := openLocal(t, ts)
	c := dialRaw(t, ts.addr)
	stop := make(chan struct{})
	var torn, reads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		names := [][]byte{[]byte("a"), []byte("b")}
		for {
			select {
			case <-stop:
				return
			default:
			}
			items, err := local.MGet(names)
			if err != nil {
				continue
			}
			reads.Add(1)
			if items[0].Value.String() != items[1].Value.String() {
				torn.Add(1)
			}
		}
	})
	for i := range 300 {
		v := fmt.Sprint(i)
		c.send(encode("MULTI") + encode("SET", "a", v) + encode("INCR", "x") + encode("SET", "b", v) + encode("EXEC"))
		for range 4 {
			c.reply()
		}
		if got := c.reply(); !strings.HasPrefix(got, "*3\r\n") {
			t.Fatalf("EXEC = %q", got)
		}
	}
	close(stop)
	wg.Wait()
	if torn.Load() != 0 {
		t.Errorf("a local snapshot saw a and b differ %d times", torn.Load())
	}
	if reads.Load() == 0 {
		t.Errorf("no local snapshot was read: the test checked nothing")
	}
}

// TestMultiQueuesInfo: INFO is queued inside MULTI, and EXEC returns its
// text, as Redis does.
func TestMultiQueuesInfo(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	c.do("MULTI")
	if got := c.do("INFO", "clients"); got != simple("QUEUED") {
		t.Fatalf("INFO inside MULTI = %q, want QUEUED", got)
	}
	if got := c.do("EXEC"); !strings.HasPrefix(got, "*1\r\n$") || !strings.Contains(got, "# Clients\r\nconnected_clients:") {
		t.Errorf("EXEC = %q, want INFO's text", got)
	}
}
