package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/redolog"
	"github.com/dsm-dev/dsm/shm"
)

// Server serves one memory file over TCP. Build it with New; it owns the
// mapping until Shutdown or Close returns. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     settings
	log     *slog.Logger
	connLog *connLog // which connections get log lines (connlog.go)
	mem     *shm.Memory
	cmds    *commandTable
	metrics *metrics
	stats   stats
	runID   string
	nameMax int          // the file's longest name; fixed at creation
	live    liveServer   // subscriptions, client-held locks, transactions (route.go)
	redo    *redolog.Log // the redo log under SyncAlways, else nil
	cl      *clusterNode // the node's membership in a cluster, nil on a single host

	scanHook atomic.Pointer[func()] // unset but in tests: called at each variable a KEYS or SCAN visits

	clientMem clientMem    // the clients' buffers against ClientMemMax (clientmem.go)
	waiters   sync.Map     // *conn -> *lockWait: connections waiting in LOCK (observe.go)
	slowlog   *slowlog     // SLOWLOG (slowlog.go)
	monitors  monitors     // MONITOR (monitor.go)
	notify    atomic.Int32 // notify-keyspace-events' flags (keyspace.go)

	nextID     atomic.Int64
	goroutines atomic.Int64
	closing    atomic.Bool
	wg         sync.WaitGroup // every goroutine started by goFunc
	quit       chan struct{}  // closed when background goroutines must stop
	refusing   chan struct{}  // a token per refused client awaiting its first bytes (access.go)
	lingering  chan struct{}  // a token per closed connection draining its input (linger.go)
	closeOnce  sync.Once
	closeErr   error
	fatal      atomic.Pointer[error] // the storage failure that stopped the server (storage.go)

	mu      sync.Mutex             // guards the fields below
	closers map[io.Closer]struct{} // listeners and HTTP servers, closed when closing begins
	conns   map[*conn]struct{}
	addr    net.Addr // first listener's address, for INFO and CONFIG GET
}

// New opens (or creates) the memory file and returns a Server ready to
// Serve it. It takes the file's one-daemon lock, so a second Server (or
// dsmd) on the same file fails with an error wrapping shm.ErrLocked. The
// caller must call Shutdown or Close to release the file.
func New(cfg Config) (*Server, error) { return newServer(cfg, false) }

