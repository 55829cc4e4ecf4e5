package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/redis/go-redis/v9"
)

// clusterWait bounds an election or a catch-up in these tests: generous,
// for a loaded 2-core machine under -race.
const clusterWait = 20 * time.Second

// testNode is one dsmd of a test cluster: a Server with its client and
// cluster ports on 127.0.0.1:0.
type testNode struct {
	*Server
	id, addr, file string
	served         chan error
}

// testCluster is n nodes on loopback, each with its own file.
type testCluster struct {
	t     testing.TB
	nodes []*testNode
	dir   string
	peers []cluster.Peer
	cfg   func(*Config) // adjusts every node's Config
}

// startCluster starts n nodes that bootstrap a cluster together and waits
// for a leader.
func startCluster(t testing.TB, n int, adjust func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, dir: t.TempDir(), cfg: adjust}
	ls := make([]net.Listener, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
		tc.peers = append(tc.peers, cluster.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: l.Addr().String()})
	}
	for i := range n {
		tc.nodes = append(tc.nodes, tc.start(tc.peers[i].ID, ls[i], func(cc *ClusterConfig) { cc.Peers = tc.peers }))
	}
	t.Cleanup(tc.stop)
	tc.leader()
	return tc
}

// start starts one node whose cluster port is cl (a listener on its
// address); more sets how it joins.
func (tc *testCluster) start(id string, cl net.Listener, more func(*ClusterConfig)) *testNode {
	tc.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tc.t.Fatal(err)
	}
	nd := &testNode{id: id, addr: l.Addr().String(), file: filepath.Join(tc.dir, id+".mem"), served: make(chan error, 1)}
	cc := &ClusterConfig{NodeID: id, Listener: cl, ClientAddr: nd.addr}
	more(cc)
	cfg := Config{File: nd.file, Vars: testVars, Cluster: cc, Logger: slog.New(slog.DiscardHandler)}
	if tc.cfg != nil {
		tc.cfg(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		l.Close()
		tc.t.Fatalf("node %s: %v", id, err)
	}
	nd.Server = s
	go func() { nd.served <- s.Serve(l) }()
	return nd
}

// restart starts node i again on its file and cluster address.
func (tc *testCluster) restart(i int) {
	tc.t.Helper()
	var l net.Listener
	var err error
	for range 100 { // the address may linger briefly after the close
		if l, err = net.Listen("tcp", tc.peers[i].Addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.nodes[i] = tc.start(tc.peers[i].ID, l, func(cc *ClusterConfig) { cc.Peers = tc.peers })
}

// kill stops node i at once, as a crash of the daemon would, but for the
// file's flush.
func (tc *testCluster) kill(i int) {
	if nd := tc.nodes[i]; nd != nil && nd.Server != nil {
		nd.Close()
		<-nd.served
		nd.Server = nil
	}
}

func (tc *testCluster) stop() {
	var wg sync.WaitGroup
	for i := range tc.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); tc.kill(i) }()
	}
	wg.Wait()
}

// leader waits for a leader among the running nodes and returns its index.
func (tc *testCluster) leader() int {
	tc.t.Helper()
	deadline := time.Now().Add(clusterWait)
	for time.Now().Before(deadline) {
		for i, nd := range tc.nodes {
			if nd.Server != nil && nd.cl.node.IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tc.t.Fatal("no leader elected")
	return -1
}

// follower returns the index of a running node that is not the leader.
func (tc *testCluster) follower() int {
	l := tc.leader()
	for i, nd := range tc.nodes {
		if i != l && nd.Server != nil {
			return i
		}
	}
	tc.t.Fatal("no follower")
	return -1
}

// client connects to node i. go-redis would repeat a command answered
// CLUSTERDOWN or TRYAGAIN: these tests see every answer.
func (tc *testCluster) client(i int) *redis.Client {
	tc.t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: tc.nodes[i].addr, Protocol: 2, MaxRetries: -1,
		DialTimeout: 5 * time.Second, ReadTimeout: clusterWait, WriteTimeout: 5 * time.Second})
	tc.t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestClusterWritesThroughEveryNode(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	for i := range tc.nodes {
		rc := tc.client(i)
		name := fmt.Sprintf("from-%d", i)
		if err := rc.Set(ctx, name, i*10, 0).Err(); err != nil {
			t.Fatalf("SET through node %d: %v", i, err)
		}
		// Read your write on the node that took it, before any other.
		if got, err := rc.Get(ctx, name).Int(); err != nil || got != i*10 {
			t.Fatalf("GET through node %d = %d, %v", i, got, err)
		}
		if n, err := rc.Incr(ctx, "counter").Result(); err != nil || n != int64(i+1) {
			t.Fatalf("INCR through node %d = %d, %v", i, n, err)
		}
	}
	// Every node reads every write, linearizably, at once.
	for i := range tc.nodes {
		rc := tc.client(i)
		for j := range tc.nodes {
			if got, err := rc.Get(ctx, fmt.Sprintf("from-%d", j)).Int(); err != nil || got != j*10 {
				t.Fatalf("node %d reads from-%d = %d, %v", i, j, got, err)
			}
		}
		if n, err := rc.Get(ctx, "counter").Int(); err != nil || n != 3 {
			t.Fatalf("node %d reads counter %d, %v", i, n, err)
		}
	}
	// Errors of the command come back as they do on a single host.
	rc := tc.client(tc.follower())
	rc.Set(ctx, "text", "abc", 0)
	if err := rc.Incr(ctx, "text").Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Fatalf("INCR of text through a follower: %v", err)
	}
}

