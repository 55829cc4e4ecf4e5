package server

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/resp"
	"github.com/prometheus/client_golang/prometheus"
)

// infoCluster is INFO's cluster section: Redis' cluster_enabled, then the
// node's view of its cluster (PRODUCT.md names the fields).
func infoCluster(s *Server, b *infoWriter) {
	if s.cl == nil {
		b.field("cluster_enabled", 0)
		return
	}
	st := s.cl.node.Status()
	b.field("cluster_enabled", 1)
	b.field("cluster_node_id", st.ID)
	b.field("cluster_role", clusterRole(st))
	b.field("cluster_addr", s.cl.node.Addr())
	b.field("cluster_leader_id", st.LeaderID)
	b.field("cluster_leader_addr", s.leaderClientAddr(st))
	b.field("cluster_term", st.Term)
	b.field("cluster_commit_index", st.CommitIndex)
	b.field("cluster_applied_index", st.FileApplied)
	b.field("cluster_voters", st.Voters)
	b.field("cluster_last_contact_ms", lastContactMS(st))
	m := s.cl.node.Metrics()
	b.field("cluster_leader_changes", m.LeaderChanges)
	b.field("cluster_proposals", m.Proposals)
	b.field("cluster_forwarded_writes", m.ForwardedWrites)
	b.field("cluster_read_rounds", m.ReadRounds)
}

// clusterRole is the node's role in PRODUCT.md's words.
func clusterRole(st cluster.Status) string { return st.Role }

// lastContactMS is how long ago the leader was last heard from: 0 on the
// leader, -1 if never.
func lastContactMS(st cluster.Status) int64 {
	switch {
	case st.Role == "leader":
		return 0
	case st.LastContact.IsZero():
		return -1
	}
	return time.Since(st.LastContact).Milliseconds()
}

// infoReplicationCluster is INFO replication on a cluster node, in Redis'
// terms: the leader is the master, followers are its slaves, and the
// offsets are applied log indexes.
func infoReplicationCluster(s *Server, b *infoWriter) {
	st := s.cl.node.Status()
	if st.Role == "leader" {
		b.field("role", "master")
		b.field("connected_slaves", max(st.Voters-1, 0))
	} else {
		host, port := splitHostPort(s.leaderClientAddr(st))
		b.field("role", "slave")
		b.field("master_host", host)
		b.field("master_port", port)
		b.field("master_link_status", linkStatus(st))
		b.field("master_last_io_seconds_ago", max(lastContactMS(st)/1000, -1))
		b.field("master_sync_in_progress", 0)
		b.field("slave_repl_offset", st.FileApplied)
		b.field("slave_priority", 100)
		b.field("slave_read_only", 0)
		b.field("replica_announced", 1)
	}
	b.field("master_failover_state", "no-failover")
	b.field("master_replid", s.runID)
	b.field("master_replid2", strings.Repeat("0", 40))
	b.field("master_repl_offset", st.FileApplied)
	b.field("second_repl_offset", -1)
}

func linkStatus(st cluster.Status) string {
	if st.LeaderID == "" {
		return "down"
	}
	return "up"
}

