package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/spf13/cobra"
)

const clusterLong = `Shows and changes the cluster that the nodes of --addr belong to (any
member will do; list several and dsm uses the first that answers).

  status               every node: role, voter or learner, term, commit and
                       applied index, lag behind the leader's applied index
  join ID CLUSTER-ADDR add the node ID, whose dsmd listens on CLUSTER-ADDR
                       (its -cluster address): a learner until it has caught
                       up, then a voter
  remove ID            remove the node ID from the cluster
  transfer [ID]        hand leadership to ID, or to any other voter
  snapshot             take a snapshot on the node and compact its log
  recover              offline: restart the survivors of a lost majority as
                       a new cluster (dsm cluster recover --help)

join, remove and transfer run on the leader, wherever they are sent, and
wait for the change (join: until the node has caught up) up to --timeout,
2 minutes unless given. The password must be an admin's.`

const clusterStatusLong = `Shows the cluster's nodes, as the node dsm reaches lists them, and asks
each node over its client address for its own view (INFO cluster): its
role (leader, follower, candidate, learner), the term, the commit index,
the applied index and its lag, how many entries its applied index is
behind the leader's. A node that does not answer within --timeout is shown
as unreachable; the command still succeeds.

With -o json: one object {"leader","term","nodes":[...]}, each node
{"id","cluster_addr","client_addr","voter","reachable","role","term",
"commit_index","applied_index","lag"}, or "error" in place of the view of
a node that did not answer.`

// clusterCommand is dsm cluster and its subcommands. Each runs on its own
// parser (cobra hands it the arguments after "--", see normalizeArgs).
func clusterCommand(ctx context.Context, cfg *config, stdout, stderr io.Writer, code *int) *cobra.Command {
	cl := &cobra.Command{
		Use:   "cluster",
		Short: "show and change the cluster: status, join, remove, transfer, snapshot, recover",
		Long:  clusterLong,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			*code = fail(stderr, cfg.format, &usageError{msg: fmt.Sprintf("cluster %s: unknown subcommand (try dsm cluster --help)", args[0])})
			return nil
		},
	}
	admin := func(name string, fewest, most int, args string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, a []string) error {
			*code = runClusterAdmin(ctx, cfg, cmd, name, args, fewest, most, a, stdout, stderr)
			return nil
		}
	}
	cl.AddCommand(
		&cobra.Command{
			Use: "status", Short: "show every node's role, indexes and lag", Long: clusterStatusLong, Args: cobra.ArbitraryArgs,
			RunE: func(_ *cobra.Command, a []string) error {
				*code = runClusterStatus(ctx, cfg, a, stdout, stderr)
				return nil
			},
		},
		&cobra.Command{Use: "join ID CLUSTER-ADDR", Short: "add a node: a learner until it has caught up, then a voter", Args: cobra.ArbitraryArgs, RunE: admin("join", 2, 2, "ID CLUSTER-ADDR")},
		&cobra.Command{Use: "remove ID", Short: "remove a node from the cluster", Args: cobra.ArbitraryArgs, RunE: admin("remove", 1, 1, "ID")},
		&cobra.Command{Use: "transfer [ID]", Short: "hand leadership to ID, or to any other voter", Args: cobra.ArbitraryArgs, RunE: admin("transfer", 0, 1, "[ID]")},
		&cobra.Command{Use: "snapshot", Short: "take a snapshot on the node reached and compact its log", Args: cobra.ArbitraryArgs, RunE: admin("snapshot", 0, 0, "")},
		&cobra.Command{
			Use: "recover --file PATH --node-id ID --peers ID=HOST:PORT,...", Short: "offline: rewrite a stopped survivor's Raft state to a new set of voters",
			Long: recoverLong, Args: cobra.ArbitraryArgs,
			RunE: func(_ *cobra.Command, a []string) error {
				*code = runClusterRecover(cfg, a, stdout, stderr)
				return nil
			},
		},
	)
	return cl
}

// adminWait is how long join, remove and transfer wait by default: a join
// waits for the new node to catch up, as long as the daemon lets it.
const adminWait = 2 * time.Minute

