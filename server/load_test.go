package server

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
)

// Load tests run against a dsmd child process, so that its memory (VmRSS in
// /proc) is the daemon's alone and the load generator's race detector does
// not slow the daemon down. scripts/load runs them without -race and for the
// full 60 s of the saturating load.

// heldClients is how many connections TestLoadHoldsTenThousandClients
// holds: dsmd's default MaxClients, exactly.
const heldClients = DefaultMaxClients

// loadWorkers is how many goroutines dial and drive the held connections.
const loadWorkers = 32

// loadConn is one held connection: raw RESP over a socket, with a small
// read buffer because the test process holds ten thousand of them.
type loadConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialLoad(addr string) (*loadConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &loadConn{nc: nc, br: bufio.NewReaderSize(nc, 256)}, nil
}

// send writes commands (already encoded) within a generous deadline.
func (c *loadConn) send(s string) error {
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.nc.Write([]byte(s))
	return err
}

// expect reads one reply and checks it is want.
func (c *loadConn) expect(want string) error {
	got, err := c.reply()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

func (c *loadConn) reply() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	return readReply(c.br)
}

// do sends one command and returns its raw reply.
func (c *loadConn) do(args ...string) (string, error) {
	if err := c.send(encode(args...)); err != nil {
		return "", err
	}
	return c.reply()
}

// loadParallel runs f(0..n-1) on loadWorkers goroutines and returns the first
// error. The goroutines are owned here and have all ended when it returns.
func loadParallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = fmt.Errorf("client %d: %w", i, err) })
					next.Store(int64(n)) // stop handing out work
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// raiseFileLimit raises this process's RLIMIT_NOFILE to at least need, up
// to the hard limit, and the hard limit too when running as root. A child
// started afterwards (dsmd) inherits the new limits: calling Setrlimit stops
// the Go runtime from restoring the old soft limit for children.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Max < need && os.Geteuid() == 0 {
		raised := syscall.Rlimit{Cur: need, Max: need}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			t.Logf("raising the hard file limit to %d: %v", need, err)
		} else {
			lim = raised
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit %+v: %v", lim, err)
	}
	if lim.Cur < need {
		ci.NeedOrSkip(t, fmt.Sprintf("needs %d open files but the hard limit is %d (raise it with ulimit -Hn, or run as root)", need, lim.Max))
	}
}

// procStatus reads a "Name: value" line of /proc/PID/status, such as VmRSS
// (in kB), as bytes when it is in kB.
func procStatus(t *testing.T, pid int, name string) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of dsmd: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			t.Fatalf("%s in /proc/%d/status: %q", name, pid, line)
		}
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		return n
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return 0
}

// procOpenFiles reports the soft RLIMIT_NOFILE of process pid.
func procOpenFiles(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatalf("read limits of dsmd: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			n, err := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatalf("limits of dsmd: %q", line)
			}
			return n
		}
	}
	t.Fatalf("no open files limit for dsmd")
	return 0
}

// infoInt asks the server INFO and returns one field as an integer.
func infoInt(t *testing.T, c *loadConn, name string) int64 {
	t.Helper()
	r, err := c.do("INFO", "everything")
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	return infoField(t, r, name)
}

// infoField returns one integer field of an INFO reply.
func infoField(t *testing.T, info, name string) int64 {
	t.Helper()
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", name, line)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s:\n%s", name, info)
	return 0
}