func splitHostPort(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

// cmdRole answers ROLE as Redis does: a single host is a master without
// replicas; a cluster's leader is the master, its followers slaves.
func cmdRole(c *conn, args [][]byte) {
	if c.s.cl == nil {
		c.wr.Array(3)
		c.wr.BulkString("master")
		c.wr.Int(0)
		c.wr.Array(0)
		return
	}
	st := c.s.cl.node.Status()
	if st.Role == "leader" {
		members := c.s.clusterMembers()
		c.wr.Array(3)
		c.wr.BulkString("master")
		c.wr.Int(int64(st.FileApplied))
		var others []cluster.Member
		for _, m := range members {
			if m.ID != st.ID {
				others = append(others, m)
			}
		}
		c.wr.Array(len(others))
		for _, m := range others {
			host, port := splitHostPort(m.ClientAddr)
			c.wr.Array(3)
			c.wr.BulkString(host)
			c.wr.BulkString(itoa(port))
			c.wr.BulkString("0")
		}
		return
	}
	host, port := splitHostPort(c.s.leaderClientAddr(st))
	state := "connected"
	if st.LeaderID == "" {
		state = "connect"
	}
	c.wr.Array(5)
	c.wr.BulkString("slave")
	c.wr.BulkString(host)
	c.wr.Int(int64(port))
	c.wr.BulkString(state)
	c.wr.Int(int64(st.FileApplied))
}

// membersTimeout bounds asking other nodes for their client addresses
// while answering INFO, ROLE or a redirection.
const membersTimeout = 2 * time.Second

// clusterMembers lists the cluster's members, or none when the node
// cannot tell.
func (s *Server) clusterMembers() []cluster.Member {
	ctx, cancel := context.WithTimeout(s.live.ctx, membersTimeout)
	defer cancel()
	ms, err := s.cl.node.Members(ctx)
	if err != nil {
		return nil
	}
	return ms
}

// msgNotCluster answers CLUSTER on a single host.
const msgNotCluster = "ERR this server is not a cluster node (dsmd -peers or -join starts one)"

// clusterCommand is CLUSTER: the operator's view and changes of the
// cluster (dsm cluster ...).
func clusterCommand() *command {
	return container(
		&command{name: "cluster", arity: -2, category: "cluster", since: "dsm 2", summary: "Shows and changes the cluster's membership."},
		&command{name: "members", arity: 2, flags: flagAdmin, since: "dsm 2", summary: "Lists the members: id, cluster address, client address, voter, leader.", run: clusterMembersCmd},
		&command{name: "join", arity: 4, flags: flagAdmin, since: "dsm 2", summary: "Adds a node (id, cluster address): a non-voter until it has caught up, then a voter.", args: []arg{argStr("node-id"), argStr("cluster-address")}, run: clusterJoinCmd},
		&command{name: "remove", arity: 3, flags: flagAdmin, since: "dsm 2", summary: "Removes a node from the cluster.", args: []arg{argStr("node-id")}, run: clusterRemoveCmd},
		&command{name: "transfer", arity: -2, flags: flagAdmin, since: "dsm 2", summary: "Hands leadership to the node named, or to any.", args: []arg{argStr("node-id").opt()}, run: clusterTransferCmd},
		&command{name: "sync", arity: 2, since: "dsm 2", summary: "Returns once this node's file holds every write acknowledged before the call (a read barrier), with its applied index.", run: clusterSyncCmd},
		&command{name: "snapshot", arity: 2, flags: flagAdmin, since: "dsm 2", summary: "Takes a snapshot on this node and compacts its log.", run: clusterSnapshotCmd},
		&command{name: "help", arity: 2, since: "5.0.0", summary: "Lists the CLUSTER subcommands.", run: cmdHelp},
	)
}

// clusterAdmin runs an operator's request against the node with a bounded
// wait, answering OK or the error.
func (c *conn) clusterAdmin(f func(ctx context.Context, n *cluster.Node) error) {
	if c.s.cl == nil {
		c.fail(msgNotCluster)
		return
	}
	ctx, done := c.waitContext(adminTimeout)
	err := f(ctx, c.s.cl.node)
	done()
	if err != nil {
		c.clusterFailed(err)
		return
	}
	c.wr.Simple("OK")
}

// adminTimeout bounds a membership change or a snapshot asked for by an
// operator: a join waits for the new node to catch up.
const adminTimeout = 2 * time.Minute

func clusterMembersCmd(c *conn, args [][]byte) {
	if c.s.cl == nil {
		c.fail(msgNotCluster)
		return
	}
	ctx, done := c.waitContext(10 * time.Second)
	ms, err := c.s.cl.node.Members(ctx)
	done()
	if err != nil {
		c.clusterFailed(err)
		return
	}
	c.wr.Array(len(ms))
	for _, m := range ms {
		c.wr.Map(5)
		c.wr.BulkString("id")
		c.wr.BulkString(m.ID)
		c.wr.BulkString("cluster_addr")
		c.wr.BulkString(m.RaftAddr)
		c.wr.BulkString("client_addr")
		c.wr.BulkString(m.ClientAddr)
		c.wr.BulkString("voter")
		c.wr.Int(int64(boolInt(m.Voter)))
		c.wr.BulkString("leader")
		c.wr.Int(int64(boolInt(m.Leader)))
	}
}

func clusterJoinCmd(c *conn, args [][]byte) {
	id, addr := string(args[2]), string(args[3])
	c.clusterAdmin(func(ctx context.Context, n *cluster.Node) error { return n.Join(ctx, id, addr) })
}

func clusterRemoveCmd(c *conn, args [][]byte) {
	id := string(args[2])
	c.clusterAdmin(func(ctx context.Context, n *cluster.Node) error { return n.Remove(ctx, id) })
}

func clusterTransferCmd(c *conn, args [][]byte) {
	id := ""
	if len(args) > 2 {
		id = string(args[2])
	}
	c.clusterAdmin(func(ctx context.Context, n *cluster.Node) error { return n.Transfer(ctx, id) })
}

// clusterSyncCmd is CLUSTER SYNC: the barrier of shm's SyncReads. The
// node's file is the one local processes map, so once it holds the
// writes, so do their mappings; the answer is the node's applied index.
func clusterSyncCmd(c *conn, args [][]byte) {
	if c.s.cl == nil {
		c.fail(msgNotCluster)
		return
	}
	if err := c.s.cl.node.ReadBarrier(c.s.live.ctx); err != nil {
		c.clusterFailed(err)
		return
	}
	applied := c.s.cl.node.FSM().Applied()
	c.seen = max(c.seen, applied)
	c.wr.Int(int64(applied))
}

func clusterSnapshotCmd(c *conn, args [][]byte) {
	c.clusterAdmin(func(ctx context.Context, n *cluster.Node) error { return n.Snapshot() })
}

// memberClusterAddr asks the dsmd at a client address for its cluster port
// (INFO cluster's cluster_addr), authenticating with password if set.
func memberClusterAddr(ctx context.Context, addr, password string) (string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	w := resp.NewWriter(nc, 0)
	rd := resp.NewReplyReader(nc, 0, 1<<20)
	ask := func(args ...string) (string, error) {
		w.Array(len(args))
		for _, a := range args {
			w.BulkString(a)
		}
		if err := w.Flush(); err != nil {
			return "", err
		}
		rep, err := rd.Read()
		switch {
		case err != nil:
			return "", err
		case rep.IsError():
			return "", errors.New(string(rep.Str))
		}
		return string(rep.Str), nil
	}
	if password != "" {
		if _, err := ask("AUTH", password); err != nil {
			return "", err
		}
	}
	text, err := ask("INFO", "cluster")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(text, "\r\n") {
		if v, ok := strings.CutPrefix(line, "cluster_addr:"); ok {
			return v, nil
		}
	}
	return "", errors.New("not a cluster node (its INFO cluster has no cluster_addr)")
}

// registerClusterMetrics adds the node's figures to the server's metrics:
// its events as counters, its indexes, lag and role as gauges.
func registerClusterMetrics(reg *prometheus.Registry, n *cluster.Node) {
	counter := func(name, help string, f func(cluster.Metrics) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(n.Metrics())) })
	}
	status := func(name, help string, f func(cluster.Status) float64) prometheus.Collector {
		return gauge(name, help, func() float64 { return f(n.Status()) })
	}
	reg.MustRegister(
		counter("dsm_cluster_leader_changes_total", "Times this node saw a new leader.", func(m cluster.Metrics) uint64 { return m.LeaderChanges }),
		counter("dsm_cluster_proposals_total", "Entries this node proposed as leader.", func(m cluster.Metrics) uint64 { return m.Proposals }),
		counter("dsm_cluster_forwarded_writes_total", "Writes this node forwarded to the leader.", func(m cluster.Metrics) uint64 { return m.ForwardedWrites }),
		counter("dsm_cluster_read_rounds_total", "Read-index rounds this node ran for linearizable reads.", func(m cluster.Metrics) uint64 { return m.ReadRounds }),
		counter("dsm_cluster_refused_connections_total", "Connections to the cluster port that failed authentication.", func(m cluster.Metrics) uint64 { return m.RefusedConns }),
		status("dsm_cluster_term", "The node's Raft term.", func(st cluster.Status) float64 { return float64(st.Term) }),
		status("dsm_cluster_commit_index", "Highest log index the node knows committed.", func(st cluster.Status) float64 { return float64(st.CommitIndex) }),
		status("dsm_cluster_applied_index", "Last log entry applied to the node's file.", func(st cluster.Status) float64 { return float64(st.FileApplied) }),
		status("dsm_cluster_apply_lag", "Committed log entries the node has not applied yet.", func(st cluster.Status) float64 {
			return float64(st.CommitIndex - min(st.AppliedIndex, st.CommitIndex))
		}),
		status("dsm_cluster_leader", "1 while the node leads, else 0.", func(st cluster.Status) float64 { return float64(boolInt(st.Role == "leader")) }),
		status("dsm_cluster_last_contact_seconds", "Seconds since the leader was last heard from (0 on the leader, -1 never).", func(st cluster.Status) float64 {
			if ms := lastContactMS(st); ms >= 0 {
				return float64(ms) / 1000
			}
			return -1
		}),
	)
}
