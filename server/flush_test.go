package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestFlushMatchesRedis: FLUSHALL and FLUSHDB answer and delete as Redis
// 7's do, options and errors included.
func TestFlushMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range [][]string{
		{"MSET", "a", "1", "b", "x"}, {"FLUSHALL"}, {"DBSIZE"}, {"GET", "a"},
		{"SET", "a", "1"}, {"FLUSHDB", "ASYNC"}, {"EXISTS", "a"}, {"SET", "a", "2"}, {"flushall", "sync"}, {"DBSIZE"},
		{"FLUSHALL", "bogus"}, {"FLUSHALL", "sync", "async"}, {"FLUSHDB", "x"}, {"flushdb", "Sync"},
		{"SET", "c", "3"}, {"INCR", "c"}, {"FLUSHDB"}, {"INCR", "c"},
	} {
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
}

// TestFlushRefusals: -protect-flush refuses both commands and deletes
// nothing; a connection holding locks is refused (its own locks would
// hold the whole-file write back); MULTI does not queue them.
func TestFlushRefusals(t *testing.T) {
	ts := startServer(t, Config{ProtectFlush: true})
	c := dialRaw(t, ts.addr)
	c.do("SET", "a", "1")
	for _, cmd := range []string{"FLUSHALL", "FLUSHDB"} {
		if got := c.do(cmd); got != "-"+msgFlushProtected+"\r\n" {
			t.Errorf("%s with -protect-flush = %q", cmd, got)
		}
	}
	if got := c.do("GET", "a"); got != "$1\r\n1\r\n" {
		t.Fatalf("GET a after refused flushes = %q", got)
	}

	ts = startServer(t, Config{})
	c = dialRaw(t, ts.addr)
	c.do("SET", "a", "1")
	c.do("LOCK", "a")
	if got := c.do("FLUSHALL"); !strings.Contains(got, "holds locks") {
		t.Errorf("FLUSHALL while holding a lock = %q", got)
	}
	c.do("UNLOCK")
	c.do("MULTI")
	if got := c.do("FLUSHALL"); got != "-"+msgNotInMulti+"\r\n" {
		t.Errorf("FLUSHALL in MULTI = %q", got)
	}
	c.do("DISCARD")
	if got := c.do("FLUSHALL"); got != "+OK\r\n" {
		t.Fatalf("FLUSHALL = %q", got)
	}
	if got := c.do("DBSIZE"); got != ":0\r\n" {
		t.Errorf("DBSIZE after FLUSHALL = %q", got)
	}
}

// TestClusterFlushAll: FLUSHALL through a follower is one log entry that
// every node applies: every file ends empty and identical, and writes
// after it go on as usual.
func TestClusterFlushAll(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	rc := tc.client(tc.leader())
	for i := range 50 {
		if err := rc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := tc.client(tc.follower()).FlushAll(ctx).Result(); err != nil || got != "OK" {
		t.Fatalf("FLUSHALL through a follower = %q, %v", got, err)
	}
	for i := range tc.nodes {
		if got := tc.dump(i); got != "" {
			t.Fatalf("node %d after FLUSHALL holds:\n%s", i+1, got)
		}
		if n, err := tc.client(i).DBSize(ctx).Result(); err != nil || n != 0 {
			t.Fatalf("node %d DBSIZE = %d, %v", i+1, n, err)
		}
	}
	if err := rc.Set(ctx, "after", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := tc.dump(0)
	for i := 1; i < len(tc.nodes); i++ {
		if got := tc.dump(i); got != want {
			t.Fatalf("node %d's file differs after FLUSHALL and a write:\n%s\nnode 1's:\n%s", i+1, got, want)
		}
	}
}
