package webview

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/shm"
)

// broker fans the change feed out to the open pages and samples the
// server for them. It runs (a tap on the feed, a sampling goroutine) only
// while a page is open.
//
// Lock order: broker.runMu, then the server's hub (Tap), then broker.mu,
// then page.mu. The tap runs under the hub's lock and takes broker.mu, so
// the tap is started and stopped under runMu alone.
type broker struct {
	srv   *server.Server
	limit int
	log   *slog.Logger

	changes atomic.Int64 // changes seen by the tap, for the changes/s chart

	runMu   sync.Mutex    // guards the fields below
	untap   func()        // stops the tap; nil while no page is open
	stopped chan struct{} // closed to stop the sampler

	mu      sync.Mutex // guards the fields below
	pages   map[*page]bool
	stats   []byte // the latest sample, as a "stats" event's JSON
	statsAt int64  // its sequence number, rising with each sample
}

func newBroker(srv *server.Server, limit int, log *slog.Logger) *broker {
	return &broker{srv: srv, limit: limit, log: log, pages: map[*page]bool{}}
}

// page is one open page's stream: its filter, the variables it shows and
// the changes not yet sent to it, one per variable. A page shows at most
// limit variables (the listing, then new ones while there is room), and
// keeps changes of those only, so its pending changes never exceed limit.
type page struct {
	match *glob.Pattern // nil: every variable
	limit int
	wake  chan struct{} // a change or a sample is waiting

	mu      sync.Mutex // guards the fields below
	shown   map[string]bool
	pending map[string]varUpdate
}

func newPage(match *glob.Pattern, limit int) *page {
	return &page{match: match, limit: limit, wake: make(chan struct{}, 1), shown: map[string]bool{}, pending: map[string]varUpdate{}}
}

// varUpdate is a variable's state as the page shows it; Deleted when it
// has no value any more.
type varUpdate struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Int     bool   `json:"int,omitempty"`
	Version uint64 `json:"version"`
	Deleted bool   `json:"deleted,omitempty"`
	Error   string `json:"error,omitempty"`
	At      int64  `json:"at,omitempty"` // unix milliseconds of the change; 0 when unknown
}

// join registers p, starting the tap and the sampler for the first page.
func (b *broker) join(p *page) error {
	b.runMu.Lock()
	defer b.runMu.Unlock()
	if b.untap == nil {
		untap, err := b.srv.Tap(b.onChanges)
		if err != nil {
			return err
		}
		b.untap = untap
		b.stopped = make(chan struct{})
		go b.sample(b.stopped)
	}
	b.mu.Lock()
	b.pages[p] = true
	b.mu.Unlock()
	return nil
}

// leave unregisters p, stopping the tap and the sampler after the last
// page.
func (b *broker) leave(p *page) {
	b.runMu.Lock()
	defer b.runMu.Unlock()
	b.mu.Lock()
	delete(b.pages, p)
	last := len(b.pages) == 0
	b.mu.Unlock()
	if last && b.untap != nil {
		b.untap()
		b.untap = nil
		close(b.stopped)
	}
}

// onChanges is the tap: it runs on the server's feed reader, so it only
// copies the changes into each page's pending map.
func (b *broker) onChanges(changes []shm.Change) {
	b.changes.Add(int64(len(changes)))
	now := time.Now().UnixMilli()
	ups := make([]varUpdate, 0, len(changes))
	for _, ch := range changes {
		if isReserved(ch.Name) {
			continue
		}
		u := varUpdate{Name: string(ch.Name), Version: ch.Item.Version, At: now}
		switch {
		case ch.Err != nil:
			u.Error = ch.Err.Error()
		case ch.Item.Found:
			u.Value, u.Int = ch.Item.Value.String(), ch.Item.Value.IsInt()
		default:
			u.Deleted = true
		}
		ups = append(ups, u)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for p := range b.pages {
		p.offer(ups)
	}
}

// offer keeps the latest state of each variable p shows, and of new ones
// while it shows fewer than its limit.
func (p *page) offer(ups []varUpdate) {
	p.mu.Lock()
	added := false
	for _, u := range ups {
		if p.match != nil && !p.match.Match([]byte(u.Name)) {
			continue
		}
		if !p.shown[u.Name] {
			if len(p.shown) >= p.limit {
				continue // the page lists as many as it may
			}
			p.shown[u.Name] = true
		}
		p.pending[u.Name] = u
		added = true
	}
	p.mu.Unlock()
	if added {
		p.signal()
	}
}

func (p *page) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// listed notes the variables a fresh listing shows the page.
func (p *page) listed(names []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.shown)
	for _, n := range names {
		p.shown[n] = true
	}
}

// take returns the pending changes.
func (p *page) take() []varUpdate {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return nil
	}
	out := make([]varUpdate, 0, len(p.pending))
	for _, u := range p.pending {
		out = append(out, u)
	}
	clear(p.pending)
	return out
}

// latest returns the latest sample and its sequence number.
func (b *broker) latest() ([]byte, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats, b.statsAt
}

// historyLen is how many one-second samples the charts show.
const historyLen = 60

// sample samples the server once a second until stopped, for every page:
// one sample, however many pages.
func (b *broker) sample(stopped chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	s := sampler{b: b, ops: []float64{}, changes: []float64{}}
	for {
		s.once()
		select {
		case <-stopped:
			return
		case <-b.srv.Done():
			return
		case <-tick.C:
		}
	}
}