// TestLoadHoldsTenThousandClients opens 10,000 RESP connections to one
// dsmd (its default MaxClients), PINGs each, keeps them all open, checks
// that one more is refused, then has every one of them SET its own
// variable, GET it back and INCR a shared counter, all at once: every reply
// must be right, and the INCR replies must be exactly 1..10,000 (each
// increment took effect once, at its own instant). It reports the daemon's
// memory per idle connection: the growth of its VmRSS, and of its Go heap,
// divided by the connections opened.
func TestLoadHoldsTenThousandClients(t *testing.T) {
	raiseFileLimit(t, heldClients+1000)
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "16384")
	pid := d.cmd.Process.Pid
	if n := procOpenFiles(t, pid); n < heldClients+100 {
		t.Fatalf("dsmd may open only %d files, fewer than the %d connections it must hold", n, heldClients)
	}
	start := time.Now()

	// The first connection is one of the ten thousand; it also asks INFO.
	mon, err := dialLoad(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*loadConn, heldClients)
	conns[0] = mon
	t.Cleanup(func() { closeLoadConns(conns) })
	if err := loadWarmUp(mon); err != nil {
		t.Fatal(err)
	}
	rss0, heap0 := procStatus(t, pid, "VmRSS"), infoInt(t, mon, "used_memory")

	if err := loadParallel(heldClients-1, func(i int) error {
		c, err := dialLoad(d.addr)
		if err != nil {
			return err
		}
		conns[i+1] = c
		if err := c.send(encode("PING")); err != nil {
			return err
		}
		return c.expect("+PONG\r\n")
	}); err != nil {
		t.Fatalf("opening %d connections: %v\n%s", heldClients, err, lastLines(d.output(), 20))
	}
	opened := time.Since(start)
	rss1, heap1 := procStatus(t, pid, "VmRSS"), infoInt(t, mon, "used_memory")
	if n := infoInt(t, mon, "connected_clients"); n != heldClients {
		t.Errorf("INFO connected_clients = %d with %d connections open", n, heldClients)
	}
	checkMaxClientsRefused(t, d.addr)

	roundStart := time.Now()
	if err := loadRound(conns); err != nil {
		t.Fatalf("GET/SET round on %d connections: %v", heldClients, err)
	}
	round := time.Since(roundStart)
	if r, err := mon.do("GET", "load:hits"); err != nil || r != bulk(strconv.Itoa(heldClients)) {
		t.Errorf("GET load:hits after the round = %q, %v; want %d", r, err, heldClients)
	}
	rss2 := procStatus(t, pid, "VmRSS")

	n := float64(heldClients - 1)
	t.Logf("held %d connections to one dsmd (opened and PINGed in %v; every one SET, GET, INCR in %v)",
		heldClients, opened.Round(time.Millisecond), round.Round(time.Millisecond))
	t.Logf("dsmd memory per idle connection: VmRSS %.1f KiB (%.1f -> %.1f MiB), Go heap %.1f KiB (%.1f -> %.1f MiB); VmRSS after the round %.1f MiB",
		float64(rss1-rss0)/n/1024, mib(rss0), mib(rss1),
		float64(heap1-heap0)/n/1024, mib(uint64(heap0)), mib(uint64(heap1)), mib(rss2))

	closeLoadConns(conns)
	waitLoadClients(t, d.addr, 1)
	stopDaemon(t, d)
}

// loadWarmUp runs a few commands so that the code paths every connection uses
// are paged in before the baseline is taken.
func loadWarmUp(c *loadConn) error {
	for _, cmd := range [][]string{{"PING"}, {"SET", "warm", "1"}, {"GET", "warm"}, {"INCR", "warm"}} {
		r, err := c.do(cmd...)
		if err != nil {
			return err
		}
		if strings.HasPrefix(r, "-") {
			return fmt.Errorf("%v: %q", cmd, r)
		}
	}
	return nil
}

// checkMaxClientsRefused dials while MaxClients connections are open and
// sends PING: the daemon must answer with its max-clients error and close.
func checkMaxClientsRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := dialLoad(addr)
	if err != nil {
		t.Fatalf("dial one more: %v", err)
	}
	defer c.nc.Close()
	if err := c.send(encode("PING")); err != nil {
		t.Fatalf("connection %d: %v", heldClients+1, err)
	}
	if err := c.expect(errReply(msgMaxClients)); err != nil {
		t.Errorf("connection %d: %v", heldClients+1, err)
	}
}

// loadRound first sends every connection its SET, GET and INCR, so that the
// daemon serves all ten thousand at once, then reads every reply.
func loadRound(conns []*loadConn) error {
	err := loadParallel(len(conns), func(i int) error {
		k, v := fmt.Sprintf("load:%d", i), strconv.Itoa(i)
		return conns[i].send(encode("SET", k, v) + encode("GET", k) + encode("INCR", "load:hits"))
	})
	if err != nil {
		return err
	}
	seen := make([]atomic.Bool, len(conns)+1)
	err = loadParallel(len(conns), func(i int) error {
		c := conns[i]
		if err := c.expect("+OK\r\n"); err != nil {
			return fmt.Errorf("SET: %w", err)
		}
		if err := c.expect(bulk(strconv.Itoa(i))); err != nil {
			return fmt.Errorf("GET: %w", err)
		}
		r, err := c.reply()
		if err != nil {
			return fmt.Errorf("INCR: %w", err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r, ":"), "\r\n"))
		if err != nil || n < 1 || n > len(conns) || seen[n].Swap(true) {
			return fmt.Errorf("INCR replied %q: not a fresh value in 1..%d", r, len(conns))
		}
		return nil
	})
	return err
}

func closeLoadConns(conns []*loadConn) {
	for _, c := range conns {
		if c != nil {
			c.nc.Close()
		}
	}
}

// waitLoadClients waits until the daemon counts want clients, the asking one
// included.
func waitLoadClients(t *testing.T, addr string, want int64) {
	t.Helper()
	c, err := dialLoad(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := infoInt(t, c, "connected_clients")
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dsmd still counts %d clients, want %d", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
