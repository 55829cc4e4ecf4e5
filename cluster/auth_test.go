package cluster

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// setApplier knows SET key value, enough for the port's tests.
type setApplier struct{}

func (setApplier) Keys(args [][]byte) ([][]byte, error) { return args[1:2], nil }

func (setApplier) Apply(g *shm.LockGroup, args [][]byte) ([]byte, error) {
	return []byte("OK"), g.Set(args[1], shm.Bytes(args[2]))
}

// newLoneNode starts a node with no state and no voters: it waits to be
// added, and follows whoever appends to it.
func newLoneNode(t *testing.T, secret []byte) *Node {
	t.Helper()
	m, err := shm.Open(shm.Config{Path: filepath.Join(t.TempDir(), "mem"), Vars: 64, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := NewNode(Config{ID: "lone", Addr: "127.0.0.1:0", Memory: m, Applier: setApplier{}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	return n
}

// testLayer dials with dial and accepts nothing: a client transport.
type testLayer struct {
	net.Listener
	dial func(addr string) (net.Conn, error)
}

func (l testLayer) Dial(addr raft.ServerAddress, _ time.Duration) (net.Conn, error) {
	return l.dial(string(addr))
}

// appendOne asks the node at addr, as leader of term 1, to append and
// commit one SET through a Raft transport over dial.
func appendOne(t *testing.T, addr string, dial func(string) (net.Conn, error)) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: testLayer{Listener: ln, dial: dial}, MaxPool: 1, Timeout: 2 * time.Second,
		Logger: hclog.NewNullLogger(),
	})
	defer trans.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(ln.Addr().String())},
		Term:      1, LeaderCommitIndex: 1,
		Entries: []*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: EncodeEntry([][]byte{[]byte("SET"), []byte("k"), []byte("v")})}},
	}
	var resp raft.AppendEntriesResponse
	if err := trans.AppendEntries("lone", raft.ServerAddress(addr), req, &resp); err != nil {
		return err
	}
	if !resp.Success {
		t.Fatalf("append refused: %+v", resp)
	}
	return nil
}

func TestClusterPortRefusesWrongSecret(t *testing.T) {
	secret := []byte("right")
	n := newLoneNode(t, secret)
	// Raft's own bytes straight onto the port: nothing comes back.
	raw := func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
	if err := appendOne(t, n.Addr(), raw); err == nil {
		t.Error("a raw Raft connection appended")
	}
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte{0}, 200))
	c.SetReadDeadline(time.Now().Add(wait))
	// The port closes it unread: an EOF, or a reset for the unread bytes.
	if b, err := io.ReadAll(c); len(b) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("a raw connection got %q, %v; want nothing, then its end", b, err)
	}
	c.Close()
	// The handshake with a wrong secret fails on both sides.
	wrong := func(addr string) (net.Conn, error) {
		return dialer{secret: []byte("wrong")}.dial(addr, kindRaft, time.Second)
	}
	if err := appendOne(t, n.Addr(), wrong); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong secret: %v, want ErrAuth", err)
	}
	if got := n.raft.LastIndex(); got != 0 {
		t.Fatalf("refused connections grew the log to %d", got)
	}
	deadline := time.Now().Add(wait)
	for n.Metrics().RefusedConns < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.Metrics().RefusedConns; got != 3 {
		t.Errorf("RefusedConns = %d, want 3", got)
	}
	// The right secret makes it append and apply.
	right := func(addr string) (net.Conn, error) { return dialer{secret: secret}.dial(addr, kindRaft, time.Second) }
	if err := appendOne(t, n.Addr(), right); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitApplied(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if v, _, err := n.fsm.m.Get([]byte("k")); err != nil || v.String() != "v" {
		t.Errorf("k = %v, %v after an authenticated append", v, err)
	}
}

// A node proves itself before the dialer does: a dialer never sends its
// proof to a port that does not know the secret.
func TestDialerRefusesImpostor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		acceptHandshake(c, []byte("impostor")) // fails: reads no proof
		b, _ := io.ReadAll(c)
		got <- b
	}()
	if _, err := (dialer{secret: []byte("right")}).dial(ln.Addr().String(), kindRPC, time.Second); !errors.Is(err, ErrAuth) {
		t.Errorf("dial to an impostor: %v, want ErrAuth", err)
	}
	if b := <-got; len(b) != 0 {
		t.Errorf("the dialer sent %d bytes after the impostor's proof", len(b))
	}
}

const wait = 15 * time.Second

// An empty secret is an empty key, not no handshake: a dialer must still
// prove it knows that the secret is empty.
func TestEmptySecretStillAuthenticates(t *testing.T) {
	n := newLoneNode(t, nil)
	if _, err := (dialer{}).dial(n.Addr(), kindRPC, time.Second); err != nil {
		t.Errorf("empty secret on both sides: %v", err)
	}
	if _, err := (dialer{secret: []byte("x")}).dial(n.Addr(), kindRPC, time.Second); !errors.Is(err, ErrAuth) {
		t.Errorf("a secret against an empty one: %v, want ErrAuth", err)
	}
}