// sampler keeps what one sample needs of the ones before.
type sampler struct {
	b                   *broker
	n                   int
	lastAt              time.Time
	lastOps, lastChange int64
	ops, changes        []float64 // per second, oldest first
	vars                int
	cluster             *clusterJSON
}

// stats is a "stats" event.
type stats struct {
	Server   server.Overview `json:"server"`
	Vars     int             `json:"vars"`
	Clients  []clientJSON    `json:"clients"`
	Locks    []lockJSON      `json:"locks"`
	Ops      []float64       `json:"ops"`
	Changes  []float64       `json:"changes"`
	Cluster  *clusterJSON    `json:"cluster,omitempty"`
	UptimeMS int64           `json:"uptime_ms"`
}

type clientJSON struct {
	ID       int64  `json:"id"`
	Addr     string `json:"addr"`
	Name     string `json:"name"`
	Proto    string `json:"proto"`
	Commands int64  `json:"commands"`
	LastCmd  string `json:"last_cmd"`
	AgeMS    int64  `json:"age_ms"`
	IdleMS   int64  `json:"idle_ms"`
	Locks    int    `json:"locks"`
	Subs     int    `json:"subs"`
	Local    bool   `json:"local"`
}

type lockJSON struct {
	Client  int64    `json:"client"`
	Addr    string   `json:"addr"`
	Names   []string `json:"names"`
	Mode    string   `json:"mode"`
	Waiting bool     `json:"waiting"`
	ForMS   int64    `json:"for_ms"`
	LeftMS  int64    `json:"left_ms"`
}

type clusterJSON struct {
	Node    string       `json:"node"`
	Role    string       `json:"role"`
	Leader  string       `json:"leader"`
	Term    uint64       `json:"term"`
	Commit  uint64       `json:"commit"`
	Members []memberJSON `json:"members"`
}

type memberJSON struct {
	ID      string `json:"id"`
	Addr    string `json:"addr"`
	Role    string `json:"role"`
	Applied uint64 `json:"applied"`
	Lag     int64  `json:"lag"`
}

// once takes one sample and hands it to the pages. Counting the
// variables reads every slot of the file: it is done every fifth sample.
func (s *sampler) once() {
	srv := s.b.srv
	now := time.Now()
	o := srv.Overview(s.n%5 == 0)
	if s.n%5 == 0 {
		s.vars = o.Vars
	}
	changes := s.b.changes.Load()
	if !s.lastAt.IsZero() {
		secs := now.Sub(s.lastAt).Seconds()
		s.ops = appendRing(s.ops, float64(max(o.Commands-s.lastOps, 0))/secs)
		s.changes = appendRing(s.changes, float64(changes-s.lastChange)/secs)
	}
	s.lastAt, s.lastOps, s.lastChange = now, o.Commands, changes
	if s.n%2 == 0 {
		s.cluster = clusterOf(srv)
	}
	s.n++
	st := stats{
		Server: o, Vars: s.vars, Clients: clientsOf(srv.Clients()), Locks: locksOf(srv.Locks(), now),
		Ops: s.ops, Changes: s.changes, Cluster: s.cluster, UptimeMS: o.Uptime.Milliseconds(),
	}
	body, err := json.Marshal(st)
	if err != nil {
		s.b.log.Error("web view: sample not encoded", "err", err)
		return
	}
	s.b.publish(body)
}

// publish makes body the latest sample and wakes every page.
func (b *broker) publish(body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats = body
	b.statsAt++
	for p := range b.pages {
		p.signal()
	}
}

func appendRing(r []float64, v float64) []float64 {
	r = append(r, v)
	if len(r) > historyLen {
		r = append(r[:0:0], r[len(r)-historyLen:]...)
	}
	return r
}

func clientsOf(cs []server.ClientInfo) []clientJSON {
	out := make([]clientJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, clientJSON{
			ID: c.ID, Addr: c.Addr, Name: c.Name, Proto: c.Proto, Commands: c.Commands, LastCmd: c.LastCmd,
			AgeMS: c.Age.Milliseconds(), IdleMS: c.Idle.Milliseconds(), Locks: c.Locks, Subs: c.Subs, Local: c.Local,
		})
	}
	return out
}

func locksOf(ls []server.LockInfo, now time.Time) []lockJSON {
	out := make([]lockJSON, 0, len(ls))
	for _, l := range ls {
		mode := "read"
		if l.Write {
			mode = "write"
		}
		out = append(out, lockJSON{
			Client: l.ClientID, Addr: l.Addr, Names: l.Names, Mode: mode, Waiting: l.Waiting,
			ForMS: now.Sub(l.Since).Milliseconds(), LeftMS: l.Left.Milliseconds(),
		})
	}
	return out
}

// clusterTimeout bounds asking the other nodes for their applied index.
const clusterTimeout = 800 * time.Millisecond

func clusterOf(srv *server.Server) *clusterJSON {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	cv, ok := srv.Cluster(ctx)
	if !ok {
		return nil
	}
	c := &clusterJSON{Node: cv.NodeID, Role: cv.Role, Leader: cv.LeaderID, Term: cv.Term, Commit: cv.CommitIndex, Members: []memberJSON{}}
	for _, m := range cv.Members {
		c.Members = append(c.Members, memberJSON{ID: m.ID, Addr: m.ClientAddr, Role: m.Role, Applied: m.Applied, Lag: m.Lag})
	}
	return c
}
