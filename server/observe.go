package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/internal/version"
	"github.com/dsm-dev/dsm/shm"
)

// The observer's API: what an observer in the daemon's own process (the
// web view, package webview) reads of a running server without a
// connection, and the few hooks it needs: the change feed, the access
// rules, and a connection of its own for the writes it makes. Everything
// here is a copy made under the server's locks; nothing returned aliases
// the server's state.

// ErrDenied is wrapped by Admit's error when the access rules refuse a
// client; the message says why and what to do, as a RESP client is told.
var ErrDenied = errors.New("server: access denied")

// Done returns a channel that is closed when the server begins to stop
// (Shutdown, Close, or a failure of its file): observers end then.
func (s *Server) Done() <-chan struct{} { return s.live.ctx.Done() }

// Admit applies the server's access rules (protected mode, Config.Allow)
// to a client of another listener, such as the web view's, at addr. It
// returns nil when the client may be served, after the password when
// PasswordSet, and an error wrapping ErrDenied otherwise.
func (s *Server) Admit(addr net.Addr) error {
	if a, r := s.classify(addr); a == accessDenied {
		return errors.Join(ErrDenied, errors.New(r.msg))
	}
	return nil
}

// PasswordSet reports whether clients must give Config.Password.
func (s *Server) PasswordSet() bool { return s.cfg.Password != "" }

// CheckPassword reports, in constant time, whether p is Config.Password
// (true when none is set).
func (s *Server) CheckPassword(p string) bool {
	return (&conn{s: s}).checkPassword([]byte("default"), []byte(p))
}

// Tap calls fn with each batch of changes the change feed reports, of
// every variable and by any process (each change is the variable's latest
// state; a reader that fell behind may skip intermediate ones), until stop
// is called or the server stops. fn runs on the feed reader's goroutine
// while it holds the subscribers' lock: it must copy what it keeps (the
// changes are fn's only during the call) and must not block.
func (s *Server) Tap(fn func([]shm.Change)) (stop func(), err error) {
	h := s.live.hub
	t := &tap{fn: fn}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.startLocked(); err != nil {
		return nil, err
	}
	if h.taps == nil {
		h.taps = map[*tap]bool{}
	}
	h.taps[t] = true
	h.count++
	var once sync.Once
	return func() { once.Do(func() { h.removeTap(t) }) }, nil
}

// tap is one observer of the change feed (Server.Tap).
type tap struct{ fn func([]shm.Change) }

func (h *hub) removeTap(t *tap) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.taps, t)
	h.count--
	if h.count == 0 && h.run != nil {
		h.run.cancel()
		h.run = nil
	}
}

// tapLocked hands changes to every tap; h.mu is held.
func (h *hub) tapLocked(changes []shm.Change) {
	for t := range h.taps {
		t.fn(changes)
	}
}

// Variable is one variable as an observer sees it: its value in text
// (integers in decimal) and its version.
type Variable struct {
	Name    string
	Value   string
	Int     bool // the value is an integer
	Version uint64
}

// Variables lists up to limit variables whose names match the Redis glob
// pattern (all when it is empty), in name order, with matched, how many
// match (counted up to maxMatched). Names of the cluster's own
// bookkeeping are left out. It reads the node's own file: in a cluster,
// what this node has applied.
func (s *Server) Variables(pattern string, limit int) (vars []Variable, matched int, err error) {
	guardFaults()
	defer s.recoverFault()
	var g *glob.Pattern
	if pattern != "" && pattern != "*" {
		if g, err = glob.Compile([]byte(pattern), false, s.nameMax); err != nil {
			return nil, 0, nil // a pattern longer than any name matches none
		}
	}
	var names []string
	var cursor uint64
	for {
		cursor, err = s.mem.Scan(cursor, func(name []byte, _ uint64) bool {
			if bytes.HasPrefix(name, []byte(cluster.ReservedPrefix)) || g != nil && !g.Match(name) {
				return true
			}
			matched++
			names = append(names, string(name))
			return matched < maxMatched
		})
		if err != nil && !errors.Is(err, shm.ErrDamaged) {
			return nil, matched, err
		}
		if cursor == 0 || matched >= maxMatched {
			break
		}
	}
	slices.Sort(names)
	for _, n := range names[:min(limit, len(names))] {
		v, ver, err := s.mem.Get([]byte(n))
		if err != nil {
			continue // deleted since the scan, or damaged
		}
		vars = append(vars, Variable{Name: n, Value: v.String(), Int: v.IsInt(), Version: ver})
	}
	return vars, matched, nil
}

