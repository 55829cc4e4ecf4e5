package torture

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// Raft's timing on the nodes (cluster.DefaultElectionTimeout): faults that
// must outlast elections last several of these.
const electionTimeout = 200 * time.Millisecond

// node is one dsmd of the cluster, restarted as the faults ask. Its
// generations share its directory and its log (appended to).
type node struct {
	k       int
	id      string
	dir     string // the memory file, its Raft directory and socket
	logPath string

	mu      sync.Mutex // guards the fields below
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd was reaped
	join    bool          // start with -join rather than -peers
	stopped bool          // SIGSTOPped

	// gate is held (read) by the node's local process while it runs and
	// (write) by a fault that replaces the node's file.
	gate sync.RWMutex
	ctl  *redis.Client // admin requests from the control host
}

func (n *node) file() string { return filepath.Join(n.dir, "dsm.mem") }

// clusterNodes are a run's nodes and what they all need.
type clusterNodes struct {
	net    *netw
	bin    string
	secret string
	bug    string // DSM_BUG for the nodes (a dsmbug build)
	all    []*node
}

func (cn *clusterNodes) peers() string {
	var ps []string
	for _, n := range cn.all {
		ps = append(ps, fmt.Sprintf("%s=%s:%d", n.id, nodeIP(n.k), clusterPort))
	}
	return strings.Join(ps, ",")
}

func newClusterNodes(nw *netw, bin, dir, bug string, count int) (*clusterNodes, error) {
	cn := &clusterNodes{net: nw, bin: bin, bug: bug, secret: filepath.Join(dir, "cluster.secret")}
	if err := os.WriteFile(cn.secret, []byte(fmt.Sprintf("torture-%d-secret-of-32-bytes-at-least", time.Now().UnixNano())), 0o600); err != nil {
		return nil, err
	}
	for k := 1; k <= count; k++ {
		n := &node{k: k, id: fmt.Sprintf("n%d", k), dir: filepath.Join(dir, fmt.Sprintf("n%d", k)), logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", k))}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return nil, err
		}
		ns := nw.clients[1] // the control host
		n.ctl = redis.NewClient(&redis.Options{
			Addr: fmt.Sprintf("%s:%d", nodeIP(k), clientPort),
			Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialFrom(ns, addr, time.Second)
			},
			// Each request's context bounds it.
			Protocol: 2, MaxRetries: -1, PoolSize: 2, DisableIdentity: true, ContextTimeoutEnabled: true,
			ReadTimeout: time.Minute, WriteTimeout: time.Minute, DialTimeout: time.Second,
		})
		cn.all = append(cn.all, n)
	}
	return cn, nil
}

