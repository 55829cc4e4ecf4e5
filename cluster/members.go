package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

// Hello is what a node tells of itself and of the leader it knows.
type Hello struct {
	ID, RaftAddr, ClientAddr string
	// Seed and Limits are the node's file's hash seed and capacities:
	// a node that joins creates its file with the same.
	Seed   uint64
	Limits shm.Limits
	// LeaderID, LeaderRaftAddr and LeaderClientAddr name the leader the
	// node knows ("" if none or unknown).
	LeaderID, LeaderRaftAddr, LeaderClientAddr string
	// Applied is the node's file's applied index (FSM.Applied).
	Applied uint64
}

func (h *Hello) encode(b []byte) []byte {
	for _, s := range []string{h.ID, h.RaftAddr, h.ClientAddr} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, h.Seed)
	l := h.Limits
	for _, v := range []int64{int64(l.Capacity), int64(l.NameMax), int64(l.ValueMax), int64(l.GroupMax), l.FileSize, int64(l.ProcSlots), int64(l.Lanes)} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	for _, s := range []string{h.LeaderID, h.LeaderRaftAddr, h.LeaderClientAddr} {
		b = appendString(b, s)
	}
	return binary.AppendUvarint(b, h.Applied)
}

func decodeHello(d *fields) Hello {
	var h Hello
	h.ID, h.RaftAddr, h.ClientAddr = d.string(), d.string(), d.string()
	h.Seed = d.uvarint()
	l := &h.Limits
	for _, p := range []*int{&l.Capacity, &l.NameMax, &l.ValueMax, &l.GroupMax} {
		*p = int(d.uvarint())
	}
	l.FileSize = int64(d.uvarint())
	l.ProcSlots, l.Lanes = int(d.uvarint()), int(d.uvarint())
	h.LeaderID, h.LeaderRaftAddr, h.LeaderClientAddr = d.string(), d.string(), d.string()
	h.Applied = d.uvarint()
	return h
}

// hello is this node's Hello.
func (n *Node) hello() Hello {
	addr, id := n.raft.LeaderWithID()
	return Hello{
		ID: n.id, RaftAddr: n.Addr(), ClientAddr: n.clientAddr,
		Seed: n.fsm.m.Seed(), Limits: n.fsm.m.Limits(),
		LeaderID: string(id), LeaderRaftAddr: string(addr), LeaderClientAddr: n.clientAddrOf(string(id)),
		Applied: n.fsm.Applied(),
	}
}

// peerInfo is what a node learnt of another through Hello.
type peerInfo struct{ raftAddr, clientAddr string }

func (n *Node) setPeer(h Hello) {
	if h.ID == "" || h.ID == n.id {
		return
	}
	n.peersMu.Lock()
	n.peers[h.ID] = peerInfo{raftAddr: h.RaftAddr, clientAddr: h.ClientAddr}
	n.peersMu.Unlock()
}

// clientAddrOf returns the client address of the node id, "" if unknown.
func (n *Node) clientAddrOf(id string) string {
	if id == n.id {
		return n.clientAddr
	}
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	return n.peers[id].clientAddr
}

// handleHello learns the caller (a Probe's is empty) and answers with this
// node's Hello.
func (n *Node) handleHello(d *fields) []byte {
	h := decodeHello(d)
	if d.err != nil {
		return encodeError(nil, d.err)
	}
	n.setPeer(h)
	me := n.hello()
	return me.encode([]byte{statusOK})
}

// helloPeer exchanges Hellos with the node at addr and learns it.
func (n *Node) helloPeer(ctx context.Context, addr string) (Hello, error) {
	me := n.hello()
	h, err := callHello(ctx, n.rpc, addr, me.encode(nil))
	if err == nil {
		n.setPeer(h)
	}
	return h, err
}

func callHello(ctx context.Context, c *rpcClient, addr string, body []byte) (Hello, error) {
	status, d, err := c.call(ctx, addr, opHello, body)
	if err != nil {
		return Hello{}, err
	}
	if status != statusOK {
		return Hello{}, statusError(status, d.string())
	}
	h := decodeHello(d)
	return h, d.err
}

