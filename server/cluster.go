package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/planted"
	"github.com/dsm-dev/dsm/shm"
)

// ClusterConfig makes the server a node of a cluster (package cluster):
// every node holds the same variables, written through a Raft log. Config
// without one is a single host.
type ClusterConfig struct {
	// NodeID names this node in its cluster; required.
	NodeID string
	// Addr is the cluster port: Raft and the nodes' own requests
	// (forwarded writes, reads, joins), authenticated by Secret. It is
	// also the address the other nodes reach this one at, so it must not
	// be a wildcard. Listener, if set, is used instead (tests).
	Addr     string
	Listener net.Listener
	// ClientAddr is this node's client address as the other nodes and
	// clients are told it (MOVED, INFO cluster_leader_addr); required.
	ClientAddr string
	// Peers are the first voters, this node among them: a node with no
	// Raft state yet bootstraps a cluster of them. Join, instead, is any
	// member's client address: the node asks to be added there.
	Peers []cluster.Peer
	Join  string
	// Dir holds the Raft log and snapshots; the file's path plus ".raft"
	// if empty.
	Dir string
	// Secret authenticates every connection on the cluster port.
	Secret []byte
	// TLS, if set, wraps the cluster port in TLS (mutual when it
	// verifies client certificates); the secret's handshake runs inside.
	TLS *tls.Config
	// Redirect answers a write (or a read that must be linearizable) sent
	// to a follower with "-MOVED 0 leader:port" instead of forwarding it.
	Redirect bool
	// Raft's timing and log compaction; zero fields mean package
	// cluster's defaults.
	HeartbeatTimeout, ElectionTimeout, LeaderLease time.Duration
	SnapshotThreshold, TrailingLogs                uint64
	// RaftLog receives Raft's own log lines; nil discards them.
	RaftLog io.Writer
	// BootID identifies the host's boot (cluster.Config.BootID): a node
	// that was running under another boot discards its file at start and
	// rebuilds it. Nil means Linux's boot ID; tests stage reboots with it.
	BootID cluster.BootIDFunc
}

// clusterNode is a server's membership in a cluster.
type clusterNode struct {
	node     *cluster.Node
	redirect bool
}

// clusterFile sets what a node's new file is created with: the seed the
// peers bootstrap with or, for Join, the seed and capacities of the
// member asked, so that the same entries give the same file everywhere.
// Capacities asked for (flags) that differ from the cluster's are refused
// before any file is created. It returns what the member said of itself
// (zero without Join), which startCluster checks the file against and
// joins through: the member is asked once.
func clusterFile(ctx context.Context, c *shm.Config, cc *ClusterConfig, password string) (cluster.Hello, error) {
	if cc.Join == "" {
		c.Seed = cluster.BootstrapSeed(cc.Peers)
		return cluster.Hello{}, nil
	}
	if rejoining(c.Path, cc) {
		return cluster.Hello{}, nil
	}
	h, err := probeMember(ctx, cc, password)
	if err != nil {
		return h, err
	}
	asked := shm.Limits{Capacity: c.Vars, NameMax: c.NameMax, ValueMax: c.ValueMax, GroupMax: c.GroupMax}
	for _, f := range []struct{ asked, cluster int }{
		{asked.Capacity, h.Limits.Capacity}, {asked.NameMax, h.Limits.NameMax},
		{asked.ValueMax, h.Limits.ValueMax}, {asked.GroupMax, h.Limits.GroupMax},
	} {
		if f.asked != 0 && f.asked != f.cluster {
			return h, fmt.Errorf("%w: asked for %s, the cluster's files have %s: every node needs the same -vars, -name-max, -value-max and -group-max (leave them out to take the cluster's)",
				ErrCapacity, capacities(asked), capacities(h.Limits))
		}
	}
	c.Seed = h.Seed
	c.Vars, c.NameMax, c.ValueMax, c.GroupMax = h.Limits.Capacity, h.Limits.NameMax, h.Limits.ValueMax, h.Limits.GroupMax
	return h, nil
}

