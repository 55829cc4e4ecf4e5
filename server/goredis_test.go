package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGoRedis drives every command through go-redis, in RESP2 and in RESP3
// (go-redis' default: HELLO 3, then CLIENT SETINFO).
func TestGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ts := startServer(t, Config{})
			rdb := newRedis(t, ts.addr, proto, "")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			checkGoRedis(t, ctx, rdb)
		})
	}
}

func checkGoRedis(t *testing.T, ctx context.Context, rdb *redis.Client) {
	t.Helper()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("ping", rdb.Ping(ctx).Err())
	if got := rdb.Echo(ctx, "hi").Val(); got != "hi" {
		t.Errorf("ECHO = %q", got)
	}
	must("set", rdb.Set(ctx, "a", "1", 0).Err())
	if got, err := rdb.Get(ctx, "a").Result(); got != "1" || err != nil {
		t.Errorf("GET a = %q, %v", got, err)
	}
	if _, err := rdb.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET missing: err %v, want redis.Nil", err)
	}
	if ok := rdb.SetNX(ctx, "a", "2", 0).Val(); ok {
		t.Errorf("SETNX on existing key stored")
	}
	if ok := rdb.SetXX(ctx, "a", "3", 0).Val(); !ok {
		t.Errorf("SETXX on existing key did not store")
	}
	if old, err := rdb.SetArgs(ctx, "a", "4", redis.SetArgs{Get: true}).Result(); old != "3" || err != nil {
		t.Errorf("SET GET = %q, %v", old, err)
	}
	if err := rdb.Set(ctx, "a", "5", time.Second).Err(); err == nil || !strings.Contains(err.Error(), "do not expire") {
		t.Errorf("SET EX: err %v, want the no-expiry error", err)
	}
	//lint:ignore SA1019 GETSET is a command the server must answer.
	if old := rdb.GetSet(ctx, "a", "six").Val(); old != "4" {
		t.Errorf("GETSET = %q", old)
	}
	must("mset", rdb.MSet(ctx, "x", "1", "y", "2").Err())
	if vals := rdb.MGet(ctx, "x", "y", "z").Val(); len(vals) != 3 || vals[0] != "1" || vals[1] != "2" || vals[2] != nil {
		t.Errorf("MGET = %#v", vals)
	}
	if n := rdb.Exists(ctx, "x", "y", "z").Val(); n != 2 {
		t.Errorf("EXISTS = %d", n)
	}
	if n := rdb.Incr(ctx, "ctr").Val(); n != 1 {
		t.Errorf("INCR = %d", n)
	}
	if n := rdb.IncrBy(ctx, "ctr", 41).Val(); n != 42 {
		t.Errorf("INCRBY = %d", n)
	}
	if n := rdb.Decr(ctx, "ctr").Val(); n != 41 {
		t.Errorf("DECR = %d", n)
	}
	if n := rdb.DecrBy(ctx, "ctr", 40).Val(); n != 1 {
		t.Errorf("DECRBY = %d", n)
	}
	if err := rdb.Incr(ctx, "a").Err(); err == nil || err.Error() != msgNotInteger {
		t.Errorf("INCR on text: %v", err)
	}
	if n := rdb.Do(ctx, "CAS", "ctr", "1", "100").Val(); n != int64(1) {
		t.Errorf("CAS = %v", n)
	}
	if got := rdb.Type(ctx, "ctr").Val(); got != "string" {
		t.Errorf("TYPE = %q", got)
	}
	if n := rdb.DBSize(ctx).Val(); n != 4 {
		t.Errorf("DBSIZE = %d", n)
	}
	keys := rdb.Keys(ctx, "*").Val()
	sort.Strings(keys)
	if strings.Join(keys, ",") != "a,ctr,x,y" {
		t.Errorf("KEYS * = %q", keys)
	}
	if n := rdb.Del(ctx, "x", "y", "z").Val(); n != 2 {
		t.Errorf("DEL = %d", n)
	}
	if info := rdb.Info(ctx, "server").Val(); !strings.Contains(info, "redis_version:") {
		t.Errorf("INFO server = %q", info)
	}
	if cfg := rdb.ConfigGet(ctx, "save").Val(); len(cfg) != 1 || cfg["save"] != "" {
		t.Errorf("CONFIG GET save = %v", cfg)
	}
	must("client setname", rdb.Do(ctx, "CLIENT", "SETNAME", "t").Err())
	if list := rdb.ClientList(ctx).Val(); !strings.Contains(list, "lib-name=go-redis") {
		t.Errorf("CLIENT LIST lacks go-redis' SETINFO: %q", list)
	}
}