// maxMatched bounds the names Variables collects to sort.
const maxMatched = 100_000

// ClientInfo describes one client connection, as CLIENT LIST does.
type ClientInfo struct {
	ID    int64
	Addr  string // the client's address
	Name  string // CLIENT SETNAME's
	Proto string // "resp2", "resp3", "resp+tls", "seed", or "" before its first byte
	// Commands counts the commands it ran; LastCmd names the last one.
	Commands  int64
	LastCmd   string
	Age, Idle time.Duration
	Locks     int  // variables it holds locked (LOCK)
	Subs      int  // its channels and patterns (SUBSCRIBE, PSUBSCRIBE)
	Local     bool // a local process, through the file's socket
}

// Clients lists the connected clients in id order.
func (s *Server) Clients() []ClientInfo {
	now := time.Now()
	var out []ClientInfo
	for _, c := range s.connsByID() {
		c.infoMu.Lock()
		name, resp3 := c.name, c.resp3
		c.infoMu.Unlock()
		ci := ClientInfo{
			ID: c.id, Addr: c.remote, Name: name, Proto: protoOf(byte(c.first.Load()), resp3),
			Commands: c.commands.Load(), Age: now.Sub(c.since),
			Idle:  now.Sub(time.Unix(0, c.lastActive.Load())),
			Locks: c.lockedCount(), Subs: int(c.live.channels.Load() + c.live.patterns.Load()),
			Local: c.fileSocket,
		}
		if p := c.lastCmd.Load(); p != nil {
			ci.LastCmd = *p
		}
		out = append(out, ci)
	}
	return out
}

// protoOf names a connection's protocol by its first byte (0: none yet).
func protoOf(first byte, resp3 bool) string {
	switch {
	case first == 0:
		return ""
	case isSeedOp(first):
		return "seed"
	case first == tlsHandshake:
		return "resp+tls"
	case resp3:
		return "resp3"
	}
	return "resp2"
}

// LockInfo is one client's locks (LOCK): held, or waited for.
type LockInfo struct {
	ClientID int64
	Addr     string
	Names    []string
	Write    bool
	// Waiting is true for a LOCK still waiting; then Left is the time
	// left of its WAIT, else of its lease.
	Waiting bool
	Since   time.Time // when it began to hold, or to wait
	Left    time.Duration
	Token   uint64 // the grant's fencing token on a cluster node; 0 elsewhere
}

// lockWait is a LOCK waiting for its locks, for Locks.
type lockWait struct {
	names []string
	write bool
	since time.Time
	wait  time.Duration
}

// cmdLockObserved is LOCK, which it runs after noting the wait for Locks.
func cmdLockObserved(c *conn, args [][]byte) {
	if a, msg := parseLock(args[1:]); msg == "" {
		w := &lockWait{write: a.write, since: time.Now(), wait: a.wait}
		for _, n := range a.names {
			w.names = append(w.names, string(n))
		}
		slices.Sort(w.names)
		w.names = slices.Compact(w.names)
		c.s.waiters.Store(c, w)
		defer c.s.waiters.Delete(c)
	}
	cmdLock(c, args)
}

// Locks lists the clients holding locks, then those waiting for some, in
// client id order; on a cluster node, every lock of the cluster's table
// (Addr then names the holder's node, connection and address).
func (s *Server) Locks() []LockInfo {
	now := time.Now()
	if s.cl != nil {
		return clusterLocks(s.cl.node.ListLocks(), now)
	}
	var held, waiting []LockInfo
	for _, c := range s.connsByID() {
		if h := c.live.hold.Load(); h != nil {
			if mode, left := h.state(now); mode != "lost" {
				held = append(held, LockInfo{ClientID: c.id, Addr: c.remote, Names: slices.Clone(h.names), Write: h.write, Since: h.since, Left: left})
			}
		}
		if v, ok := s.waiters.Load(c); ok {
			w := v.(*lockWait)
			waiting = append(waiting, LockInfo{ClientID: c.id, Addr: c.remote, Names: w.names, Write: w.write,
				Waiting: true, Since: w.since, Left: max(w.wait-now.Sub(w.since), 0)})
		}
	}
	return append(held, waiting...)
}

// clusterLocks is Locks from a cluster's lock table.
func clusterLocks(list []cluster.LockInfo, now time.Time) []LockInfo {
	out := make([]LockInfo, 0, len(list))
	for _, r := range list {
		li := LockInfo{Addr: r.Holder, Names: r.Names, Write: r.Write, Waiting: r.Token == 0, Left: r.Left, Token: r.Token}
		if li.Waiting {
			li.Since = now.Add(-(r.Wait - r.Left))
		} else {
			li.Since = now.Add(-(r.Lease - r.Left))
		}
		out = append(out, li)
	}
	return out
}

