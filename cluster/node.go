package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Peer is one voter of a cluster: its ID and its Raft address.
type Peer struct {
	ID   string
	Addr string
	// Listener, if set, is used instead of listening on Addr (which is
	// then ignored): the node advertises the listener's address. Tests
	// open listeners first to learn every voter's address.
	Listener net.Listener
}

// Config describes a Node. Zero durations mean the defaults.
type Config struct {
	// ID is this node's ID, unique in its cluster.
	ID string
	// Addr is the node's cluster port ("host:port"; port 0 picks one,
	// which Node.Addr reports): Raft's traffic and the node's own
	// requests (forwarded writes, read indexes, membership, Hello) share
	// it. It is also the address other nodes reach this one at, so it
	// must not be a wildcard address.
	Addr string
	// Listener, if set, is used instead of listening on Addr (which is
	// then ignored): the node advertises the listener's address. Tests
	// open listeners first to learn every voter's address. The node
	// closes it at Shutdown.
	Listener net.Listener
	// Secret is the cluster secret: every connection to the cluster
	// port, either way, proves knowledge of it before anything else is
	// read (see auth.go); it never crosses the wire. Empty is a valid
	// (empty) key: whether to allow that is the daemon's choice.
	Secret []byte
	// TLS, if set, wraps the cluster port in TLS, for both the
	// connections the node accepts and those it dials; it verifies the
	// other side's certificate as configured (ClientAuth for the ones it
	// accepts, RootCAs for the ones it dials). The secret handshake runs
	// inside it all the same.
	TLS *tls.Config
	// ClientAddr is the node's client (RESP) address, advertised to the
	// other nodes (Hello, Status.LeaderClientAddr, Members).
	ClientAddr string
	// Dir holds the Raft log, stable store and snapshots; DefaultDir of
	// the memory file's path if empty.
	Dir string
	// Memory is the node's memory file; the node writes it, nobody else.
	// Every node's file has the same capacities and hash seed (see
	// BootstrapSeed), so that the same entries give the same layout.
	Memory *shm.Memory
	// Applier executes the replicated commands (see Applier); the server
	// supplies one from its command table. Every node must run the same.
	Applier Applier
	// Voters bootstrap a cluster that has no state yet (this node among
	// them); a node with state ignores them. A node with neither waits
	// to be added to a cluster (Join).
	Voters []Peer
	// HeartbeatTimeout, ElectionTimeout and LeaderLease: Raft's timing,
	// by default DefaultHeartbeatTimeout, DefaultElectionTimeout and
	// DefaultLeaderLease.
	HeartbeatTimeout, ElectionTimeout, LeaderLease time.Duration
	// LeaderWait bounds how long Write, ReadBarrier and the membership
	// calls wait for a leader before they fail with ErrNoLeader; default
	// DefaultLeaderWait.
	LeaderWait time.Duration
	// SnapshotThreshold: log entries between snapshots, default 8192.
	SnapshotThreshold uint64
	// TrailingLogs: log entries kept after a snapshot, for followers
	// that are behind, default 10240; one further behind gets the
	// snapshot.
	TrailingLogs uint64
	// OnRoleChange, if set, is called with the node's role ("leader",
	// "follower", "candidate" or "learner", as Status.Role) and the
	// leader's ID ("" if none is known) each time either changes. It
	// runs on the node's watch goroutine and must return promptly.
	OnRoleChange func(role, leaderID string)
	// LogOutput receives Raft's and the cluster port's log; nil discards
	// it.
	LogOutput io.Writer
	// BootID identifies the host's boot in the node's run state
	// (RunStateFile, HostCrashed); nil means BootID, Linux's. Tests set
	// it to stage a reboot.
	BootID BootIDFunc

	// decode decodes log entries, DecodeEntry if nil: a test stands a
	// newer dsm's decoder in for it (export_test.go).
	decode func([]byte) ([][]byte, error)
}