// TestPipeline sends a large pipeline in one go: replies arrive in order
// and each is right.
func TestPipeline(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := newRedis(t, ts.addr, 3, "")
	ctx := context.Background()
	const n = 2000
	pipe := rdb.Pipeline()
	incrs := make([]*redis.IntCmd, n)
	for i := range incrs {
		pipe.Set(ctx, fmt.Sprintf("k%d", i%100), i, 0)
		incrs[i] = pipe.Incr(ctx, "ctr")
	}
	get := pipe.Get(ctx, "k99")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	for i, c := range incrs {
		if c.Val() != int64(i+1) {
			t.Fatalf("INCR #%d = %d, want %d", i, c.Val(), i+1)
		}
	}
	if get.Val() != "1999" {
		t.Errorf("GET k99 = %q", get.Val())
	}
}

// TestPipelineRaw: a pipeline sent in one write, mixing multibulk and
// inline commands, gets its replies in order, written in one batch.
func TestPipelineRaw(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.send(encode("SET", "a", "1") + "INCR a\r\n" + encode("GET", "a") + "PING\r\n")
	for _, want := range []string{okReply, integer(2), bulk("2"), simple("PONG")} {
		if got := rc.reply(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestRESP3Replies checks RESP3 types after HELLO 3.
func TestRESP3Replies(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	hello := rc.do("HELLO", "3")
	if !strings.HasPrefix(hello, "%7\r\n$6\r\nserver\r\n$3\r\ndsm\r\n") || !strings.Contains(hello, "$5\r\nproto\r\n:3\r\n") {
		t.Fatalf("HELLO 3 = %q", hello)
	}
	cases := []step{
		st("_\r\n", "GET", "nope"),
		st("*2\r\n$1\r\n1\r\n_\r\n", "MGET", "one", "nope"),
		st("%1\r\n"+bulk("appendonly")+bulk("no"), "CONFIG", "GET", "appendonly"),
		st("_\r\n", "CLIENT", "GETNAME"),
	}
	rc.do("SET", "one", "1")
	for _, c := range cases {
		if got := rc.do(c.args...); got != c.want {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
	if got := rc.do("INFO", "keyspace"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "txt:# Keyspace") {
		t.Errorf("INFO in RESP3 = %q, want a verbatim string", got)
	}
	if got := rc.do("HELLO", "2"); !strings.HasPrefix(got, "*14\r\n") {
		t.Errorf("HELLO 2 = %q", got)
	}
	if got := rc.do("GET", "nope"); got != null2 {
		t.Errorf("GET after HELLO 2 = %q", got)
	}
}

// TestScanVisitsAll: iterating SCAN with a small COUNT returns every
// variable exactly once.
func TestScanVisitsAll(t *testing.T) {
	ts := startServer(t, Config{})
	rdb := newRedis(t, ts.addr, 2, "")
	ctx := context.Background()
	const n = 500
	for i := 0; i < n; i++ {
		rdb.Set(ctx, fmt.Sprintf("key:%d", i), i, 0)
	}
	seen := map[string]int{}
	var cursor uint64
	for rounds := 0; ; rounds++ {
		keys, next, err := rdb.Scan(ctx, cursor, "key:*", 7).Result()
		if err != nil || rounds > n {
			t.Fatalf("SCAN: %v after %d rounds", err, rounds)
		}
		for _, k := range keys {
			seen[k]++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(seen) != n {
		t.Errorf("SCAN saw %d keys, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("SCAN returned %s %d times", k, c)
		}
	}
}

// countingConn counts the writes a server makes to a connection.
type countingConn struct {
	halfPipe
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.halfPipe.Write(p)
}

// TestRepliesBatched: a pipeline that arrives in one piece is answered in
// one write.
func TestRepliesBatched(t *testing.T) {
	ts := startServer(t, Config{})
	var writes atomic.Int64
	reqC, reqS := net.Pipe()
	repC, repS := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.serveConn(countingConn{halfPipe{in: reqS, out: repS}, &writes})
	}()
	const n = 100
	go func() {
		reqC.Write([]byte(strings.Repeat(encode("INCR", "n"), n)))
	}()
	br := bufio.NewReader(repC)
	for i := 1; i <= n; i++ {
		if got, err := readReply(br); got != integer(int64(i)) {
			t.Fatalf("reply %d = %q, %v", i, got, err)
		}
	}
	if got := writes.Load(); got != 1 {
		t.Errorf("%d pipelined commands answered in %d writes, want 1", n, got)
	}
	reqC.Close()
	repC.Close()
	<-done
}

// TestSyncIntervalFlushes: the interval mode flushes on its own.
func TestSyncIntervalFlushes(t *testing.T) {
	ts := startServer(t, Config{SyncInterval: 20 * time.Millisecond})
	dialRaw(t, ts.addr).do("SET", "a", "1")
	waitFor(t, "a flush with a 20 ms interval", func() bool { return ts.stats.syncs.Load() > 0 })
	never := startServer(t, Config{Sync: SyncNever})
	dialRaw(t, never.addr).do("SET", "a", "1")
	time.Sleep(50 * time.Millisecond)
	if n := never.stats.syncs.Load(); n != 0 {
		t.Errorf("SyncNever flushed %d times before shutdown", n)
	}
}
