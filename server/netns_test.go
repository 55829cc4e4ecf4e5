package server

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
)

// helperClient is a client run inside a network namespace. It connects to
// DSM_TEST_ADDR, performs DSM_TEST_ACTION and prints what the server said
// on one line:
//
//	ping       PING; prints the reply line
//	seed       R; prints the 4 bytes in hex, or the server's line (a
//	           refused seed client must read no byte: CLOSED)
//	auth:PASS  AUTH PASS, SET, GET; prints the replies joined by "|"
//
// A connection the server closes without a word prints "CLOSED".
func helperClient() int {
	c, err := net.DialTimeout("tcp", os.Getenv("DSM_TEST_ADDR"), 5*time.Second)
	if err != nil {
		fmt.Println("DIAL", err)
		return 1
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	action := os.Getenv("DSM_TEST_ACTION")
	switch {
	case action == "ping":
		c.Write([]byte(encode("PING")))
		fmt.Println(firstLine(br))
	case action == "seed":
		c.Write([]byte("R"))
		b, err := br.Peek(4)
		if err != nil || b[0] == '-' {
			fmt.Println(firstLine(br))
		} else {
			fmt.Println(hex.EncodeToString(b))
		}
	case strings.HasPrefix(action, "auth:"):
		c.Write([]byte(encode("AUTH", strings.TrimPrefix(action, "auth:")) + encode("SET", "k", "v") + encode("GET", "k")))
		var out []string
		for i := 0; i < 3; i++ {
			r, err := readReply(br)
			if err != nil {
				out = append(out, "CLOSED")
				break
			}
			out = append(out, strings.TrimSpace(strings.ReplaceAll(r, "\r\n", " ")))
		}
		fmt.Println(strings.Join(out, "|"))
	}
	return 0
}

func firstLine(br *bufio.Reader) string {
	line, err := br.ReadString('\n')
	if err != nil && line == "" {
		return "CLOSED"
	}
	return strings.TrimRight(line, "\r\n")
}

// netns is a set of network namespaces made for one test: a server host
// and two client hosts, each client on its own /24 of 10.213.0.0/16 with a
// veth pair to the server host.
type netns struct {
	server, a, b string
}

const (
	nsServerA = "10.213.1.1" // the server host's address on client A's link
	nsServerB = "10.213.2.1"
)

func setupNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		ci.NeedOrSkip(t, "needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the ip command (iproute2) is needed: %v", err)
	}
	id := fmt.Sprintf("%d%03d", os.Getpid()%100000, rand.Intn(1000))
	ns := &netns{server: "dsmS" + id, a: "dsmA" + id, b: "dsmB" + id}
	for _, name := range []string{ns.server, ns.a, ns.b} {
		run(t, "ip", "netns", "add", name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		run(t, "ip", "-n", name, "link", "set", "lo", "up")
	}
	ns.link(t, ns.a, "vA"+id, "10.213.1")
	ns.link(t, ns.b, "vB"+id, "10.213.2")
	return ns
}

// link joins the server namespace and client with a veth pair on net.0/24:
// the server is net.1, the client net.2.
func (ns *netns) link(t *testing.T, client, name, net string) {
	t.Helper()
	srvEnd, cliEnd := name+"s", name+"c"
	run(t, "ip", "link", "add", srvEnd, "type", "veth", "peer", "name", cliEnd)
	run(t, "ip", "link", "set", srvEnd, "netns", ns.server)
	run(t, "ip", "link", "set", cliEnd, "netns", client)
	run(t, "ip", "-n", ns.server, "addr", "add", net+".1/24", "dev", srvEnd)
	run(t, "ip", "-n", client, "addr", "add", net+".2/24", "dev", cliEnd)
	run(t, "ip", "-n", ns.server, "link", "set", srvEnd, "up")
	run(t, "ip", "-n", client, "link", "set", cliEnd, "up")
}

func run(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// client runs helperClient in namespace ns against addr and returns its line.
func (n *netns) client(t *testing.T, ns, addr, action string) string {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=client", "DSM_TEST_ADDR="+addr, "DSM_TEST_ACTION="+action)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client in %s: %v: %s", ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestAccessAcrossNamespaces runs dsmd on a server host and clients on two
// other hosts: protected mode refuses them, -allow admits only its network,
// -password admits with AUTH and refuses the seed protocol to everyone
// unless -seed-open, which serves it to loopback and -allow networks.
func TestAccessAcrossNamespaces(t *testing.T) {
	ns := setupNetns(t)
	dir := t.TempDir()
	const port = "12345"
	toA, toB := nsServerA+":"+port, nsServerB+":"+port
	start := func(name string, args ...string) *daemon {
		args = append([]string{"-listen", "0.0.0.0:" + port, "-file", filepath.Join(dir, name+".mem")}, args...)
		return startDaemon(t, []string{"ip", "netns", "exec", ns.server}, args...)
	}
	expect := func(clientNS, addr, action, wantPrefix string) {
		t.Helper()
		if got := ns.client(t, clientNS, addr, action); !strings.HasPrefix(got, wantPrefix) {
			t.Errorf("%s -> %s %s: got %q, want prefix %q", clientNS, addr, action, got, wantPrefix)
		}
	}

	t.Run("protected mode", func(t *testing.T) {
		d := start("protected")
		expect(ns.a, toA, "ping", "-DENIED dsmd is running in protected mode")
		expect(ns.b, toB, "seed", "CLOSED")
		expect(ns.server, "127.0.0.1:"+port, "ping", "+PONG")
		stopDaemon(t, d)
	})
	t.Run("allow-list", func(t *testing.T) {
		d := start("allow", "-allow", "10.213.1.0/24")
		expect(ns.a, toA, "ping", "+PONG")
		expect(ns.a, toA, "seed", "00000000")
		expect(ns.b, toB, "ping", "-DENIED this client's address is not in dsmd's -allow list")
		expect(ns.b, toB, "seed", "CLOSED")
		stopDaemon(t, d)
	})
	t.Run("password", func(t *testing.T) {
		d := start("password", "-password", "pw")
		expect(ns.a, toA, "ping", "-NOAUTH")
		expect(ns.a, toA, "auth:wrong", "-WRONGPASS")
		expect(ns.a, toA, "auth:pw", "+OK|+OK|$1 v")
		expect(ns.b, toB, "auth:pw", "+OK|+OK|$1 v")
		expect(ns.b, toB, "seed", "CLOSED")
		expect(ns.server, "127.0.0.1:"+port, "seed", "CLOSED")
		stopDaemon(t, d)
	})
	t.Run("password with -seed-open", func(t *testing.T) {
		d := start("seedopen", "-password", "pw", "-seed-open")
		expect(ns.a, toA, "seed", "CLOSED") // admitted by the password alone
		expect(ns.a, toA, "auth:pw", "+OK|+OK|$1 v")
		expect(ns.server, "127.0.0.1:"+port, "seed", "00000000")
		stopDaemon(t, d)
	})
}

func stopDaemon(t *testing.T, d *daemon) {
	t.Helper()
	if err := d.stop(t); err != nil {
		t.Errorf("dsmd exit: %v\n%s", err, d.output())
	}
}
