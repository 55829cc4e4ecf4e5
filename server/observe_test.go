package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// TestTap: a tap sees every process's changes while it is registered, and
// none after it stops; the feed stops with the last tap.
func TestTap(t *testing.T) {
	ts := startServer(t, Config{})
	var mu sync.Mutex
	var seen []string
	stop, err := ts.Tap(func(chs []shm.Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, ch := range chs {
			seen = append(seen, string(ch.Name)+"="+ch.Item.Value.String())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, ts.addr)
	c.do("SET", "a", "1")
	waitFor(t, "the tap to see a's set", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Equal(seen, []string{"a=1"})
	})
	c.do("DEL", "a")
	waitFor(t, "the tap to see a's deletion", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 2 && seen[1] == "a="
	})
	stop()
	stop() // twice is harmless
	if ts.live.hub.subscribed() {
		t.Error("the feed still counts a subscription after the tap stopped")
	}
	c.do("SET", "b", "2")
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Errorf("a stopped tap saw %v", seen[2:])
	}
}

// TestObservedLocks: Locks lists a LOCK's holder with its lease and a
// waiting LOCK with its wait; Clients says each one's protocol and locks.
func TestObservedLocks(t *testing.T) {
	ts := startServer(t, Config{})
	h := dialRaw(t, ts.addr)
	if r := h.do("LOCK", "WRITE", "LEASE", "60000", "b", "a"); r != "+OK\r\n" {
		t.Fatalf("LOCK: %q", r)
	}
	w := dialRaw(t, ts.addr)
	w.send(encode("LOCK", "READ", "WAIT", "60000", "a"))
	waitFor(t, "the waiter", func() bool { return len(ts.Locks()) == 2 })
	ls := ts.Locks()
	if l := ls[0]; l.Waiting || !l.Write || !slices.Equal(l.Names, []string{"a", "b"}) || l.Left < 50*time.Second {
		t.Errorf("holder: %+v", l)
	}
	if l := ls[1]; !l.Waiting || l.Write || !slices.Equal(l.Names, []string{"a"}) || l.Left < 50*time.Second {
		t.Errorf("waiter: %+v", l)
	}
	cs := ts.Clients()
	if len(cs) != 2 || cs[0].Proto != "resp2" || cs[0].Locks != 2 || cs[0].LastCmd != "lock" || cs[1].Locks != 0 {
		t.Errorf("clients: %+v", cs)
	}
	h.do("UNLOCK")
	if r := w.reply(); r != "+OK\r\n" {
		t.Fatalf("the waiter's LOCK: %q", r)
	}
	if ls := ts.Locks(); len(ls) != 1 || ls[0].Waiting || ls[0].Write {
		t.Errorf("after UNLOCK: %+v", ls)
	}
}

// TestAdmit: the access rules as another listener's clients get them.
func TestAdmit(t *testing.T) {
	ts := startServer(t, Config{})
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	if err := ts.Admit(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
	if err := ts.Admit(remote); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "protected mode") {
		t.Errorf("a remote client in protected mode: %v", err)
	}
	pw := startServer(t, Config{Password: "pw"})
	if err := pw.Admit(remote); err != nil || !pw.PasswordSet() || !pw.CheckPassword("pw") || pw.CheckPassword("pW") {
		t.Errorf("with a password: %v", err)
	}
}

// TestDialLocal: a local connection runs commands without AUTH, even
// with a password, and is refused once the server stops.
func TestDialLocal(t *testing.T) {
	ts := startServer(t, Config{Password: "pw"})
	nc, err := ts.DialLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, encode("SET", "k", "v"))
	if line, err := bufio.NewReader(nc).ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("SET on a local connection: %q %v", line, err)
	}
	if vars, n, err := ts.Variables("k*", 10); err != nil || n != 1 || len(vars) != 1 || vars[0].Value != "v" {
		t.Errorf("Variables: %+v %d %v", vars, n, err)
	}
	ts.stop(t)
	if _, err := ts.DialLocal(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("DialLocal after the stop: %v", err)
	}
	select {
	case <-ts.Done():
	case <-time.After(time.Second):
		t.Error("Done is not closed after the stop")
	}
}

// TestObservedCluster: a node's view lists every member with its role and
// lag (each answered), the term, and no reserved variable.
func TestObservedCluster(t *testing.T) {
	tc := startCluster(t, 3, nil)
	l := tc.leader()
	ctx := t.Context()
	if err := tc.client(l).Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	f := tc.follower()
	var v ClusterView
	waitFor(t, "every member to answer", func() bool {
		var ok bool
		v, ok = tc.nodes[f].Cluster(ctx)
		if !ok || len(v.Members) != 3 {
			return false
		}
		for _, m := range v.Members {
			if m.Lag < 0 {
				return false
			}
		}
		return true
	})
	roles := map[string]int{}
	for _, m := range v.Members {
		roles[m.Role]++
		if m.ClientAddr == "" {
			t.Errorf("member %s has no client address", m.ID)
		}
	}
	if roles["leader"] != 1 || roles["follower"] != 2 || v.Term == 0 || v.NodeID != tc.nodes[f].id || v.Role != "follower" {
		t.Errorf("view: %+v", v)
	}
	waitFor(t, "the follower to list x alone", func() bool {
		vars, n, err := tc.nodes[f].Variables("", 100)
		return err == nil && n == 1 && len(vars) == 1 && vars[0].Name == "x"
	})
	if _, ok := startServer(t, Config{}).Cluster(ctx); ok {
		t.Error("a single host reports a cluster")
	}
}

// On a cluster node the observed locks are the cluster's table: a lock
// taken through one node shows on every node, with its token.
func TestObservedClusterLocks(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	tok := lockToken(t, tc.lockConn(f), "LEASE", 20000, "x", "y")
	for _, nd := range tc.nodes {
		waitCluster(t, "the lock on every node", func() bool {
			ls := nd.Locks()
			return len(ls) == 1 && ls[0].Token == uint64(tok) && ls[0].Write && !ls[0].Waiting &&
				slices.Equal(ls[0].Names, []string{"x", "y"}) && strings.HasPrefix(ls[0].Addr, tc.nodes[f].id+" ")
		})
	}
}
