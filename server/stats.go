package server

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stats holds the server's own figures for INFO. All fields are atomic, so
// connections update them without a lock.
type stats struct {
	started     time.Time
	connections atomic.Int64 // accepted, ever
	rejected    atomic.Int64 // refused: max clients or access rules
	commands    atomic.Int64
	errors      atomic.Int64 // error replies
	hits        atomic.Int64 // reads that found the variable
	misses      atomic.Int64
	netIn       atomic.Int64
	netOut      atomic.Int64
	syncs       atomic.Int64
	syncErrors  atomic.Int64
	lastSync    atomic.Int64 // unix seconds of the last successful flush
	outputLimit atomic.Int64 // clients closed for exceeding OutputLimit

	clientMemEvictions atomic.Int64 // clients closed for the ClientMemMax bound

	cmds []cmdStat // by command id, for INFO commandstats; made once in New

	errMu    sync.Mutex       // guards errCodes
	errCodes map[string]int64 // error replies by their first word, for INFO errorstats
}

// cmdStat is one command's figures for INFO commandstats, Redis' fields:
// the calls that ran and the time they took, the calls refused before
// running (unknown subcommand, arity, AUTH) and those that ran and
// answered an error.
type cmdStat struct {
	calls, nanos, rejected, failed atomic.Int64
}

func (cs *cmdStat) reset() {
	for _, c := range []*atomic.Int64{&cs.calls, &cs.nanos, &cs.rejected, &cs.failed} {
		c.Store(0)
	}
}

// maxErrCodes is how many error codes errorstats tracks, Redis' bound: a
// code first seen after that many is not counted there.
const maxErrCodes = 128

// noteError counts an error reply by its code, the message's first word
// ("ERR", "WRONGTYPE"), as Redis' errorstats does.
func (st *stats) noteError(msg string) {
	code, _, _ := strings.Cut(msg, " ")
	st.errMu.Lock()
	defer st.errMu.Unlock()
	if _, ok := st.errCodes[code]; !ok {
		if len(st.errCodes) >= maxErrCodes {
			return
		}
		if st.errCodes == nil {
			st.errCodes = map[string]int64{}
		}
	}
	st.errCodes[code]++
}

// errorCounts returns the counted error codes in name order, with their
// counts.
func (st *stats) errorCounts() ([]string, map[string]int64) {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	counts := maps.Clone(st.errCodes)
	return slices.Sorted(maps.Keys(counts)), counts
}

// reset clears the counters (CONFIG RESETSTAT); gauges are not counters
// and stay.
func (st *stats) reset() {
	st.errMu.Lock()
	st.errCodes = nil
	st.errMu.Unlock()
	for i := range st.cmds {
		st.cmds[i].reset()
	}
	for _, c := range []*atomic.Int64{
		&st.connections, &st.rejected, &st.commands, &st.errors, &st.hits,
		&st.misses, &st.netIn, &st.netOut, &st.syncs, &st.syncErrors, &st.outputLimit,
		&st.clientMemEvictions,
	} {
		c.Store(0)
	}
}

func (st *stats) noteSync(err error) {
	if err != nil {
		st.syncErrors.Add(1)
		return
	}
	st.syncs.Add(1)
	st.lastSync.Store(time.Now().Unix())
}

// hit counts one read of a variable.
func (st *stats) hit(found bool) {
	if found {
		st.hits.Add(1)
	} else {
		st.misses.Add(1)
	}
}