// Defaults for Config's timing. A follower starts an election when it has
// not heard from the leader for a random time between HeartbeatTimeout and
// twice that; the leader sends heartbeats every HeartbeatTimeout/10 and
// steps down when a quorum has not answered for LeaderLease. Raft's own
// defaults (1 s, 1 s, 500 ms) put a failover at 1-3 s.
//
// At 200 ms a dead leader is noticed within 200-400 ms; the vote succeeds
// once the other survivors have noticed too (they refuse a candidate while
// they still have a leader), else after one more random ElectionTimeout;
// the new leader's first commit takes milliseconds. On this 2-core
// machine's loopback (TestWriteFailover, 24 runs, 8 under -race) the
// leader's stop to the next write acknowledged through a survivor took
// 265-540 ms.
//
// Against flaps: a follower needs 200 ms of silence (ten heartbeats in a
// row) before it even asks for votes, and with Raft's pre-vote one
// follower's stall does not depose a leader the others still hear. The
// lease is the setting that flaps first under load: a starved leader that
// misses its quorum's answers for LeaderLease steps down. With three
// nodes, 32 writers and 8 CPU-bound goroutines in one process on 2 cores,
// a 150 ms lease deposed the leader in 4 of 5 five-second runs, 200 ms in
// 3 of 10 and 250 ms in none of 5; 250 ms timeouts would push failover to
// 330-760 ms. So the lease is as long as Raft allows (HeartbeatTimeout):
// it only decides how soon a leader cut off from its quorum stops taking
// writes, which the quorum's refusal to commit them makes safe anyway.
// Across slow or distant networks raise all three together.
const (
	DefaultHeartbeatTimeout = 200 * time.Millisecond
	DefaultElectionTimeout  = 200 * time.Millisecond
	DefaultLeaderLease      = 200 * time.Millisecond
	// DefaultLeaderWait is many election rounds: a write or read that
	// finds no leader outlasts a failover, even one with split votes.
	DefaultLeaderWait = 3 * time.Second
)

// BootstrapSeed is the hash seed (shm.Config.Seed) of the memory files of
// a cluster bootstrapped with voters: every node computes the same from the
// same voter IDs, so their files share a layout. A node that joins later
// must create its file with the cluster's seed (carried by snapshots).
func BootstrapSeed(voters []Peer) uint64 {
	ids := make([]string, len(voters))
	for i, p := range voters {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	h := fnv.New64a()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	if n := h.Sum64(); n != 0 {
		return n
	}
	return 1 // zero would mean a random seed
}

// DefaultDir is where a node keeps its Raft data for the memory file path.
func DefaultDir(path string) string { return path + ".raft" }

// Tuning beyond Raft's defaults. An idle follower learns of a commit only
// with the next append or within 2 x CommitTimeout (50 ms by default), so
// a low one keeps follower reads prompt; raft-boltdb syncs once per batch
// of appended entries, so a large batch makes writes fast.
const (
	commitTimeout    = 5 * time.Millisecond
	maxAppendEntries = 512
	snapshotsKept    = 2
	transportPool    = 3
	transportTimeout = 10 * time.Second
)

// Node is one member of a cluster: Raft and the node's own requests on one
// authenticated cluster port, its log in raft-boltdb, its snapshots in
// files, and an FSM over the node's memory file. It must be stopped with
// Shutdown.
type Node struct {
	id         string
	clientAddr string
	leaderWait time.Duration
	onRole     func(role, leaderID string)
	logger     hclog.Logger

	fsm      *FSM
	raft     *raft.Raft    // set once, before ready is closed
	ready    chan struct{} // closed once raft is set: the cluster port serves requests from then on
	trans    *raft.NetworkTransport
	store    *store // the Raft log and stable store, gated for Shutdown (store.go)
	mux      *mux
	rpc      *rpcClient
	observer *raft.Observer

	// ctx ends at Shutdown: it bounds every wait and request handler.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines the node started (watch, reads, barriers)

	spawnMu  sync.Mutex // guards stopping and orders wg.Add before Shutdown's wg.Wait
	stopping bool       // Shutdown has begun: no more goroutines

	leaderMu      sync.Mutex    // guards leaderChanged
	leaderChanged chan struct{} // closed (and replaced) when the leader or role may have changed

	peersMu sync.Mutex          // guards peers
	peers   map[string]peerInfo // what Hello told of other nodes, by ID

	reads       readRounds
	barrierTerm atomic.Uint64 // latest term in which a barrier completed as leader

	memberSem chan struct{} // one membership change at a time (a 1-slot semaphore)

	leaseMu      sync.Mutex // guards leadingSince
	leadingSince time.Time  // when this node last became leader; zero while it is not (lease.go)

	metrics counters

	dir  string // the Raft directory, where the run state is
	boot string // the host's boot ID, recorded in the run state
}

// NewNode starts a node. A node with no Raft state yet bootstraps a cluster
// of cfg.Voters; without Voters it waits to be added (Join). It records in
// its run state (RunStateFile) that it runs. If the memory file is behind
// the latest snapshot (an empty file, say) or holds an install cut short
// (shm.Memory.Incomplete), the snapshot is installed first; either way
// Raft then replays the log after the file's applied index (entries at or
// below it are skipped, see FSM.Apply). It trusts the file otherwise: the
// caller checks HostCrashed before it opens the file.
func NewNode(cfg Config) (*Node, error) {
	if cfg.ID == "" || (cfg.Addr == "" && cfg.Listener == nil) || cfg.Memory == nil || cfg.Applier == nil {
		return nil, fmt.Errorf("%w: ID, Addr (or Listener), Memory and Applier are required", ErrConfig)
	}
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir(cfg.Memory.Path())
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	fsm, err := NewFSM(cfg.Memory, cfg.Applier)
	if err != nil {
		return nil, err
	}
	if err := fsm.loadLocks(LockFile(cfg.Memory.Path())); err != nil {
		return nil, err
	}
	if cfg.decode != nil {
		fsm.decode = cfg.decode
	}
	boot, err := bootIDOf(cfg.BootID)
	if err != nil {
		return nil, err
	}
	logOut := cfg.LogOutput
	if logOut == nil {
		logOut = io.Discard
	}
	n := &Node{
		id: cfg.ID, clientAddr: cfg.ClientAddr, leaderWait: cfg.LeaderWait, onRole: cfg.OnRoleChange,
		logger: hclog.New(&hclog.LoggerOptions{Name: "raft", Output: logOut, Level: hclog.Info}),
		fsm:    fsm, leaderChanged: make(chan struct{}), peers: make(map[string]peerInfo),
		memberSem: make(chan struct{}, 1), ready: make(chan struct{}), dir: cfg.Dir, boot: boot,
	}
	if n.leaderWait <= 0 {
		n.leaderWait = DefaultLeaderWait
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.start(cfg); err != nil {
		n.cancel()
		n.closeTransport()
		n.closeStores()
		return nil, err
	}
	n.watchRaft()
	n.wg.Add(1)
	go n.keepLeases()
	return n, nil
}

func (n *Node) start(cfg Config) error {
	var err error
	db, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.Dir, "raft.db"),
		// The free list is rebuilt at open rather than written at every
		// commit: one write less per batch of entries.
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return err
	}
	n.store = &store{db: db}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsKept, n.logger)
	if err != nil {
		return err
	}
	// The run state says "running" before the file changes: a host crash
	// from here on is seen at the next start (HostCrashed).
	if err := writeRunState(cfg.Dir, "running", n.boot); err != nil {
		return err
	}
	if err := catchUpFromSnapshot(n.fsm, snaps, cfg.Memory.Incomplete(), n.logger); err != nil {
		return err
	}
	if n.fsm.locksAhead {
		return fmt.Errorf("%w: %s is ahead of %s (applied index %d) and no snapshot completes the file: move both away and start again",
			ErrBadSnapshot, LockFile(cfg.Memory.Path()), cfg.Memory.Path(), n.fsm.Applied())
	}
	if err := n.listen(cfg); err != nil {
		return err
	}
	rc := raftConfig(cfg, n.logger)
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	has, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return err
	}
	if !has && len(cfg.Voters) > 0 {
		if err := bootstrap(rc, n.store, snaps, n.trans, cfg.Voters); err != nil {
			return err
		}
	}
	// Recent entries stay in memory: replicating them to a follower, or
	// applying them, reads no database.
	logs, err := raft.NewLogCache(logCacheSize, n.store)
	if err != nil {
		return err
	}
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.store, snaps, n.trans); err != nil {
		return err
	}
	close(n.ready)
	return nil
}