// runClusterAdmin sends CLUSTER name args to the node reached and prints
// OK.
func runClusterAdmin(ctx context.Context, cfg *config, cmd *cobra.Command, name, usage string, fewest, most int, args []string, stdout, stderr io.Writer) int {
	if len(args) < fewest || len(args) > most {
		return fail(stderr, cfg.format, &usageError{msg: strings.TrimSpace("usage: cluster " + name + " " + usage)})
	}
	if cfg.file != "" {
		return fail(stderr, cfg.format, &usageError{msg: "cluster " + name + " asks the daemon: --addr, not --file"})
	}
	timeout := cfg.timeout
	if !cmd.Flags().Changed("timeout") {
		timeout = max(timeout, adminWait)
	}
	st, err := cfg.open(ctx, true)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer st.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmdArgs := []any{"CLUSTER", name}
	for _, a := range args {
		cmdArgs = append(cmdArgs, a)
	}
	if _, err := st.(*remote).Do(cctx, cmdArgs...); err != nil {
		return fail(stderr, cfg.format, err)
	}
	return printResult(cfg.format, nil, okResult{}, nil, stdout, stderr)
}

// clusterStatus is what dsm cluster status shows.
type clusterStatus struct {
	Leader string       `json:"leader"` // the leader's ID, "" if none is known
	Term   uint64       `json:"term"`   // the leader's term, else the highest seen
	Nodes  []nodeStatus `json:"nodes"`
}

// nodeStatus is one node: as the cluster's configuration lists it, then
// its own view, if it answered.
type nodeStatus struct {
	ID          string `json:"id"`
	ClusterAddr string `json:"cluster_addr"`
	ClientAddr  string `json:"client_addr"`
	Voter       bool   `json:"voter"`
	Reachable   bool   `json:"reachable"`
	Error       string `json:"error,omitempty"`
	Role        string `json:"role,omitempty"`
	Term        uint64 `json:"term,omitempty"`
	Commit      uint64 `json:"commit_index,omitempty"`
	Applied     uint64 `json:"applied_index,omitempty"`
	// Lag is the leader's applied index less the node's; nil when either
	// is unknown.
	Lag *int64 `json:"lag,omitempty"`
}

func runClusterStatus(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, cfg.format, &usageError{msg: "usage: cluster status"})
	}
	if cfg.file != "" {
		return fail(stderr, cfg.format, &usageError{msg: "cluster status asks the daemons: --addr, not --file"})
	}
	st, err := cfg.open(ctx, false)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer st.Close()
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	reply, err := st.(*remote).Do(cctx, "CLUSTER", "MEMBERS")
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	nodes, err := parseMembers(reply)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	s := gatherStatus(ctx, cfg, nodes)
	return printResult(cfg.format, nil, s, nil, stdout, stderr)
}

// parseMembers reads CLUSTER MEMBERS: an array of maps (RESP3) or of
// flat key-value arrays (RESP2).
func parseMembers(reply any) ([]nodeStatus, error) {
	list, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("cluster members: unexpected reply %v", reply)
	}
	var nodes []nodeStatus
	for _, e := range list {
		m := map[string]string{}
		switch e := e.(type) {
		case map[any]any:
			for k, v := range e {
				m[fmt.Sprint(k)] = fmt.Sprint(v)
			}
		case []any:
			for i := 0; i+1 < len(e); i += 2 {
				m[fmt.Sprint(e[i])] = fmt.Sprint(e[i+1])
			}
		default:
			return nil, fmt.Errorf("cluster members: unexpected member %v", e)
		}
		nodes = append(nodes, nodeStatus{ID: m["id"], ClusterAddr: m["cluster_addr"], ClientAddr: m["client_addr"], Voter: m["voter"] == "1"})
	}
	return nodes, nil
}

// gatherStatus asks every node for its INFO cluster, all at once so that
// nodes that do not answer cost one timeout, not one each.
func gatherStatus(ctx context.Context, cfg *config, nodes []nodeStatus) *clusterStatus {
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i].ask(ctx, cfg) })
	}
	wg.Wait()
	s := &clusterStatus{Nodes: nodes}
	var leader *nodeStatus
	for i, n := range nodes {
		if n.Role == "leader" && (leader == nil || n.Term > leader.Term) {
			leader = &nodes[i]
		}
		s.Term = max(s.Term, n.Term)
	}
	if leader == nil {
		return s
	}
	s.Leader, s.Term = leader.ID, leader.Term
	for i := range nodes {
		if nodes[i].Reachable {
			lag := int64(leader.Applied) - int64(nodes[i].Applied)
			nodes[i].Lag = &lag
		}
	}
	return s
}