// Overview is the server at a glance.
type Overview struct {
	Version  string // dsm's version and commit
	Addr     string // the first listener's address
	File     string
	Sync     string
	Uptime   time.Duration
	Clients  int
	Commands int64 // executed since start (CONFIG RESETSTAT restarts it)
	Procs    int   // processes attached to the file, the daemon included
	// Vars is how many variables the file holds (reading every slot:
	// ask every few seconds, not on every change), when CountVars is
	// set; Capacity and FileSize are fixed when the file is created.
	Vars     int
	Capacity int
	FileSize int64
}

// Overview reports the server's figures; countVars reads every slot to
// count the variables.
func (s *Server) Overview(countVars bool) Overview {
	guardFaults()
	defer s.recoverFault()
	v := version.Get()
	lim := s.mem.Limits()
	o := Overview{
		Version: strings.TrimSpace(v.Version + " " + shortRev(v.Revision)),
		File:    s.cfg.File, Sync: s.cfg.Sync.String(), Uptime: time.Since(s.stats.started),
		Clients: s.clientCount(), Commands: s.stats.commands.Load(), Procs: len(s.mem.Procs()),
		Capacity: lim.Capacity, FileSize: lim.FileSize,
	}
	if a := s.listenAddr(); a != nil {
		o.Addr = a.String()
	}
	if s.cl != nil {
		o.Addr = s.cl.node.ClientAddr() // the first listener may be the file's socket
	}
	if countVars {
		o.Vars = s.varCount()
	}
	return o
}

func shortRev(r string) string { return r[:min(len(r), 12)] }

// ClusterView is a cluster node's view of its cluster.
type ClusterView struct {
	NodeID, Role, LeaderID string
	Term, CommitIndex      uint64
	Members                []ClusterMember
}

// ClusterMember is one member: its role as this node knows it and, when
// it answered, the log index its file has applied and how many entries
// that is behind the most advanced member's.
type ClusterMember struct {
	ID, ClientAddr, Role string // Role: "leader", "follower" or "learner"
	Applied              uint64
	Lag                  int64 // -1 when the member did not answer
}

// Cluster reports the node's view of its cluster, asking each other member
// for its applied index within ctx; ok is false on a single host.
func (s *Server) Cluster(ctx context.Context) (v ClusterView, ok bool) {
	if s.cl == nil {
		return v, false
	}
	st := s.cl.node.Status()
	v = ClusterView{NodeID: st.ID, Role: st.Role, LeaderID: st.LeaderID, Term: st.Term, CommitIndex: st.CommitIndex}
	ms, err := s.cl.node.Members(ctx)
	if err != nil {
		return v, true
	}
	cc := s.cfg.Cluster
	d := cluster.Dialer{Secret: cc.Secret, TLS: cc.TLS}
	v.Members = make([]ClusterMember, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		cm := &v.Members[i]
		*cm = ClusterMember{ID: m.ID, ClientAddr: m.ClientAddr, Role: memberRole(m), Lag: -1}
		if m.ID == st.ID {
			cm.Applied, cm.Lag = st.FileApplied, 0
			continue
		}
		wg.Go(func() {
			if h, err := d.Probe(ctx, m.RaftAddr); err == nil && h.ID == m.ID {
				cm.Applied, cm.Lag = h.Applied, 0
			}
		})
	}
	wg.Wait()
	var most uint64
	for _, m := range v.Members {
		most = max(most, m.Applied)
	}
	for i := range v.Members {
		if m := &v.Members[i]; m.Lag == 0 {
			m.Lag = int64(most - m.Applied)
		}
	}
	slices.SortFunc(v.Members, func(a, b ClusterMember) int { return cmp.Compare(a.ID, b.ID) })
	return v, true
}

func memberRole(m cluster.Member) string {
	switch {
	case m.Leader:
		return "leader"
	case m.Voter:
		return "follower"
	}
	return "learner"
}

// DialLocal returns a connection to the server that is served as a local
// process's (authenticated, trusted by the access rules), for an observer
// that writes through the server's commands, so that a cluster replicates
// its writes. The caller must close it.
func (s *Server) DialLocal() (net.Conn, error) {
	if s.closing.Load() {
		return nil, ErrServerClosed
	}
	client, srv := net.Pipe()
	s.admit(srv, true)
	return client, nil
}