// listen opens the cluster port: the mux authenticates every connection
// and serves the RPC streams, Raft's transport gets the Raft streams.
func (n *Node) listen(cfg Config) error {
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return err
		}
	}
	d := dialer{secret: cfg.Secret, tls: cfg.TLS}
	n.mux = newMux(ln, cfg.Secret, cfg.TLS, n.logger.Named("cluster-port"))
	n.rpc = newRPCClient(d)
	layer := &raftLayer{m: n.mux, dial: d.dial, closed: make(chan struct{})}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: transportPool, Timeout: transportTimeout, Logger: n.logger,
	})
	n.mux.start(n.serveRPC)
	return nil
}

func raftConfig(cfg Config, logger hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = logger
	rc.CommitTimeout = commitTimeout
	rc.MaxAppendEntries = maxAppendEntries
	// The node trusts its file (its applied index says what it holds)
	// rather than restore the latest snapshot over it at every start; see
	// catchUpFromSnapshot for a file that is behind.
	rc.NoSnapshotRestoreOnStart = true
	rc.HeartbeatTimeout = orDefault(cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	rc.ElectionTimeout = orDefault(cfg.ElectionTimeout, DefaultElectionTimeout)
	rc.LeaderLeaseTimeout = orDefault(cfg.LeaderLease, DefaultLeaderLease)
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	return rc
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func bootstrap(rc *raft.Config, store *store, snaps raft.SnapshotStore, trans raft.Transport, voters []Peer) error {
	var c raft.Configuration
	for _, p := range voters {
		addr := raft.ServerAddress(p.Addr)
		if raft.ServerID(p.ID) == rc.LocalID {
			addr = trans.LocalAddr() // the port may have been picked at listen
		}
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: addr})
	}
	return raft.BootstrapCluster(rc, store, store, snaps, trans, c)
}