// ask fills n's own view from its INFO cluster, or says why it has none.
func (n *nodeStatus) ask(ctx context.Context, cfg *config) {
	if n.ClientAddr == "" {
		n.Error = "client address not known yet"
		return
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		n.Error = err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	opts.PoolSize = 1
	c, err := client.Dial(ctx, n.ClientAddr, &opts)
	if err != nil {
		n.Error = err.Error()
		return
	}
	defer c.Close()
	info, err := c.Info(ctx, "cluster")
	if err != nil {
		n.Error = err.Error()
		return
	}
	n.Reachable = true
	n.Role = info["cluster_role"]
	n.Term = infoUint(info, "cluster_term")
	n.Commit = infoUint(info, "cluster_commit_index")
	n.Applied = infoUint(info, "cluster_applied_index")
}

func infoUint(info client.Info, key string) uint64 {
	n, _ := strconv.ParseUint(info[key], 10, 64)
	return n
}

func (s *clusterStatus) objects() []any { return []any{s} }

// plain is a header line and a table, one node a row.
func (s *clusterStatus) plain() []string {
	var b strings.Builder
	leader := s.Leader
	if leader == "" {
		leader = "none"
	}
	fmt.Fprintf(&b, "leader %s, term %d\n", leader, s.Term)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tVOTER\tCLUSTER ADDR\tCLIENT ADDR\tTERM\tCOMMIT\tAPPLIED\tLAG")
	for _, n := range s.Nodes {
		voter := "voter"
		if !n.Voter {
			voter = "learner"
		}
		if !n.Reachable {
			fmt.Fprintf(tw, "%s\tunreachable\t%s\t%s\t%s\t-\t-\t-\t-\n", n.ID, voter, n.ClusterAddr, orDash(n.ClientAddr))
			continue
		}
		lag := "-"
		if n.Lag != nil {
			lag = strconv.FormatInt(*n.Lag, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", n.ID, n.Role, voter, n.ClusterAddr, n.ClientAddr, n.Term, n.Commit, n.Applied, lag)
	}
	tw.Flush()
	for _, n := range s.Nodes {
		if !n.Reachable {
			fmt.Fprintf(&b, "%s unreachable: %s\n", n.ID, n.Error)
		}
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const recoverLong = `With the majority of a cluster lost for good (two nodes of three, three of
five), no leader can be elected: the cluster takes no writes and can no
longer change its members. recover rewrites a survivor's Raft state so that
the survivors, started again, form a cluster of just them. It works on the
node's files with its dsmd stopped, and refuses while a dsmd holds them.

  dsm cluster recover --file PATH [--raft-dir DIR] --node-id ID \
      --peers ID=HOST:PORT[,ID=HOST:PORT...]

  --file      the node's memory file (dsmd's -file)
  --raft-dir  its Raft directory, if dsmd was given -raft-dir (PATH.raft)
  --node-id   the node's ID (dsmd's -node-id)
  --peers     the surviving voters, this node among them, each with its
              cluster address (dsmd's -cluster); the same on every survivor

The procedure:
  1. Make sure the lost nodes stay down. One that came back with its old
     files would still take itself for a member of the old cluster: wipe
     its memory file and Raft directory before using it again.
  2. Stop dsmd on every survivor.
  3. Run dsm cluster recover on every survivor, with the same --peers.
  4. Start dsmd on the survivors again, with the flags they had: their
     Raft state now names the new voters, whatever -peers says.
  5. dsm cluster status shows the new cluster; add nodes to it with
     dsmd -join or dsm cluster join.

What is kept: every write in the log of the most up-to-date survivor. The
survivors' first election goes to it, and the others take its state. Each
survivor applies its whole log, committed or not: nothing can tell any
more which entries were committed, so writes whose outcome was unknown
(their clients got an error or no answer) may now be applied.

What is lost: the writes that only the lost nodes had, acknowledged ones
among them: in a cluster of three, the lost leader and the lost follower
were a majority and may have acknowledged writes no survivor received.`