// The files end identical: the same variables, values and versions on
// every node, since each applies the same entries to the same layout.
func TestClusterFilesAgree(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range tc.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := tc.client(i)
			for k := range 40 {
				name := fmt.Sprintf("k%d", k%7)
				var err error
				switch k % 4 {
				case 0:
					err = rc.Set(ctx, name, k, 0).Err()
				case 1:
					err = rc.IncrBy(ctx, name, 3).Err()
				case 2:
					err = rc.Del(ctx, name).Err()
				case 3:
					err = rc.MSet(ctx, name, "v", "k9", k).Err()
				}
				if err != nil && !strings.Contains(err.Error(), "not an integer") {
					t.Errorf("node %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := tc.dump(0)
	for i := 1; i < len(tc.nodes); i++ {
		if got := tc.dump(i); got != want {
			t.Fatalf("node %d's file differs:\n%s\nnode 1's:\n%s", i+1, got, want)
		}
	}
}

// dump lists node i's variables with their versions, after a linearizable
// read makes the node current.
func (tc *testCluster) dump(i int) string {
	tc.t.Helper()
	s := tc.nodes[i].Server
	if err := s.cl.node.ReadBarrier(context.Background()); err != nil {
		tc.t.Fatal(err)
	}
	var out []string
	var cursor uint64
	for {
		var names [][]byte
		next, err := s.mem.Scan(cursor, func(name []byte, _ uint64) bool {
			if !cluster.Reserved(name) {
				names = append(names, append([]byte(nil), name...))
			}
			return true
		})
		if err != nil {
			tc.t.Fatal(err)
		}
		for _, n := range names {
			v, ver, err := s.mem.Get(n)
			if err != nil {
				tc.t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s=%v@%d", n, v, ver))
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

func TestClusterExecWatchAcrossNodes(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	a, b := tc.client(0), tc.client(1)
	if err := a.Set(ctx, "balance", 100, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// A transaction on one node whose watched variable changes through
	// another node before EXEC does nothing.
	err := a.Watch(ctx, func(tx *redis.Tx) error {
		if err := b.Set(ctx, "balance", 50, 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.IncrBy(ctx, "balance", -30)
			p.Set(ctx, "spent", 30, 0)
			return nil
		})
		return err
	}, "balance")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after the watched variable changed elsewhere: %v", err)
	}
	if n, _ := a.Get(ctx, "balance").Int(); n != 50 {
		t.Fatalf("balance %d after the aborted transaction, want 50", n)
	}
	if n, _ := a.Exists(ctx, "spent").Result(); n != 0 {
		t.Fatal("the aborted transaction wrote spent")
	}
	// Unchanged, it runs as one step, seen from every node.
	err = b.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.IncrBy(ctx, "balance", -30)
			p.Set(ctx, "spent", 30, 0)
			return nil
		})
		return err
	}, "balance")
	if err != nil {
		t.Fatalf("EXEC: %v", err)
	}
	for i := range tc.nodes {
		rc := tc.client(i)
		vals, err := rc.MGet(ctx, "balance", "spent").Result()
		if err != nil || vals[0] != "20" || vals[1] != "30" {
			t.Fatalf("node %d: balance, spent = %v, %v", i, vals, err)
		}
	}
}

func TestClusterSubscribersOnEveryNode(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	var subs []*redis.PubSub
	for i := range tc.nodes {
		ps := tc.client(i).Subscribe(ctx, "__dsm__:x")
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, ps)
		defer ps.Close()
	}
	rc := tc.client(tc.follower())
	for k := 1; k <= 3; k++ {
		if err := rc.Set(ctx, "x", k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Each node publishes what it applies: the last change arrives
	// everywhere, with the same version ("version value").
	var payloads []string
	for i, ps := range subs {
		var last string
		timeout := time.After(clusterWait)
		for !strings.HasSuffix(last, " 3") {
			select {
			case m := <-ps.Channel():
				last = m.Payload
			case <-timeout:
				t.Fatalf("node %d's subscriber saw %q, not the last write", i, last)
			}
		}
		payloads = append(payloads, last)
	}
	for i, p := range payloads {
		if p != payloads[0] {
			t.Fatalf("node %d published %q, node 1 %q", i+1, p, payloads[0])
		}
	}
}

func TestClusterLeaderLossKeepsAcknowledgedWrites(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	l := tc.leader()
	rc := tc.client((l + 1) % 3)
	acked := 0
	for k := range 50 {
		if err := rc.Set(ctx, fmt.Sprintf("w%d", k), k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	tc.kill(l)
	// A survivor takes writes again once the others elect a leader.
	deadline := time.Now().Add(clusterWait)
	for {
		err := rc.Set(ctx, "after", 1, 0).Err()
		if err == nil {
			break
		}
		if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") && !strings.HasPrefix(err.Error(), "UNCERTAIN") {
			t.Fatalf("write during the election: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted after the leader's loss: %v", err)
		}
	}
	for i := range tc.nodes {
		if i == l {
			continue
		}
		c := tc.client(i)
		for k := range acked {
			if got, err := c.Get(ctx, fmt.Sprintf("w%d", k)).Int(); err != nil || got != k {
				t.Fatalf("node %d lost acknowledged w%d: %d, %v", i, k, got, err)
			}
		}
	}
	// The old leader comes back and catches up.
	tc.restart(l)
	c := tc.client(l)
	deadline = time.Now().Add(clusterWait)
	for {
		got, err := c.Get(ctx, "after").Int()
		if err == nil && got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node reads after = %d, %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClusterReadOnlyConnection(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	f := tc.follower()
	rc := redis.NewClient(&redis.Options{Addr: tc.nodes[f].addr, Protocol: 2, PoolSize: 1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer rc.Close()
	if err := rc.Set(ctx, "mine", 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// A stale read never goes below what the connection has seen: its own
	// write is there at once.
	if got, err := rc.Get(ctx, "mine").Int(); err != nil || got != 7 {
		t.Fatalf("READONLY read of its own write: %d, %v", got, err)
	}
	if err := rc.ReadWrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestClusterRedirect(t *testing.T) {
	tc := startCluster(t, 3, func(cfg *Config) { cfg.Cluster.Redirect = true })
	ctx := context.Background()
	l, f := tc.leader(), tc.follower()
	err := tc.client(f).Set(ctx, "x", 1, 0).Err()
	want := "MOVED 0 " + tc.nodes[l].addr
	if err == nil || err.Error() != want {
		t.Fatalf("SET on a follower with Redirect: %v, want %q", err, want)
	}
	if err := tc.client(l).Set(ctx, "x", 1, 0).Err(); err != nil {
		t.Fatalf("SET on the leader: %v", err)
	}
}

func TestClusterInfoAndRole(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	l, f := tc.leader(), tc.follower()
	tc.client(l).Set(ctx, "x", 1, 0)
	info := func(i int) map[string]string {
		text, err := tc.client(i).Info(ctx, "cluster", "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, line := range strings.Split(text, "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				out[k] = v
			}
		}
		return out
	}
	li, fi := info(l), info(f)
	for k, want := range map[string]string{
		"cluster_enabled": "1", "cluster_role": "leader", "cluster_node_id": tc.nodes[l].id,
		"cluster_leader_id": tc.nodes[l].id, "cluster_leader_addr": tc.nodes[l].addr,
		"cluster_voters": "3", "role": "master", "connected_slaves": "2",
	} {
		if li[k] != want {
			t.Errorf("leader's %s = %q, want %q", k, li[k], want)
		}
	}
	for k, want := range map[string]string{
		"cluster_role": "follower", "cluster_leader_addr": tc.nodes[l].addr, "role": "slave",
		"master_link_status": "up",
	} {
		if fi[k] != want {
			t.Errorf("follower's %s = %q, want %q", k, fi[k], want)
		}
	}
	for _, k := range []string{"cluster_term", "cluster_commit_index", "cluster_applied_index", "cluster_last_contact_ms"} {
		if _, err := strconv.ParseInt(fi[k], 10, 64); err != nil {
			t.Errorf("follower's %s = %q, not a number", k, fi[k])
		}
	}
	// The same figures reach Prometheus.
	gathered := func(i int) map[string]float64 {
		mfs, err := tc.nodes[i].metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch {
				case m.GetGauge() != nil:
					out[mf.GetName()] = m.GetGauge().GetValue()
				case m.GetCounter() != nil:
					out[mf.GetName()] = m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	tc.client(f).Get(ctx, "x") // a linearizable read: the follower has applied the write
	lm, fm := gathered(l), gathered(f)
	if lm["dsm_cluster_leader"] != 1 || fm["dsm_cluster_leader"] != 0 || lm["dsm_cluster_proposals_total"] < 1 ||
		fm["dsm_cluster_applied_index"] < 1 || lm["dsm_cluster_term"] < 1 {
		t.Errorf("cluster metrics: leader %v, follower %v", lm, fm)
	}
	role, err := tc.client(f).Do(ctx, "ROLE").Slice()
	if err != nil || role[0] != "slave" {
		t.Fatalf("ROLE on a follower: %v, %v", role, err)
	}
	role, err = tc.client(l).Do(ctx, "ROLE").Slice()
	if err != nil || role[0] != "master" {
		t.Fatalf("ROLE on the leader: %v, %v", role, err)
	}
}

func TestClusterHidesReservedNames(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	rc := tc.client(0)
	rc.Set(ctx, "a", 1, 0)
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 1 || keys[0] != "a" {
		t.Fatalf("KEYS * = %q, %v; want only a", keys, err)
	}
	if n, err := rc.DBSize(ctx).Result(); err != nil || n != 1 {
		t.Fatalf("DBSIZE = %d, %v; want 1", n, err)
	}
	err = rc.Set(ctx, cluster.AppliedName, 1, 0).Err()
	if err == nil {
		t.Fatal("a client wrote the applied index")
	}
	if err := rc.Do(ctx, "LOCK", cluster.AppliedName).Err(); err == nil {
		t.Fatal("a client locked the applied index")
	}
}

func TestClusterSeedProtocol(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	conn, err := net.Dial("tcp", tc.nodes[f].addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(clusterWait))
	if _, err := conn.Write([]byte{'W', 42, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	ok := make([]byte, 2)
	if _, err := io.ReadFull(conn, ok); err != nil || string(ok) != "OK" {
		t.Fatalf("seed W through a follower: %q, %v", ok, err)
	}
	if got, err := tc.client(tc.leader()).Get(context.Background(), "value").Int(); err != nil || got != 42 {
		t.Fatalf("the leader reads value = %d, %v", got, err)
	}
}

// A node cut off from the majority refuses writes and linearizable reads
// within a bounded time, says so on /readyz, and still serves READONLY
// reads of what it holds.
func TestClusterMinorityRefuses(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	l := tc.leader()
	if err := tc.nodes[l].Ready(); err != nil {
		t.Fatalf("leader not ready: %v", err)
	}
	keep := (l + 1) % 3
	rc := tc.client(keep)
	if err := rc.Set(ctx, "x", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range tc.nodes {
		if i != keep {
			tc.kill(i)
		}
	}
	start := time.Now()
	err := rc.Set(ctx, "x", 2, 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") && !strings.HasPrefix(err.Error(), "UNCERTAIN") {
		t.Fatalf("SET on a minority node: %v", err)
	}
	if err := rc.Get(ctx, "x").Err(); err == nil || !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
		t.Fatalf("linearizable GET on a minority node: %v", err)
	}
	if d := time.Since(start); d > 2*cluster.DefaultLeaderWait+5*time.Second {
		t.Fatalf("the minority node took %v to refuse", d)
	}
	waitFor(t, "the minority node to say it is not ready", func() bool { return tc.nodes[keep].Ready() != nil })
	ro := redis.NewClient(&redis.Options{Addr: tc.nodes[keep].addr, Protocol: 2, PoolSize: 1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer ro.Close()
	if got, err := ro.Get(ctx, "x").Int(); err != nil || got != 1 {
		t.Fatalf("READONLY GET on a minority node = %d, %v; want its own 1", got, err)
	}
}

// A leader stopping gracefully hands leadership over before it goes, so
// that the others need not wait out an election timeout, and logs it.
func TestClusterGracefulStopHandsOver(t *testing.T) {
	var logs lockedLog
	tc := startCluster(t, 3, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	l := tc.leader()
	nd := tc.nodes[l]
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := nd.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-nd.served
	nd.Server = nil
	if !strings.Contains(logs.String(), "leadership handed over before stopping") {
		t.Fatalf("no log line of the hand-over:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "cluster role changed") {
		t.Errorf("no log line of the role changes:\n%s", logs.String())
	}
	// The node handed to leads already, or within a moment: well before
	// an election timeout would have passed without a leader.
	stopped := time.Now()
	for time.Since(stopped) < 5*time.Second {
		for i, other := range tc.nodes {
			if i != l && other.cl.node.IsLeader() {
				t.Logf("a new leader %v after the old one stopped", time.Since(stopped))
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no node leads after the leader's graceful stop")
}

// A node that asks to join while the cluster has no leader (here a
// majority down for longer than a leader wait) asks again, and is added
// once a leader is back.
func TestClusterJoinWaitsForALeader(t *testing.T) {
	tc := startCluster(t, 3, nil)
	tc.kill(1)
	tc.kill(2)
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	joined := make(chan error, 1)
	var n4 *Server
	go func() {
		cc := &ClusterConfig{NodeID: "n4", Listener: cl, ClientAddr: l.Addr().String(), Join: tc.nodes[0].addr}
		s, err := New(Config{File: filepath.Join(tc.dir, "n4.mem"), Vars: testVars, Cluster: cc, Logger: slog.New(slog.DiscardHandler)})
		n4 = s
		joined <- err
	}()
	select {
	case err := <-joined:
		t.Fatalf("the join ended while the cluster had no leader: %v", err)
	case <-time.After(cluster.DefaultLeaderWait + time.Second):
	}
	tc.restart(1)
	if err := <-joined; err != nil {
		t.Fatalf("the join once a leader was back: %v", err)
	}
	defer n4.Close()
	waitFor(t, "n4 to vote", func() bool { return n4.cl.node.Status().Voters == 4 })
}

// A node started with Join (any member's client address) learns the
// cluster's seed and capacities there, is added, catches up and votes.
func TestClusterJoinThroughClientAddress(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	for k := range 20 {
		if err := tc.client(tc.leader()).Set(ctx, fmt.Sprintf("before%d", k), k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n4 := tc.start("n4", cl, func(cc *ClusterConfig) { cc.Join = tc.nodes[tc.follower()].addr })
	tc.nodes = append(tc.nodes, n4)
	rc := redis.NewClient(&redis.Options{Addr: n4.addr, Protocol: 2, MaxRetries: -1, ReadTimeout: clusterWait})
	defer rc.Close()
	if got, err := rc.Get(ctx, "before19").Int(); err != nil || got != 19 {
		t.Fatalf("the joined node reads before19 = %d, %v", got, err)
	}
	if err := rc.Set(ctx, "from-n4", 4, 0).Err(); err != nil {
		t.Fatalf("write through the joined node: %v", err)
	}
	waitFor(t, "n4 to vote", func() bool { return n4.cl.node.Status().Role == "follower" && n4.cl.node.Status().Voters == 4 })
	if n4.mem.Seed() != tc.nodes[0].mem.Seed() {
		t.Fatalf("the joined node's seed %#x differs from the cluster's %#x", n4.mem.Seed(), tc.nodes[0].mem.Seed())
	}
	// Restarted, it does not ask the member -join names again: that
	// member may be gone, and any majority will do.
	addr4 := n4.cl.node.Addr()
	tc.kill(3)
	cl4, err := net.Listen("tcp", addr4)
	if err != nil {
		t.Fatal(err)
	}
	n4 = tc.start("n4", cl4, func(cc *ClusterConfig) { cc.Join = "127.0.0.1:1" })
	tc.nodes[3] = n4
	rc4 := redis.NewClient(&redis.Options{Addr: n4.addr, Protocol: 2, MaxRetries: -1, ReadTimeout: clusterWait})
	defer rc4.Close()
	if got, err := rc4.Get(ctx, "from-n4").Int(); err != nil || got != 4 {
		t.Fatalf("the restarted joined node reads from-n4 = %d, %v", got, err)
	}
	// A node whose file would have other capacities refuses to start.
	cl5, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cl5.Close()
	_, err = New(Config{File: filepath.Join(tc.dir, "n5.mem"), Vars: 2 * testVars, Logger: slog.New(slog.DiscardHandler),
		Cluster: &ClusterConfig{NodeID: "n5", Listener: cl5, ClientAddr: "127.0.0.1:1", Join: n4.addr}})
	if !errors.Is(err, ErrCapacity) || !strings.Contains(err.Error(), "every node needs the same -vars") {
		t.Fatalf("a node with other capacities: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tc.dir, "n5.mem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused node left its file behind: %v", err)
	}
}