// newServer is New; recovering opens a cluster node's file without
// starting its node, for RecoverCluster.
func newServer(cfg Config, recovering bool) (*Server, error) {
	st, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	shmCfg := shmConfig(st)
	var member cluster.Hello // what the member -join names said of itself
	if cc := st.Cluster; cc != nil {
		if err := discardAfterHostCrash(st); err != nil {
			return nil, err
		}
		// An install cut short is completed from the node's snapshot
		// (cluster.NewNode); a single host has nothing to complete it with.
		shmCfg.AllowIncomplete = true
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		member, err = clusterFile(ctx, &shmCfg, cc, st.Password)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	mem, err := shm.Open(shmCfg)
	if err != nil {
		return nil, err
	}
	if mem.Replicated() && st.Cluster == nil && !recovering {
		mem.Close()
		return nil, fmt.Errorf("%w: %s is replicated (file format 2): start dsmd as its node (-node-id with -peers or -join), or move the file away", ErrReplicatedFile, st.File)
	}
	if err := checkCapacities(st, mem); err != nil {
		mem.Close()
		return nil, err
	}
	if err := checkFile(mem, st.Logger); err != nil {
		mem.Close()
		return nil, err
	}
	j, err := startRedo(mem, st)
	if err != nil {
		mem.Close()
		return nil, err
	}
	s := &Server{
		cfg: st, log: st.Logger, connLog: newConnLog(st.Logger), mem: mem, runID: newRunID(), redo: j,
		quit:    make(chan struct{}),
		closers: map[io.Closer]struct{}{},
		conns:   map[*conn]struct{}{},
		slowlog: newSlowlog(),
	}
	s.stats.started = time.Now()
	s.refusing = make(chan struct{}, refuseSlots)
	s.lingering = make(chan struct{}, lingerSlots)
	s.nameMax = mem.Limits().NameMax
	s.metrics = newMetrics(s)
	s.cmds = newCommandTable()
	s.metrics.bindCommands(s.cmds.names())
	s.stats.cmds = make([]cmdStat, len(s.cmds.all))
	s.initLive()
	if st.Cluster != nil {
		if err := s.startCluster(st.Cluster, member); err != nil {
			s.live.stop()
			if s.redo != nil {
				s.redo.Close()
			}
			mem.Close()
			return nil, err
		}
	}
	s.goFunc(s.syncLoop)
	// No count of the variables here: checkFile has just read every slot
	// (8 ms for 65536 on a warm page cache; on a cold one, the whole file),
	// and the daemon starts at once.
	s.log.Info("memory open", "file", mem.Path(), "capacity", mem.Limits().Capacity, "sync", st.Sync.String())
	return s, nil
}

// checkFile verifies the body of the file before anything is served (Open
// read only its header). Damage to what is derived from the slots (the
// index, the free list) is rebuilt, with a warning per problem; damage to
// a slot itself refuses the start with an error that names every problem.
// Local processes may be using the file meanwhile: shm.Memory.Repair works
// under the index lock and is crash-safe, so dsmd dying in it is harmless.
func checkFile(mem *shm.Memory, log *slog.Logger) error {
	repaired, remains := mem.Repair()
	for _, p := range shm.Problems(repaired) {
		log.Warn("memory file repaired", "file", mem.Path(), "problem", p.Error())
	}
	if remains != nil {
		return fmt.Errorf("refusing to serve %s (dsm -file %s check lists the damage): %w", mem.Path(), mem.Path(), remains)
	}
	return nil
}

func shmConfig(st settings) shm.Config {
	c := shm.Config{
		Path: st.File, Vars: st.Vars, NameMax: st.NameMax, ValueMax: st.ValueMax, Lanes: st.LockLanes, GroupMax: st.GroupMax,
		FileGroup: st.FileGroup, Exclusive: true,
	}
	if st.FileGroup != "" {
		c.Mode = 0o660
	}
	return c
}

// checkCapacities compares the capacities st asks for with those of the
// file, which were fixed when it was created: a difference is a warning
// that names the file's values (they are the ones in force), or an error
// wrapping ErrCapacity under Strict. Fields left zero are not compared.
func checkCapacities(st settings, mem *shm.Memory) error {
	lim := mem.Limits()
	var differ []string
	for _, f := range []struct {
		name        string
		asked, file int
	}{{"vars", st.Vars, lim.Capacity}, {"name-max", st.NameMax, lim.NameMax}, {"value-max", st.ValueMax, lim.ValueMax}} {
		if f.asked != 0 && f.asked != f.file {
			differ = append(differ, fmt.Sprintf("%s %d (asked %d)", f.name, f.file, f.asked))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	what := strings.Join(differ, ", ")
	if st.Strict {
		return fmt.Errorf("%w: %s has %s", ErrCapacity, mem.Path(), what)
	}
	st.Logger.Warn("the file's capacities differ from those asked for; the file's are kept",
		"file", mem.Path(), "file_has", what)
	return nil
}

// goFunc runs f on a new goroutine that finish waits for. Every goroutine
// of the server starts here. Once the server is closing it starts nothing
// and returns false; checking under s.mu keeps wg.Add from racing wg.Wait.
func (s *Server) goFunc(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Add(1)
	s.goroutines.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.goroutines.Add(-1)
		f()
	}()
	return true
}

// ShutdownGrace bounds the graceful shutdown that ListenAndServe does when
// its context ends; connections still busy then are closed.
const ShutdownGrace = 30 * time.Second

// ListenAndServe binds Config.Addr (and Config.MetricsAddr when set), then
// opens or creates the memory file as New does, and serves it until ctx
// ends. Binding comes first so that a taken port fails before the file is
// touched: no new file (tens of MB with the default capacities) is left
// behind, and no redo log is replayed for nothing.
//
// When ctx ends, ListenAndServe shuts the server down as Shutdown does,
// within ShutdownGrace, and returns Shutdown's error (nil after a clean
// stop). If serving fails first (see Serve), it closes the server and
// returns that error.
func ListenAndServe(ctx context.Context, cfg Config) error {
	l, ml, err := listen(cfg)
	if err != nil {
		return err
	}
	s, err := New(cfg)
	if err != nil {
		l.Close()
		if ml != nil {
			ml.Close()
		}
		return err
	}
	return s.serveUntil(ctx, l, ml)
}

// listen binds cfg.Addr (DefaultAddr when empty) and cfg.MetricsAddr when
// set; ml is nil otherwise.
func listen(cfg Config) (l, ml net.Listener, err error) {
	if l, err = net.Listen("tcp", cmp.Or(cfg.Addr, DefaultAddr)); err != nil {
		return nil, nil, err
	}
	if cfg.MetricsAddr == "" {
		return l, nil, nil
	}
	if ml, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, ml, nil
}

// serveUntil serves l, and metrics on ml unless it is nil, until ctx ends
// or Serve fails; see ListenAndServe.
func (s *Server) serveUntil(ctx context.Context, l, ml net.Listener) error {
	if ml != nil && !s.goFunc(func() { s.serveMetricsLogged(ml) }) {
		ml.Close()
	}
	shut := make(chan error, 1)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		shut <- s.Shutdown(sctx)
	})
	err := s.Serve(l)
	if stop() { // ctx has not ended: Serve failed by itself
		s.Close()
		return err
	}
	if serr := <-shut; serr != nil || errors.Is(err, ErrServerClosed) {
		return serr
	}
	return err
}