// start runs a new generation of n; failpoint, if set, is its
// DSM_FAILPOINT. It returns once the generation listens.
func (cn *clusterNodes) start(n *node, failpoint string) error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s is running", n.id)
	}
	n.mu.Unlock()
	args := []string{"netns", "exec", cn.net.nodes[n.k], cn.bin,
		"-node-id", n.id, "-cluster", fmt.Sprintf("%s:%d", nodeIP(n.k), clusterPort),
		"-listen", fmt.Sprintf("%s:%d", nodeIP(n.k), clientPort), "-allow", netPrefix + "0/24",
		"-file", n.file(), "-vars", "512", "-cluster-secret-file", cn.secret,
		"-cluster-snapshot-threshold", "1024", "-cluster-trailing-logs", "256"}
	if n.join {
		l := cn.leaderOr(n)
		args = append(args, "-join", fmt.Sprintf("%s:%d", nodeIP(l.k), clientPort))
	} else {
		args = append(args, "-peers", cn.peers())
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	start, _ := logf.Seek(0, 2)
	fmt.Fprintf(logf, "=== %s start %s (failpoint %q, bug %q)\n", n.id, time.Now().Format(time.RFC3339Nano), failpoint, cn.bug)
	cmd := exec.Command("ip", args...) // ip netns exec execs dsmd: the pid is dsmd's
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if failpoint != "" {
		cmd.Env = append(cmd.Env, "DSM_FAILPOINT="+failpoint)
	}
	if cn.bug != "" {
		cmd.Env = append(cmd.Env, "DSM_BUG="+cn.bug)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited, n.stopped = cmd, exited, false
	n.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(n.logPath)
		if int64(len(b)) > start {
			for _, line := range strings.Split(string(b[start:]), "\n") {
				if _, ok := dsmbin.ListenAddr(line); ok {
					return nil
				}
			}
		}
		select {
		case <-exited:
			n.forget()
			return fmt.Errorf("%s exited at start: %v; its log: %s", n.id, cmd.ProcessState, n.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not listen within 30 s; its log: %s", n.id, n.logPath)
}

// running returns n's process, nil if it is down.
func (n *node) running() (*exec.Cmd, chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd, n.exited
}

// kill SIGKILLs n (continued first if stopped) and reaps it.
func (n *node) kill() {
	cmd, exited := n.running()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(unix.SIGKILL)
	<-exited
	n.forget()
}

// forget records that n's process was reaped.
func (n *node) forget() {
	n.mu.Lock()
	n.cmd = nil
	n.mu.Unlock()
}

// end sends n sig (after SIGCONT, in case it is stopped) and waits up to
// within for it to exit, then kills it, with SIGQUIT first so that its
// log shows where it hung. It returns the process (nil if none ran) and
// whether it exited in time.
func (n *node) end(sig unix.Signal, within time.Duration) (*exec.Cmd, bool) {
	cmd, exited := n.running()
	if cmd == nil {
		return nil, true
	}
	cmd.Process.Signal(unix.SIGCONT)
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		n.forget()
		return cmd, true
	case <-time.After(within):
	}
	if sig != unix.SIGQUIT {
		cmd.Process.Signal(unix.SIGQUIT)
		select {
		case <-exited:
			n.forget()
			return cmd, false
		case <-time.After(5 * time.Second):
		}
	}
	n.kill()
	return cmd, false
}

// stop ends n with SIGTERM; it must exit 0 within 20 s.
func (n *node) stop() error {
	cmd, ok := n.end(unix.SIGTERM, 20*time.Second)
	switch {
	case cmd == nil:
		return nil
	case !ok:
		return fmt.Errorf("%s did not stop within 20 s of SIGTERM", n.id)
	case !cmd.ProcessState.Success():
		return fmt.Errorf("%s: SIGTERM ended it with %v", n.id, cmd.ProcessState)
	}
	return nil
}

// dumpStacks ends n with SIGQUIT: the Go runtime writes every goroutine's
// stack to its log first.
func (n *node) dumpStacks() { n.end(unix.SIGQUIT, 10*time.Second) }

// pause sends SIGSTOP (true) or SIGCONT (false).
func (n *node) pause(stop bool) {
	cmd, _ := n.running()
	if cmd == nil {
		return
	}
	sig := unix.SIGCONT
	if stop {
		sig = unix.SIGSTOP
	}
	cmd.Process.Signal(sig)
	n.mu.Lock()
	n.stopped = stop
	n.mu.Unlock()
}

// info returns the fields of n's INFO cluster, nil if it does not answer.
func (n *node) info() map[string]string {
	if cmd, _ := n.running(); cmd == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := n.ctl.Info(ctx, "cluster").Result()
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// leader returns the node that says it leads, the one of the highest term
// if several do; nil if none.
func (cn *clusterNodes) leader() *node {
	var best *node
	var term int64 = -1
	for _, n := range cn.all {
		in := n.info()
		if in["cluster_role"] != "leader" {
			continue
		}
		if t, _ := strconv.ParseInt(in["cluster_term"], 10, 64); t > term {
			best, term = n, t
		}
	}
	return best
}

// leaderOr is the leader, or any other running node than n.
func (cn *clusterNodes) leaderOr(n *node) *node {
	if l := cn.leader(); l != nil && l != n {
		return l
	}
	for _, m := range cn.all {
		if c, _ := m.running(); c != nil && m != n {
			return m
		}
	}
	return cn.all[0]
}

// waitLeader waits until one node leads and every running node names it,
// with every node a voter.
func (cn *clusterNodes) waitLeader(within time.Duration) (*node, error) {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		if l := cn.leader(); l != nil {
			agree := true
			for _, n := range cn.all {
				in := n.info()
				if in == nil || in["cluster_leader_id"] != l.id || in["cluster_voters"] != strconv.Itoa(len(cn.all)) {
					agree = false
					last = fmt.Sprintf("%s says leader %q, voters %q", n.id, in["cluster_leader_id"], in["cluster_voters"])
					break
				}
			}
			if agree {
				return l, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no leader that every node names within %v (%s)", within, last)
}

// do runs a command on n from the control host.
func (n *node) do(timeout time.Duration, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.ctl.Do(ctx, args...).Result()
}

// leaderChanges counts the "became leader" lines in every node's log.
func (cn *clusterNodes) leaderChanges() int {
	total := 0
	for _, n := range cn.all {
		b, _ := os.ReadFile(n.logPath)
		total += strings.Count(string(b), `msg="cluster role changed" role=leader`)
	}
	return total
}

// closeAll kills every node and closes the control clients.
func (cn *clusterNodes) closeAll() {
	for _, n := range cn.all {
		n.kill()
		n.ctl.Close()
	}
}
