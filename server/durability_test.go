//go:build dsmfail

package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/redolog"
	"github.com/dsm-dev/dsm/shm"
)

// flushLedger watches, through shm's failure-point hooks (dsmfail builds),
// when values are published and when flushes start and end. A flush is an
// msync of the mapping or a synchronous write of the redo log (under -sync
// always): either covers what was published before it started. Redo log
// writes may overlap; they end in the order they started.
type flushLedger struct {
	started   atomic.Int64 // flushes started, of both kinds
	running   atomic.Int64 // the number of the msync running
	covered   atomic.Int64 // the highest number of a flush that ended
	published atomic.Int64 // flushes started when the last value was published

	mu         sync.Mutex
	redoWrites []int64 // the numbers of the redo log writes running, oldest first
}

// cover notes that flush n ended.
func (l *flushLedger) cover(n int64) {
	for {
		c := l.covered.Load()
		if n <= c || l.covered.CompareAndSwap(c, n) {
			return
		}
	}
}

func newFlushLedger(t *testing.T) *flushLedger {
	l := &flushLedger{}
	note := func() { l.published.Store(l.started.Load()) }
	for _, h := range []struct {
		point string
		fn    func()
	}{
		{shm.FailBeforeFlush, func() { l.running.Store(l.started.Add(1)) }},
		{shm.FailAfterFlush, func() { l.cover(l.running.Load()) }},
		{redolog.FailBeforeSync, func() {
			l.mu.Lock()
			l.redoWrites = append(l.redoWrites, l.started.Add(1))
			l.mu.Unlock()
		}},
		{redolog.FailAfterSync, func() {
			l.mu.Lock()
			n := l.redoWrites[0]
			l.redoWrites = l.redoWrites[1:]
			l.mu.Unlock()
			l.cover(n)
		}},
		{shm.FailPublished, note},
		{shm.FailGroupCommitted, note},
		// A write of one variable gives the redo log its record after
		// publishing it, under its lock: noting the unlock too makes a
		// flush count only if it started after the record existed.
		{shm.FailUnlocked, note},
	} {
		t.Cleanup(shm.SetFailHook(h.point, h.fn))
	}
	return l
}

// coveredNow reports whether a flush that started after the last value was
// published has ended.
func (l *flushLedger) coveredNow() bool { return l.covered.Load() > l.published.Load() }

// TestSyncAlwaysRepliesAfterFlush proves -sync always's promise from the
// inside: every reply to a write (SET, INCR, MSET, a pipelined batch, the
// seed's W) arrives only after a flush that started after the write was in
// the mapping had returned. The same check under -sync interval finds
// replies that no flush covered, which shows that it can fail.
func TestSyncAlwaysRepliesAfterFlush(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			l := newFlushLedger(t)
			ts := startServer(t, Config{Sync: mode, SyncInterval: time.Hour})
			c := dialRaw(t, ts.addr)
			uncovered, writes := 0, 0
			check := func(what string) {
				writes++
				if !l.coveredNow() {
					uncovered++
					if mode == SyncAlways {
						t.Errorf("%s: reply arrived before a flush covered the write", what)
					}
				}
			}
			for i := range 20 {
				n := strconv.Itoa(i)
				c.do("SET", "k", n)
				check("SET")
				c.do("INCR", "ctr")
				check("INCR")
				c.do("MSET", "a", n, "b", n)
				check("MSET")
				c.send(encode("SET", "p1", n) + encode("SET", "p2", n) + encode("INCR", "ctr"))
				for range 3 {
					c.reply()
				}
				check("pipelined batch")
			}
			s := dialRaw(t, ts.addr)
			for i := range 20 {
				s.send("W" + string([]byte{byte(i), 0, 0, 0}))
				if got := s.readN(2); got != "OK" {
					t.Fatalf("seed W: %q", got)
				}
				check("seed W")
			}
			t.Logf("-sync %s: %d of %d write replies arrived before a flush covered them; %d flushes", mode, uncovered, writes, l.started.Load())
			if mode != SyncAlways && uncovered == 0 {
				t.Errorf("-sync %s: every reply was covered by a flush; the check cannot tell the modes apart", mode)
			}
		})
	}
}