func (s *Server) serveMetricsLogged(l net.Listener) {
	if err := s.ServeMetrics(l); !errors.Is(err, ErrServerClosed) {
		s.log.Error("metrics server failed", "addr", l.Addr().String(), "err", err)
	}
}

// Serve accepts connections on l and serves each on its own goroutine. It
// returns ErrServerClosed after Shutdown or Close; any other error is an
// accept failure that is not temporary. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error { return s.serveListener(l, false) }

// serveListener is Serve; fileSocket marks the file's socket for its
// local processes (filesocket.go), whose clients need no AUTH and whose
// address is not the server's.
func (s *Server) serveListener(l net.Listener, fileSocket bool) error {
	tracked := s.trackListener(l)
	if fileSocket {
		tracked = s.trackCloser(l)
	}
	if !tracked {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrackListener(l)
	s.log.Info("listening", "addr", l.Addr().String(), "protected", s.protected(), "tls", s.cfg.tls != nil, "local_processes", fileSocket)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if backoff, err = s.acceptFailed(err, backoff); err != nil {
				return err
			}
			continue
		}
		backoff = 0
		s.admit(nc, fileSocket)
	}
}

// acceptFailed sleeps with a growing backoff after a temporary error and
// returns the error that ends Serve otherwise.
func (s *Server) acceptFailed(err error, backoff time.Duration) (time.Duration, error) {
	if s.closing.Load() {
		return 0, s.closedErr()
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(err) {
		return 0, err
	}
	backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
	s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
	select {
	case <-time.After(backoff):
	case <-s.quit:
	}
	return backoff, nil
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// admit starts serving nc, or refuses it when MaxClients are connected;
// fileSocket says that nc came through the file's socket.
func (s *Server) admit(nc net.Conn, fileSocket bool) {
	s.stats.connections.Add(1)
	s.metrics.conns.Inc()
	c := newConn(s, nc)
	c.fileSocket = fileSocket
	if !s.trackConn(c) {
		s.refuseLater(nc, refusedMaxClients)
		return
	}
	if !s.goFunc(c.serve) {
		s.untrackConn(c)
		nc.Close()
	}
}

// refuse writes one error line to nc and closes it, lingering so that the
// client can read the line (linger.go). The write has a short deadline so
// that a client that does not read cannot stall the caller. It is for a
// client known not to speak the seed protocol: refuseByProto finds that
// out first.
func (s *Server) refuse(nc net.Conn, reason, msg string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := io.WriteString(nc, "-"+msg+"\r\n")
	s.refused(nc, reason, "resp") // before the client sees the end
	if err != nil {
		nc.Close()
		return
	}
	s.closeAfterReply(nc, nil)
}

// hangUp closes a refused connection without a word (a seed client would
// read any text as a value), after it counts and logs the refusal: a test
// (or an operator) that sees the connection end finds it logged.
func (s *Server) hangUp(nc net.Conn, reason, proto string) {
	s.refused(nc, reason, proto) // before the client sees the end
	nc.Close()
}

// refused counts and logs a refusal.
func (s *Server) refused(nc net.Conn, reason, proto string) {
	s.stats.rejected.Add(1)
	s.metrics.rejected.WithLabelValues(reason).Inc()
	if s.connLog.admit() {
		s.log.Info("client refused", "addr", nc.RemoteAddr().String(), "reason", reason, "proto", proto)
	}
}

// trackListener registers l to be closed by Shutdown and notes the first
// listener's address; false means the server is already closing.
func (s *Server) trackListener(l net.Listener) bool {
	if !s.trackCloser(l) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		s.addr = l.Addr()
	}
	return true
}

func (s *Server) untrackListener(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.closers, l)
	l.Close()
}

