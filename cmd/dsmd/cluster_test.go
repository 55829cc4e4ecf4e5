package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/redis/go-redis/v9"
)

func TestParseClusterFlags(t *testing.T) {
	t.Setenv("DSM_CLUSTER_SECRET", "")
	cfg, err := parseFlags([]string{"-node-id", "n2", "-cluster", "127.0.0.1:7102",
		"-peers", "n1=127.0.0.1:7101, n2=127.0.0.1:7102,n3=127.0.0.1:7103", "-cluster-redirect"})
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Cluster
	if cc == nil || cc.NodeID != "n2" || cc.Addr != "127.0.0.1:7102" || len(cc.Peers) != 3 ||
		cc.Peers[2].ID != "n3" || cc.Peers[2].Addr != "127.0.0.1:7103" || !cc.Redirect || cc.Secret != nil {
		t.Fatalf("parsed: %+v", cc)
	}
	if cfg, err := parseFlags(nil); err != nil || cfg.Cluster != nil {
		t.Fatalf("without -peers or -join dsmd is a single host: %+v, %v", cfg.Cluster, err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfg, err = parseFlags([]string{"-node-id", "n4", "-cluster", "10.0.0.4:7101", "-join", "10.0.0.1:12345",
		"-cluster-secret-file", secret})
	if err != nil || string(cfg.Cluster.Secret) != "s3cret" || cfg.Cluster.Join != "10.0.0.1:12345" {
		t.Fatalf("-join with a secret file: %+v, %v", cfg.Cluster, err)
	}
	t.Setenv("DSM_CLUSTER_SECRET", "from-env")
	cfg, err = parseFlags([]string{"-node-id", "n1", "-cluster", "10.0.0.1:7101", "-peers", "n1=10.0.0.1:7101"})
	if err != nil || string(cfg.Cluster.Secret) != "from-env" {
		t.Fatalf("secret from the environment: %+v, %v", cfg.Cluster, err)
	}
}

func TestParseClusterFlagsErrors(t *testing.T) {
	t.Setenv("DSM_CLUSTER_SECRET", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-node-id", "n1"}, "need -peers"},
		{[]string{"-cluster", "127.0.0.1:1", "-peers", "n1=127.0.0.1:1"}, "-node-id"},
		{[]string{"-node-id", "n1", "-peers", "n1=127.0.0.1:1"}, "-cluster"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n2=127.0.0.1:2"}, "must include this node"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n1=127.0.0.1:9"}, "gives n1 the address"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n1=127.0.0.1:1,n1=127.0.0.1:2"}, "named twice"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n1"}, "not ID=HOST:PORT"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n1=127.0.0.1:1", "-join", "127.0.0.1:5"}, "exclude each other"},
		{[]string{"-node-id", "n1", "-cluster", "10.0.0.1:1", "-peers", "n1=10.0.0.1:1"}, "needs a secret"},
		{[]string{"-node-id", "n1", "-cluster", "127.0.0.1:1", "-peers", "n1=127.0.0.1:1", "-cluster-tls-cert", "c.pem"}, "go together"},
	} {
		_, err := parseFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.args, err, c.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, c := range []struct{ listen, cluster, want string }{
		{"127.0.0.1:12345", "127.0.0.1:7101", "127.0.0.1:12345"},
		{"0.0.0.0:12345", "10.0.0.2:7101", "10.0.0.2:12345"},
		{"[::]:12345", "10.0.0.2:7101", "10.0.0.2:12345"},
	} {
		if got, err := clientAddr(c.listen, c.cluster); err != nil || got != c.want {
			t.Errorf("clientAddr(%s, %s) = %s, %v; want %s", c.listen, c.cluster, got, err, c.want)
		}
	}
}

// procNode is one dsmd process of a cluster.
type procNode struct {
	id, addr, clusterAddr, file string
	cmd                         *exec.Cmd
	stderr                      *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddrs picks n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func (p *procNode) start(t *testing.T, bin string, peers string, extra ...string) {
	t.Helper()
	p.stderr = &lockedBuffer{}
	p.cmd = exec.Command(bin, append([]string{"-node-id", p.id, "-cluster", p.clusterAddr, "-peers", peers,
		"-listen", p.addr, "-file", p.file, "-vars", "4096"}, extra...)...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

func (p *procNode) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// startProcCluster starts three dsmd processes (with extra flags) that
// bootstrap a cluster on loopback, and returns them and their -peers. They
// are killed when the test ends, their logs shown if it failed.
func startProcCluster(t *testing.T, bin string, extra ...string) ([]*procNode, string) {
	t.Helper()
	dir := t.TempDir()
	addrs := freeAddrs(t, 6)
	var nodes []*procNode
	var ids []string
	for i := range 3 {
		p := &procNode{id: fmt.Sprintf("n%d", i+1), addr: addrs[2*i], clusterAddr: addrs[2*i+1],
			file: filepath.Join(dir, fmt.Sprintf("n%d.mem", i+1))}
		nodes = append(nodes, p)
		ids = append(ids, p.id+"="+p.clusterAddr)
	}
	peers := strings.Join(ids, ",")
	for _, p := range nodes {
		p.start(t, bin, peers, extra...)
	}
	t.Cleanup(func() {
		for _, p := range nodes {
			p.kill()
			if t.Failed() {
				t.Logf("%s's log:\n%s", p.id, p.stderr.String())
			}
		}
	})
	return nodes, peers
}

// TestClusterOfProcesses runs three dsmd processes as a cluster: writes
// through every node, kill -9 of the leader with no acknowledged write
// lost, and the killed node restarted catching up.
func TestClusterOfProcesses(t *testing.T) {
	bin := buildDsmd(t)
	nodes, peers := startProcCluster(t, bin)
	ctx := context.Background()
	clients := make([]*redis.Client, 3)
	for i, p := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, MaxRetries: -1})
		defer clients[i].Close()
	}
	// Every node takes writes once the cluster has a leader.
	acked := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for k := 0; k < 60; {
		i := k % 3
		name := fmt.Sprintf("w%d", k)
		if err := clients[i].Set(ctx, name, k, 0).Err(); err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("SET through %s: %v", nodes[i].id, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		acked[name] = k
		k++
	}
	leader := -1
	for i, c := range clients {
		role, err := c.Do(ctx, "ROLE").Slice()
		if err == nil && role[0] == "master" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no node says it is the master")
	}
	nodes[leader].kill() // kill -9
	survivor := clients[(leader+1)%3]
	start := time.Now()
	for {
		err := survivor.Set(ctx, "after", 1, 0).Err()
		if err == nil {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no write accepted after the leader's kill: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("kill -9 of the leader to the next acknowledged write: %v", time.Since(start).Round(time.Millisecond))
	for i, c := range clients {
		if i == leader {
			continue
		}
		for name, v := range acked {
			if got, err := c.Get(ctx, name).Int(); err != nil || got != v {
				t.Fatalf("%s lost the acknowledged %s: %d, %v", nodes[i].id, name, got, err)
			}
		}
	}
	nodes[leader].start(t, bin, peers)
	deadline = time.Now().Add(60 * time.Second)
	for {
		got, err := clients[leader].Get(ctx, "after").Int()
		if err == nil && got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted %s reads after = %d, %v", nodes[leader].id, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterOfProcessesOverTLS runs three dsmd processes whose cluster
// port speaks mutual TLS: writes through a follower reach every node.
func TestClusterOfProcessesOverTLS(t *testing.T) {
	bin := buildDsmd(t)
	cert := dsmtest.SelfSigned(t)
	tlsFlags := []string{"-cluster-tls-cert", cert.CertFile, "-cluster-tls-key", cert.KeyFile, "-cluster-tls-ca", cert.CertFile}
	nodes, _ := startProcCluster(t, bin, tlsFlags...)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for k, p := range nodes {
		c := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, MaxRetries: -1})
		defer c.Close()
		for {
			err := c.Set(ctx, "x", k, 0).Err()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SET through %s: %v", p.id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, p := range nodes {
		c := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, MaxRetries: -1})
		defer c.Close()
		if got, err := c.Get(ctx, "x").Int(); err != nil || got != 2 {
			t.Fatalf("%s reads x = %d, %v; want 2", p.id, got, err)
		}
		info, err := c.Info(ctx, "cluster").Result()
		if err != nil || !strings.Contains(info, "cluster_voters:3") {
			t.Fatalf("%s: INFO cluster %q, %v", p.id, info, err)
		}
	}
	// The cluster port speaks TLS: a handshake with the nodes' CA and a
	// client certificate completes.
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", nodes[0].clusterAddr,
		&tls.Config{RootCAs: cert.Pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("TLS handshake with the cluster port: %v", err)
	}
	conn.Close()
}