// peerTimeout bounds the Hellos the node sends on its own.
const peerTimeout = 2 * time.Second

// learnLeader says hello to a new leader, to learn its client address.
func (n *Node) learnLeader() {
	addr, id := n.raft.LeaderWithID()
	if id == "" || string(id) == n.id {
		return
	}
	n.spawn(func() {
		ctx, cancel := context.WithTimeout(n.ctx, peerTimeout)
		defer cancel()
		n.helloPeer(ctx, string(addr))
	})
}

// learnPeers says hello to the members whose client address is unknown.
func (n *Node) learnPeers() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == n.id || n.clientAddrOf(string(s.ID)) != "" {
			continue
		}
		addr := string(s.Address)
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.ctx, peerTimeout)
			defer cancel()
			n.helloPeer(ctx, addr)
		})
	}
}

// Dialer reaches a cluster's port from outside it, for a node that is not
// a member yet: it knows the cluster secret and, if the port uses TLS,
// the TLS configuration.
type Dialer struct {
	Secret []byte
	TLS    *tls.Config
}

// Probe asks the node at clusterAddr (its cluster port) for its Hello: a
// new node learns the cluster's hash seed and capacities before it
// creates its file, and the leader.
func Probe(ctx context.Context, clusterAddr string, secret []byte) (Hello, error) {
	return Dialer{Secret: secret}.Probe(ctx, clusterAddr)
}

// Probe is the package's Probe through d.
func (d Dialer) Probe(ctx context.Context, clusterAddr string) (Hello, error) {
	c := newRPCClient(dialer{secret: d.Secret, tls: d.TLS})
	defer c.close()
	return callHello(ctx, c, clusterAddr, (&Hello{}).encode(nil))
}

// Member is one server of a cluster's configuration.
type Member struct {
	ID, RaftAddr string
	// ClientAddr is the member's client address, "" if not known yet.
	ClientAddr string
	Voter      bool // whether it votes (else a learner, catching up)
	Leader     bool // whether it is the leader this node knows
}

// Members lists the cluster's configuration as this node knows it, asking
// members whose client address it does not know yet (within ctx).
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	leader := n.leaderID()
	var out []Member
	for _, s := range f.Configuration().Servers {
		m := Member{
			ID: string(s.ID), RaftAddr: string(s.Address), ClientAddr: n.clientAddrOf(string(s.ID)),
			Voter: s.Suffrage == raft.Voter, Leader: string(s.ID) == leader,
		}
		if m.ClientAddr == "" && m.ID != n.id {
			if h, err := n.helloPeer(ctx, m.RaftAddr); err == nil && h.ID == m.ID {
				m.ClientAddr = h.ClientAddr
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// Status is a node's view of its cluster.
type Status struct {
	ID, State string
	// Role is "leader", "follower", "candidate", "learner" (a follower
	// that does not vote) or "shutdown".
	Role                 string
	LeaderID, LeaderAddr string // the leader's ID and Raft address
	LeaderClientAddr     string // the leader's client address, if known
	Term                 uint64
	Voters               int    // voters in the latest configuration
	CommitIndex          uint64 // highest index known committed
	AppliedIndex         uint64 // Raft's last applied index (all entry types)
	FileApplied          uint64 // last command entry applied to the file
	LastContact          time.Time
}

// Status reports the node's role, leader, term and indexes.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	voters := 0
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				voters++
			}
		}
	}
	return Status{
		ID: n.id, State: n.raft.State().String(), Role: n.role(),
		LeaderID: string(id), LeaderAddr: string(addr), LeaderClientAddr: n.clientAddrOf(string(id)),
		Term: n.raft.CurrentTerm(), Voters: voters, CommitIndex: n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(), FileApplied: n.fsm.Applied(),
		LastContact: n.raft.LastContact(),
	}
}
