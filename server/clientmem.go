package server

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// clientMem bounds the memory all clients together hold in pending input
// and output, as Redis' maxmemory-clients does: each connection's limits
// (MaxRequest, OutputLimit) bound one client, but not ten thousand of
// them each holding half a large command.
//
// What counts is what grows with what a client sends or leaves unread:
// the buffer of the command being read (resp.Reader.Held) and the reply
// buffer (resp.Writer.Cap). The fixed read buffer of each connection is
// bounded by MaxClients instead.
//
// A connection counts its bytes itself (conn.account) at the two points
// where it may wait for the network holding them: before a read from
// the socket and before a write to it. It costs a load and a compare
// when nothing changed, and one atomic add on total when something did.
// When an increase takes total beyond Config.ClientMemMax, evict closes
// the clients that hold the most until the rest are within it.
type clientMem struct {
	total   atomic.Int64 // the sum of every connection's held bytes
	evictMu sync.Mutex   // one eviction pass at a time
}

// account brings the connection's share of the clients' total up to
// date, and starts an eviction pass when it grew beyond the bound. An
// evicted connection counts nothing: its bytes were taken off when it
// was closed, and go with its goroutine.
func (c *conn) account() {
	n := int64(c.wr.Cap())
	if c.rd != nil {
		n += int64(c.rd.Held())
	}
	if n == c.memHeld.Load() {
		return
	}
	if c.evicted.Load() {
		n = 0
	}
	// Swap, not Store: evict may take the bytes off at the same time, and
	// each side adds to total exactly the change it made.
	old := c.memHeld.Swap(n)
	total := c.s.clientMem.total.Add(n - old)
	if n > old && total > int64(c.s.cfg.ClientMemMax) {
		c.s.evictClients()
	}
}

// releaseMem takes the connection's bytes off the clients' total when it
// ends.
func (c *conn) releaseMem() {
	c.s.clientMem.total.Add(-c.memHeld.Swap(0))
}

// evictClients closes the clients holding the most, largest first, until
// what the others hold is within ClientMemMax. A pass already under way
// is left to finish: it reads the total as it goes.
func (s *Server) evictClients() {
	if !s.clientMem.evictMu.TryLock() {
		return
	}
	defer s.clientMem.evictMu.Unlock()
	limit := int64(s.cfg.ClientMemMax)
	if s.clientMem.total.Load() <= limit {
		return
	}
	for _, h := range s.memHolders() {
		if s.clientMem.total.Load() <= limit {
			break
		}
		s.evict(h.c, limit)
	}
}

// memHolder is a connection and the bytes it held when memHolders looked.
type memHolder struct {
	c    *conn
	held int64
}

// memHolders returns the connections that hold bytes, most first.
func (s *Server) memHolders() []memHolder {
	s.mu.Lock()
	hs := make([]memHolder, 0, len(s.conns))
	for c := range s.conns {
		if n := c.memHeld.Load(); n > 0 && !c.evicted.Load() {
			hs = append(hs, memHolder{c, n})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(hs, func(a, b memHolder) int { return cmp.Compare(b.held, a.held) })
	return hs
}

// evict closes c for the clients' memory bound: its bytes come off the
// total at once, so that the pass (and the next) see what remains, and
// its goroutine ends with the closed socket.
func (s *Server) evict(c *conn, limit int64) {
	if !c.evicted.CompareAndSwap(false, true) {
		return
	}
	held := c.memHeld.Swap(0)
	total := s.clientMem.total.Add(-held)
	s.stats.clientMemEvictions.Add(1)
	s.metrics.clientMemEvictions.Inc()
	s.log.Warn("client closed: client memory limit", "addr", c.remote, "id", c.id,
		"held", held, "total", total+held, "limit", limit)
	c.raw.Close()
}
