package cluster_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// testApplier is the least Applier that exercises the cluster: SET key
// value, INCR key, DEL key [key ...] and SLOW key ms (which holds up
// apply), with text replies ("OK", a number). The server's applier, from its command table, replaces it in
// production.
//
// lag, if set, delays every Apply by its duration: a node whose apply
// lags behind its commit index.
type testApplier struct{ lag *atomic.Int64 }

var errTestCommand = errors.New("test applier: unknown command or wrong arguments")

func (testApplier) Keys(args [][]byte) ([][]byte, error) {
	switch {
	case string(args[0]) == "SET" && len(args) == 3, string(args[0]) == "INCR" && len(args) == 2,
		string(args[0]) == "SLOW" && len(args) == 3:
		return args[1:2], nil
	case string(args[0]) == "DEL" && len(args) >= 2:
		return args[1:], nil
	}
	return nil, fmt.Errorf("%w: %q", errTestCommand, args)
}

// Apply validates before its first write, as shm's operations do, so a
// failing command stages nothing.
func (a testApplier) Apply(g *shm.LockGroup, args [][]byte) ([]byte, error) {
	if a.lag != nil {
		time.Sleep(time.Duration(a.lag.Load()))
	}
	switch string(args[0]) {
	case "SET":
		return []byte("OK"), g.Set(args[1], shm.ParseValue(args[2]))
	case "SLOW": // SLOW key ms: sets key to 1 after ms, holding up apply
		ms, err := strconv.Atoi(string(args[2]))
		if err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return []byte("OK"), g.Set(args[1], shm.Int(1))
	case "INCR":
		n, err := g.Add(args[1], 1)
		return strconv.AppendInt(nil, n, 10), err
	case "DEL":
		n := 0
		for _, k := range args[1:] {
			it, err := g.Get(k)
			if err != nil {
				return nil, err
			}
			if !it.Found {
				continue // missing, or deleted by an earlier repeat
			}
			if err := g.Delete(k); err != nil {
				return nil, err
			}
			n++
		}
		return strconv.AppendInt(nil, int64(n), 10), nil
	}
	return nil, fmt.Errorf("%w: %q", errTestCommand, args[0])
}
