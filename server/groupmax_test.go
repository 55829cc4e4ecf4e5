package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestMSetGroupMax: the most variables one MSET may name is the file's
// creation-time GroupMax; the default refuses what is over it and says how
// to raise it, and a file made with GroupMax 10001 takes the 10,001 pairs
// Redis takes.
func TestMSetGroupMax(t *testing.T) {
	mset := func(n int) []string {
		args := []string{"MSET"}
		for i := range n {
			args = append(args, "k"+strconv.Itoa(i), strconv.Itoa(i))
		}
		return args
	}
	small := dialRaw(t, startServer(t, Config{}).addr)
	if got := small.do(mset(257)...); !strings.HasPrefix(got, "-ERR too many variables in one atomic group: the file allows 256 (fixed at creation: dsmd -group-max)") {
		t.Errorf("MSET of 257 pairs by default = %q", got)
	}
	// go-redis, for a read timeout that allows for the race detector:
	// taking 10,001 locks costs time quadratic in their number (each
	// lock lane is searched linearly), a few seconds under -race.
	ts := startServer(t, Config{Vars: 16384, GroupMax: 10001})
	big := redis.NewClient(&redis.Options{Addr: ts.addr, ReadTimeout: time.Minute, Protocol: 2})
	t.Cleanup(func() { big.Close() })
	pairs := mset(10001)[1:]
	vals := make([]any, len(pairs))
	for i, p := range pairs {
		vals[i] = p
	}
	ctx := context.Background()
	if err := big.MSet(ctx, vals...).Err(); err != nil {
		t.Fatalf("MSET of 10001 pairs with GroupMax 10001: %v", err)
	}
	if got, err := big.Get(ctx, "k10000").Result(); err != nil || got != "10000" {
		t.Errorf("GET k10000 = %q, %v", got, err)
	}
}