// rejoining reports whether a node started with Join has its file and
// Raft state from an earlier start: it was checked against the member then,
// and restarts without asking it again (the member may be down; any
// majority will do). startCluster asks the member after all if the node
// turns out not to be in the cluster's configuration yet.
func rejoining(path string, cc *ClusterConfig) bool {
	dir := cc.Dir
	if dir == "" {
		dir = cluster.DefaultDir(path)
	}
	for _, p := range []string{path, filepath.Join(dir, "raft.db")} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// probeMember learns, from the member Join names, the cluster's seed and
// capacities: its cluster port comes from its INFO cluster.
func probeMember(ctx context.Context, cc *ClusterConfig, password string) (cluster.Hello, error) {
	addr, err := memberClusterAddr(ctx, cc.Join, password)
	if err != nil {
		return cluster.Hello{}, fmt.Errorf("-join %s: %w", cc.Join, err)
	}
	h, err := cluster.Dialer{Secret: cc.Secret, TLS: cc.TLS}.Probe(ctx, addr)
	if err != nil {
		return cluster.Hello{}, fmt.Errorf("-join %s (cluster port %s): %w", cc.Join, addr, err)
	}
	return h, nil
}

// startCluster starts the server's node over its file. The file must have
// the cluster's seed and capacities: a file created elsewhere, or with
// other flags, would apply the same entries to another layout. member is
// what the member Join names said of itself (clusterFile).
func (s *Server) startCluster(cc *ClusterConfig, member cluster.Hello) error {
	if cc.NodeID == "" || cc.ClientAddr == "" || (cc.Addr == "" && cc.Listener == nil) {
		return fmt.Errorf("%w: a cluster node needs a node ID, a cluster address and a client address", ErrInvalidConfig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	if err := s.checkClusterFile(cc, member); err != nil {
		return err
	}
	// From here on the file is the node's: local processes write
	// through the daemon (filesocket.go), older programs refuse it.
	if err := s.mem.MarkReplicated(); err != nil {
		return fmt.Errorf("mark %s replicated: %w", s.mem.Path(), err)
	}
	s.cmds.clusterize()
	cfg := cluster.Config{
		ID: cc.NodeID, Addr: cc.Addr, Listener: cc.Listener, ClientAddr: cc.ClientAddr,
		Dir: cc.Dir, Memory: s.mem, Applier: newApplier(s), Voters: cc.Peers, Secret: cc.Secret, TLS: cc.TLS,
		HeartbeatTimeout: cc.HeartbeatTimeout, ElectionTimeout: cc.ElectionTimeout, LeaderLease: cc.LeaderLease,
		SnapshotThreshold: cc.SnapshotThreshold, TrailingLogs: cc.TrailingLogs, LogOutput: cc.RaftLog,
		OnRoleChange: s.roleChanged, BootID: cc.BootID,
	}
	node, err := cluster.NewNode(cfg)
	if err != nil {
		return err
	}
	s.cl = &clusterNode{node: node, redirect: cc.Redirect}
	registerClusterMetrics(s.metrics.reg, node)
	s.log.Info("cluster node started", "node", cc.NodeID, "cluster", node.Addr(), "applied", node.FSM().Applied())
	if cc.Join != "" && !inConfiguration(node) {
		if member.RaftAddr == "" { // not asked at start (rejoining)
			if member, err = probeMember(ctx, cc, s.cfg.Password); err == nil {
				err = s.checkClusterFile(cc, member)
			}
			if err != nil {
				node.Shutdown()
				return err
			}
		}
		if err := s.join(ctx, cc, member.RaftAddr); err != nil {
			node.Shutdown()
			return err
		}
	}
	l, err := s.listenFileSocket()
	if err != nil {
		node.Shutdown()
		return err
	}
	if !s.goFunc(func() { s.serveFileSocket(l) }) {
		l.Close()
	}
	return nil
}

// inConfiguration reports whether the node knows a cluster configuration:
// it was bootstrapped, or added to a cluster, before.
func inConfiguration(n *cluster.Node) bool {
	f := n.Raft().GetConfiguration()
	return f.Error() != nil || len(f.Configuration().Servers) > 0
}

// joinTimeout bounds what a node does at start with other nodes: learning
// the cluster's seed, checking its file against theirs, being added.
const joinTimeout = 30 * time.Second

// join asks the member named by Join, at its cluster address addr, to add
// this node. A cluster without a leader for a while (an election, a lost
// majority), or one whose leadership moved during the change, is asked
// again until ctx ends: a join is idempotent, and one that failed late
// may have added the node already.
func (s *Server) join(ctx context.Context, cc *ClusterConfig, addr string) error {
	d := cluster.Dialer{Secret: cc.Secret, TLS: cc.TLS}
	for {
		err := d.JoinVia(ctx, addr, cc.NodeID, s.cl.node.Addr())
		if err == nil {
			s.log.Info("joined the cluster", "via", cc.Join, "node", cc.NodeID)
			return nil
		}
		transient := errors.Is(err, cluster.ErrNoLeader) || errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrUnknownOutcome)
		if !transient || ctx.Err() != nil {
			return fmt.Errorf("-join %s: %w", cc.Join, err)
		}
		s.log.Warn("not joined yet; asking again", "via", cc.Join, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("-join %s: %w", cc.Join, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkClusterFile compares the file's seed and capacities with the
// cluster's: the seed the peers bootstrap with, or what the member to join
// reported (member).
func (s *Server) checkClusterFile(cc *ClusterConfig, member cluster.Hello) error {
	want := member
	switch {
	case cc.Join != "" && member.RaftAddr == "":
		return nil // rejoining: checked when it joined
	case cc.Join == "":
		want = cluster.Hello{Seed: cluster.BootstrapSeed(cc.Peers), Limits: s.mem.Limits()}
	}
	if got := s.mem.Seed(); got != want.Seed {
		return fmt.Errorf("%w: %s has hash seed %#x, the cluster's is %#x: it was not created for this cluster (move it away; the node then starts empty and catches up)",
			ErrCapacity, s.mem.Path(), got, want.Seed)
	}
	if got := s.mem.Limits(); !sameCapacities(got, want.Limits) {
		return fmt.Errorf("%w: %s has %s, the cluster's files have %s: every node needs the same -vars, -name-max, -value-max and -group-max",
			ErrCapacity, s.mem.Path(), capacities(got), capacities(want.Limits))
	}
	return nil
}

func sameCapacities(a, b shm.Limits) bool {
	return a.Capacity == b.Capacity && a.NameMax == b.NameMax && a.ValueMax == b.ValueMax && a.GroupMax == b.GroupMax
}

func capacities(l shm.Limits) string {
	return fmt.Sprintf("vars %d, name-max %d, value-max %d, group-max %d", l.Capacity, l.NameMax, l.ValueMax, l.GroupMax)
}

// roleChanged logs one line per role change of the node.
func (s *Server) roleChanged(role, leader string) {
	s.log.Info("cluster role changed", "role", role, "leader", leader)
}

// stopCluster hands leadership over (on a graceful stop) and stops the
// node; the file stays open for finish to close.
func (s *Server) stopCluster() error {
	if s.cl == nil {
		return nil
	}
	return s.cl.node.Shutdown()
}

// handOver moves leadership to another node before a graceful stop, so
// that the cluster does not wait out an election timeout.
func (s *Server) handOver(ctx context.Context) {
	if s.cl == nil || !s.cl.node.IsLeader() {
		return
	}
	if err := s.cl.node.Transfer(ctx, ""); err != nil {
		s.log.Warn("leadership not handed over before stopping", "err", err)
		return
	}
	s.log.Info("leadership handed over before stopping")
}

// clusterize makes the table's commands those of a cluster node: variable
// writes are replicated (replicate), reads of the variables are
// linearizable unless the connection asked for READONLY (linearize), EXEC
// is one log entry, and LOCK, UNLOCK and LOCKS work on the replicated lock
// table (clusterlocks.go). FLUSHALL and FLUSHDB are one entry each, a
// whole-file write on every node (cmd_flush.go).
func (t *commandTable) clusterize() {
	for _, cmd := range t.all {
		switch {
		case cmd.name == "exec":
			cmd.run = cmdExecReplicated
		case cmd.name == "lock":
			cmd.run = cmdLockCluster
		case cmd.name == "locks":
			cmd.run = cmdLocksCluster
		case cmd.name == "flushall" || cmd.name == "flushdb":
			cmd.run = cmdFlushReplicated
		case cmd.vars != nil && cmd.flags&flagWrite != 0:
			cmd.run = func(c *conn, args [][]byte) { c.replicate(args) }
		case cmd.flags&flagReadonly != 0 || cmd.name == "watch":
			run, cmd := cmd.run, cmd
			cmd.run = func(c *conn, args [][]byte) {
				if c.linearize() && c.readUnlocked(cmd, args) {
					run(c, args)
				}
			}
		}
	}
}

// replicate proposes a variable write through the cluster and answers with
// the reply its apply wrote.
func (c *conn) replicate(args [][]byte) {
	// Most commands name a few variables: count before making the list.
	if keyCount(c.cur, len(args))+1 > c.s.mem.Limits().GroupMax && !c.fitsGroup(keyNames(c.cur, args)) {
		return
	}
	entry := make([][]byte, 0, len(args)+1)
	entry = append(entry, replyProtocols[c.wr.Protocol()])
	c.propose(append(entry, args...))
}

// fitsGroup answers for a command whose variables (with the node's
// applied index) cannot be one lock group, before it reaches the log.
func (c *conn) fitsGroup(names [][]byte) bool {
	if n := len(c.possibleNames(names)); n+1 > c.s.mem.Limits().GroupMax {
		c.memError(shm.ErrTooMany)
		return false
	}
	return true
}

// propose writes entry through the node: to the leader, forwarded if this
// node is a follower (or answered MOVED with Redirect), and answers once
// this node has applied it, so the connection's next read here sees it.
func (c *conn) propose(entry [][]byte) {
	cl := c.s.cl
	if cl.redirect && !cl.node.IsLeader() {
		c.moved()
		return
	}
	if planted.On(planted.AckBeforeCommit) && ackEarly(c, entry) {
		return
	}
	r, err := c.write(entry, c.entryNames(entry))
	if err != nil {
		c.clusterFailed(err)
		return
	}
	c.seen = max(c.seen, r.Index)
	c.wr.Raw(r.Data)
	if len(r.Data) > 0 && r.Data[0] == '-' {
		c.countError(replyLine(r.Data[1:]))
	}
	c.dirty = true
}

// replyLine is an error reply's text, up to its CRLF.
func replyLine(b []byte) string {
	if i := strings.IndexByte(string(b), '\r'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// linearize makes the node's file hold every write acknowledged anywhere
// in the cluster before this read began (a ReadIndex round through the
// leader), unless the connection asked for READONLY: then it reads the
// node's own state, no older than what the connection has already seen.
// It answers the error itself and reports false when the read cannot be
// served.
func (c *conn) linearize() bool {
	cl := c.s.cl
	if c.readonly {
		if err := cl.node.WaitApplied(c.s.live.ctx, c.seen); err != nil {
			c.clusterFailed(err)
			return false
		}
		return true
	}
	if cl.redirect && !cl.node.IsLeader() {
		c.moved()
		return false
	}
	if err := cl.node.ReadBarrier(c.s.live.ctx); err != nil {
		c.clusterFailed(err)
		return false
	}
	c.seen = max(c.seen, cl.node.FSM().Applied())
	return true
}

// leaderClientAddr is the client address of the leader st names, "" if
// none. Just after an election a follower may not have heard the leader's
// Hello yet: Node.Leader asks it then.
func (s *Server) leaderClientAddr(st cluster.Status) string {
	if st.LeaderClientAddr != "" || st.LeaderID == "" {
		return st.LeaderClientAddr
	}
	ctx, cancel := context.WithTimeout(s.live.ctx, membersTimeout)
	defer cancel()
	_, addr, _ := s.cl.node.Leader(ctx)
	return addr
}

// moved answers Redis Cluster's redirection to the leader's client
// address, waiting for a leader as a forwarded write would, or
// CLUSTERDOWN when none turns up in time.
func (c *conn) moved() {
	_, addr, err := c.s.cl.node.Leader(c.s.live.ctx)
	switch {
	case err != nil:
		c.clusterFailed(err)
	case addr == "":
		c.fail(msgClusterDown)
	default:
		c.fail("MOVED 0 " + addr)
	}
}

const (
	msgClusterDown = "CLUSTERDOWN no leader: the command was not applied; try again"
	msgUncertain   = "UNCERTAIN the write may or may not have been applied (its outcome is unknown)"
)

// clusterFailed answers an error of the node.
func (c *conn) clusterFailed(err error) {
	switch {
	case errors.Is(err, cluster.ErrNoLeader):
		c.fail(msgClusterDown)
	case errors.Is(err, cluster.ErrUnknownOutcome):
		c.fail(msgUncertain)
	case errors.Is(err, cluster.ErrCommand):
		msg := strings.TrimPrefix(err.Error(), cluster.ErrCommand.Error()+": ")
		// The lock table's errors carry their own codes.
		if !errors.Is(err, cluster.ErrLockLost) && !errors.Is(err, cluster.ErrFenced) && !errors.Is(err, cluster.ErrLocked) {
			msg = "ERR " + msg
		}
		c.fail(msg)
	case errors.Is(err, context.Canceled):
		c.fail(msgClosing)
	default:
		c.fail("ERR cluster: " + err.Error())
	}
}

// cmdExecReplicated is EXEC on a cluster node: the transaction, with its
// watches, is one log entry, checked and run where it is applied.
func cmdExecReplicated(c *conn, args [][]byte) {
	tx := c.live.tx
	c.endTx()
	switch {
	case !tx.multi:
		c.fail(msgExecNoMulti)
		return
	case tx.failed:
		c.fail(msgExecAbort)
		return
	}
	for _, q := range tx.queue {
		if q.cmd.vars == nil {
			c.fail("ERR in a cluster a transaction holds only variable commands (GET, SET, INCR...); '" + q.cmd.name + "' is not one")
			return
		}
	}
	if !c.fitsGroup(txNames(tx)) {
		return
	}
	c.propose(encodeTx(c.wr.Protocol(), tx))
}

// cmdReadOnly and cmdReadWrite choose a connection's read consistency on a
// cluster node: READONLY reads the node's own state (possibly stale, never
// older than what the connection has seen), READWRITE goes back to
// linearizable reads. A single host's reads are always current.
func cmdReadOnly(c *conn, args [][]byte) {
	c.readonly = true
	c.wr.Simple("OK")
}

func cmdReadWrite(c *conn, args [][]byte) {
	c.readonly = false
	c.wr.Simple("OK")
}

// seedWriteReplicated is the seed's W on a cluster node: SET value n.
func (c *conn) seedWriteReplicated(n int32) error {
	entry := [][]byte{replyProtocols[2], []byte("set"), seedVar, []byte(itoa(int(n)))}
	r, err := c.s.cl.node.Write(c.s.live.ctx, entry)
	if err != nil {
		return fmt.Errorf("seed write: %w", err)
	}
	if string(r.Data) != "+OK\r\n" {
		return fmt.Errorf("seed write: %q", r.Data)
	}
	c.seen = max(c.seen, r.Index)
	return nil
}

// varCount is the number of variables clients see: a cluster node's
// reserved ones (its applied index) left out.
func (s *Server) varCount() int {
	n := s.mem.Len()
	if s.cl != nil {
		if ok, _ := s.mem.Exists([]byte(cluster.AppliedName)); ok {
			n--
		}
	}
	return n
}