// trackCloser registers c to be closed by Shutdown; false means the server
// is already closing.
func (s *Server) trackCloser(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.closers[c] = struct{}{}
	return true
}

// trackConn registers c; false means MaxClients are connected.
func (s *Server) trackConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.cfg.MaxClients {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// connsByID returns the connections in id order.
func (s *Server) connsByID() []*conn {
	s.mu.Lock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (s *Server) clientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// listenAddr returns the first listener's address, or nil before Serve.
func (s *Server) listenAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops the server gracefully: it closes the listeners, lets every
// connection finish the requests it has received (their replies are
// written), closes the connections, flushes the file and closes it. If ctx
// ends first, the remaining connections are closed at once and Shutdown
// returns ctx's error after the file is flushed and closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.handOver(ctx)
	s.stopListening()
	err := s.drain(ctx)
	if cerr := s.finish(); err == nil {
		err = cerr
	}
	return err
}

// Close stops the server at once: listeners and connections are closed
// without waiting for requests in flight; then the file is flushed and
// closed.
func (s *Server) Close() error {
	s.stopListening()
	s.closeConns()
	return s.finish()
}

// drain wakes every connection until all have ended or ctx ends. A woken
// connection finishes the commands it has read, writes their replies and
// ends; waking again covers one that was between reads.
func (s *Server) drain(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.wakeConns() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.closeConns()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// wakeConns makes every blocked read return and reports how many
// connections remain.
func (s *Server) wakeConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.wake()
	}
	return len(s.conns)
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// finish stops the background goroutines, waits for every goroutine, then
// flushes and closes the file. Only the first call does the work; later
// calls return its result.
func (s *Server) finish() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		if ferr := s.storageErr(); ferr != nil {
			s.closeErr = s.abandon(ferr)
			return
		}
		s.wg.Wait()
		s.connLog.close()
		err := s.stopCluster()
		if serr := s.syncFile(); err == nil {
			err = serr
		}
		if s.redo != nil && err == nil {
			// The flush covers every change the redo log holds.
			s.mem.SetRedoLog(nil)
			err = s.redo.Close()
		}
		if cerr := s.mem.Close(); err == nil {
			err = cerr
		}
		s.closeErr = err
		if err != nil {
			s.log.Error("memory closed with an error", "file", s.cfg.File, "err", err)
		} else {
			s.log.Info("memory closed", "file", s.cfg.File)
		}
	})
	return s.closeErr
}

// protected reports whether protected mode is on: neither a password nor an
// allow-list, so only loopback clients are admitted.
func (s *Server) protected() bool {
	return s.cfg.Password == "" && len(s.cfg.Allow) == 0
}

// newRunID returns 40 random hex digits, like Redis' run_id.
func newRunID() string {
	var b [20]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
