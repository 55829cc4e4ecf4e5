package torture

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The cluster torture's network: a switch host holds a bridge, and every
// node and client host is a network namespace of its own with one veth on
// it, as in scripts/demo-hosts --cluster. Node k (from 1) is 10.78.0.k,
// client host i (from 1) 10.78.0.(100+i). Faults between nodes are
// iptables rules in the nodes' namespaces (partitions, loss, the delaying
// proxy's redirect) and links set down on the switch.
const (
	netPrefix   = "10.78.0."
	clientPort  = 12345
	clusterPort = 12346
	proxyPort   = 12347 // the delaying proxy's, in a node's namespace
)

// netw is one run's network.
type netw struct {
	id      string // suffix of every namespace's name
	sw      string // the switch's namespace
	nodes   []string
	clients []string
}

func nodeIP(k int) string   { return fmt.Sprintf("%s%d", netPrefix, k) }
func clientIP(i int) string { return fmt.Sprintf("%s%d", netPrefix, 100+i) }

// newNet makes the switch, nodes node hosts and clients client hosts.
func newNet(nodes, clients int) (*netw, error) {
	n := &netw{id: fmt.Sprintf("%d%d", os.Getpid()%100000, time.Now().UnixNano()%1000), nodes: []string{""}, clients: []string{""}}
	n.sw = "dsmtB" + n.id
	var batch, bridge strings.Builder
	fmt.Fprintf(&batch, "netns add %s\n", n.sw)
	bridge.WriteString("link add br0 type bridge\nlink set br0 up\n")
	type member struct{ ns, ip, port string }
	var members []member
	for k := 1; k <= nodes; k++ {
		n.nodes = append(n.nodes, fmt.Sprintf("dsmtN%dx%s", k, n.id))
		members = append(members, member{n.nodes[k], nodeIP(k), fmt.Sprintf("n%d", k)})
	}
	for i := 1; i <= clients; i++ {
		n.clients = append(n.clients, fmt.Sprintf("dsmtC%dx%s", i, n.id))
		members = append(members, member{n.clients[i], clientIP(i), fmt.Sprintf("c%d", i)})
	}
	for _, m := range members {
		fmt.Fprintf(&batch, "netns add %s\nlink add eth0 netns %s type veth peer name %s netns %s\n", m.ns, m.ns, m.port, n.sw)
		fmt.Fprintf(&bridge, "link set %s master br0 up\n", m.port)
	}
	if err := ipBatch(batch.String()); err != nil {
		n.close()
		return nil, err
	}
	if err := ipBatch(bridge.String(), "-n", n.sw); err != nil {
		n.close()
		return nil, err
	}
	for _, m := range members {
		if err := ipBatch(fmt.Sprintf("link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n", m.ip), "-n", m.ns); err != nil {
			n.close()
			return nil, err
		}
	}
	return n, nil
}

// ipBatch runs ip -batch with the commands given.
func ipBatch(cmds string, args ...string) error {
	cmd := exec.Command("ip", append(args, "-batch", "-")...)
	cmd.Stdin = strings.NewReader(cmds)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip %v -batch: %v\n%s", args, err, out)
	}
	return nil
}

// close kills whatever runs in the namespaces and deletes them.
func (n *netw) close() {
	all := append(append([]string{n.sw}, n.nodes[1:]...), n.clients[1:]...)
	for _, ns := range all {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				var pid int
				fmt.Sscan(f, &pid)
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// inNS runs f on a thread in namespace ns: the sockets f opens stay in ns.
func inNS(ns string, f func() error) error {
	runtime.LockOSThread()
	// The thread goes back to the test's namespace; if it cannot, it is
	// left locked so that Go ends it with the goroutine.
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(self)
	target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err == nil {
		runtime.UnlockOSThread()
	}
	return ferr
}

// dialFrom connects from host ns to addr.
func dialFrom(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var nc net.Conn
	err := inNS(ns, func() (err error) {
		nc, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return nc, err
}

// iptables runs iptables in node k's namespace.
func (n *netw) iptables(k int, args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.nodes[k], "iptables", "-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %v on n%d: %v\n%s", args, k, err, out)
	}
	return nil
}

// cut drops every packet between node k and node j, both ways.
func (n *netw) cut(k, j int) error {
	if err := n.iptables(k, "-A", "INPUT", "-s", nodeIP(j), "-j", "DROP"); err != nil {
		return err
	}
	return n.iptables(k, "-A", "OUTPUT", "-d", nodeIP(j), "-j", "DROP")
}

// lose drops each packet from the other nodes to node k with probability p.
func (n *netw) lose(k int, p float64) error {
	for j := 1; j < len(n.nodes); j++ {
		if j != k {
			if err := n.iptables(k, "-A", "INPUT", "-s", nodeIP(j), "-m", "statistic", "--mode", "random",
				"--probability", fmt.Sprint(p), "-j", "DROP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// link sets node k's port on the switch up or down.
func (n *netw) link(k int, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ipBatch(fmt.Sprintf("link set n%d %s\n", k, state), "-n", n.sw)
}

// heal removes every rule and sets every link up.
func (n *netw) heal() error {
	var errs []string
	for k := 1; k < len(n.nodes); k++ {
		for _, table := range []string{"filter", "nat"} {
			if err := n.iptables(k, "-t", table, "-F"); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if err := n.link(k, true); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if errs != nil {
		return fmt.Errorf("heal: %s", strings.Join(errs, "; "))
	}
	return nil
}

// delayProxy slows every connection to node k's cluster port: iptables
// redirects the other nodes' new connections to the proxy, which forwards
// each chunk after delay, and resets their old direct ones.
type delayProxy struct {
	ln    net.Listener
	delay time.Duration
	mu    sync.Mutex // guards conns
	conns []net.Conn
	wg    sync.WaitGroup
}

func (n *netw) startDelay(k int, delay time.Duration) (*delayProxy, error) {
	p := &delayProxy{delay: delay}
	err := inNS(n.nodes[k], func() (err error) {
		p.ln, err = net.Listen("tcp", fmt.Sprintf("%s:%d", nodeIP(k), proxyPort))
		return err
	})
	if err != nil {
		return nil, err
	}
	p.wg.Go(func() { p.serve(n.nodes[k], fmt.Sprintf("%s:%d", nodeIP(k), clusterPort)) })
	port := fmt.Sprint(clusterPort)
	if err := n.iptables(k, "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", port, "-j", "REDIRECT", "--to-ports", fmt.Sprint(proxyPort)); err != nil {
		p.close()
		return nil, err
	}
	if err := n.iptables(k, "-A", "INPUT", "-p", "tcp", "--dport", port, "!", "-s", nodeIP(k), "-j", "REJECT", "--reject-with", "tcp-reset"); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *delayProxy) serve(ns, target string) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := dialFrom(ns, target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, up) })
		p.wg.Go(func() { p.pipe(up, c) })
	}
}

// pipe copies from src to dst, each chunk delay after it was read.
func (p *delayProxy) pipe(src, dst net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range ch {
			time.Sleep(time.Until(c.at.Add(p.delay)))
			if _, err := dst.Write(c.b); err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
		for range ch {
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			ch <- chunk{append([]byte(nil), buf[:k]...), time.Now()}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			break
		}
	}
	close(ch)
	<-done
}

// close stops the proxy and cuts the connections through it.
func (p *delayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