// catchUpFromSnapshot installs the latest snapshot if the file is behind
// it: Raft, told not to restore at start, replays only the log after the
// snapshot, which the file would then miss. The snapshot's own applied
// index decides, not Raft's: Raft's counts entries (no-ops, configuration)
// that do not reach the FSM, and reinstalling what the file holds would
// bump every version. A file that holds an install cut short (incomplete,
// shm.Memory.Incomplete) gets the latest snapshot whatever its applied
// index says: part of it is the old content and part the new, and only
// the snapshot that install came from completes it.
func catchUpFromSnapshot(fsm *FSM, snaps raft.SnapshotStore, incomplete bool, logger hclog.Logger) error {
	list, err := snaps.List()
	switch {
	case err != nil:
		return err
	case len(list) == 0 && incomplete:
		return ErrIncomplete
	case len(list) == 0 || (!incomplete && list[0].Index <= fsm.Applied()):
		return nil
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	s, err := readSnapshot(rc)
	if err != nil || (!incomplete && s.applied <= fsm.Applied()) {
		return err
	}
	logger.Info("installing the latest snapshot at start", "snapshot", list[0].ID,
		"applied", s.applied, "file-applied", fsm.Applied(), "incomplete", incomplete)
	return fsm.install(s)
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.id }

// Addr returns the node's cluster port's address (its Raft address).
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// ClientAddr returns the client address the node advertises.
func (n *Node) ClientAddr() string { return n.clientAddr }

// FSM returns the node's state machine.
func (n *Node) FSM() *FSM { return n.fsm }

// Raft returns the underlying Raft instance, for what Node does not wrap.
func (n *Node) Raft() *raft.Raft { return n.raft }

// IsLeader reports whether the node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Snapshot takes a snapshot now and compacts the log up to it.
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// WaitApplied waits until the node's file holds the entry at index (see
// FSM.WaitApplied); it fails with ctx's error when ctx ends first and with
// ErrShutdown when the node stops.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.fsm.Applied() >= index {
		return nil // the usual case of a stale read: no context to make
	}
	ctx, cancel := n.bound(ctx)
	defer cancel()
	err := n.fsm.WaitApplied(ctx, index)
	if err != nil && n.ctx.Err() != nil {
		return ErrShutdown
	}
	return err
}

// bound returns ctx that also ends at Shutdown.
func (n *Node) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(n.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Shutdown stops the node's requests, Raft, the cluster port and the log
// store, in that order, and waits for the node's goroutines. Then it
// flushes the memory file to disk and records a clean stop in the run
// state (RunStateFile), so that the next start trusts the file even after
// a reboot. The memory file stays open: it belongs to the caller, who
// must not close it before Shutdown returns. It does not leave the
// cluster (see Remove).
func (n *Node) Shutdown() error {
	n.cancel()
	var err error
	if n.raft != nil {
		err = n.stopRaft()
		n.raft.DeregisterObserver(n.observer)
	}
	errs := []error{err, n.closeTransport()}
	n.stopSpawning()
	n.wg.Wait()
	errs = append(errs, n.closeStores())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return n.markStopped()
}

// stopRaft shuts Raft down. A replication goroutine blocked on a peer's
// stream can keep Raft's Shutdown waiting (seen once, with every node of a
// test stopping at once): after raftStopWait the transport is closed under
// it, which ends such waits; Shutdown closes it again, harmlessly.
func (n *Node) stopRaft() error {
	done := make(chan error, 1)
	go func() { done <- n.raft.Shutdown().Error() }()
	select {
	case err := <-done:
		return err
	case <-time.After(raftStopWait):
		n.closeTransport()
		return <-done
	}
}

// logCacheSize is how many recent log entries Raft keeps in memory.
const logCacheSize = 1024

// raftStopWait is how long Shutdown lets Raft stop by itself.
const raftStopWait = 2 * time.Second

// markStopped flushes the file, which Raft no longer writes, and only
// then records the clean stop: a power loss between the two leaves
// "running", and the next start rebuilds the file.
func (n *Node) markStopped() error {
	if err := n.fsm.m.Sync(); err != nil {
		return fmt.Errorf("flush the memory file before recording a clean stop: %w", err)
	}
	return writeRunState(n.dir, "stopped", n.boot)
}

// closeTransport closes Raft's transport, its pooled streams, the cluster
// port with every connection it accepted, and the node's RPC streams.
func (n *Node) closeTransport() error {
	var err error
	if n.trans != nil {
		n.trans.CloseStreams()
		n.trans.Close()
	}
	if n.mux != nil {
		err = n.mux.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	if n.rpc != nil {
		n.rpc.close()
	}
	return err
}

func (n *Node) closeStores() error {
	if n.store != nil {
		return n.store.close()
	}
	return nil
}
