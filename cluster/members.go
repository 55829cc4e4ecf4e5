package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

// opJoinRoute asks any member to add a node (JoinVia): unlike opJoin,
// which only the leader serves, the member routes it to the leader.
const opJoinRoute byte = 7

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

// JoinVia asks the member at clusterAddr (its cluster port) to add the
// node id, reachable at raftAddr, to its cluster (see Node.Join). ctx's
// deadline travels with the request and bounds the join on the member;
// without one the member works on after ctx is cancelled.
func JoinVia(ctx context.Context, clusterAddr string, secret []byte, id, raftAddr string) error {
	return Dialer{Secret: secret}.JoinVia(ctx, clusterAddr, id, raftAddr)
}

// JoinVia is the package's JoinVia through d.
func (d Dialer) JoinVia(ctx context.Context, clusterAddr, id, raftAddr string) error {
	c := newRPCClient(dialer{secret: d.Secret, tls: d.TLS})
	defer c.close()
	status, dec, err := c.call(ctx, clusterAddr, opJoinRoute, appendString(appendString(nil, id), raftAddr))
	if err != nil {
		return err
	}
	if status != statusOK {
		return statusError(status, dec.string())
	}
	return nil
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

// Join adds the node id, whose cluster port is raftAddr, to the cluster,
// from any member (the leader does it): first as a non-voter, then, once
// its file has caught up with the leader's (from a snapshot if the log
// was compacted), as a voter. Membership changes run one at a time. A
// node already a voter at that address is left alone. ctx bounds the
// whole join, the catch-up included: a node that never catches up stays
// a non-voter (Remove takes it out).
func (n *Node) Join(ctx context.Context, id, raftAddr string) error {
	body := appendString(appendString(nil, id), raftAddr)
	return n.leaderCall(ctx, opJoin, body, func(ctx context.Context) error { return n.joinLocal(ctx, id, raftAddr) })
}

// Remove removes the node id from the cluster, from any member. Removing
// a node that is not a member does nothing.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.leaderCall(ctx, opRemove, appendString(nil, id), func(ctx context.Context) error { return n.removeLocal(ctx, id) })
}

// Transfer hands leadership to the voter id ("" for any), from any
// member, and returns once it has moved.
func (n *Node) Transfer(ctx context.Context, id string) error {
	return n.leaderCall(ctx, opTransfer, appendString(nil, id), func(ctx context.Context) error { return n.transferLocal(ctx, id) })
}

// leaderCall runs local on the leader, here or, through op, there.
func (n *Node) leaderCall(ctx context.Context, op byte, body []byte, local func(context.Context) error) error {
	return n.routeToLeader(ctx, func(ctx context.Context, addr string, self bool) (bool, error) {
		if self {
			err := local(ctx)
			return errors.Is(err, ErrNotLeader), err
		}
		status, d, err := n.rpc.call(ctx, addr, op, body)
		if err != nil {
			err = callFailure(err)
			return errors.Is(err, errNotSent), err
		}
		if status == statusOK {
			return false, nil
		}
		return status == statusNotLeader, statusError(status, d.string())
	})
}

// handleMembership runs a membership request on the leader (opJoinRoute
// on any member).
func (n *Node) handleMembership(ctx context.Context, d *fields, local func(context.Context) error) []byte {
	if d.err != nil {
		return encodeError(nil, d.err)
	}
	if err := local(ctx); err != nil {
		return encodeError(nil, err)
	}
	return []byte{statusOK}
}

// lockMembership takes the right to change the configuration, one change
// at a time; the returned func gives it back.
func (n *Node) lockMembership(ctx context.Context) (func(), error) {
	select {
	case n.memberSem <- struct{}{}:
		return func() { <-n.memberSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// leaderConfig returns the latest configuration, or ErrNotLeader.
func (n *Node) leaderConfig() (raft.Configuration, error) {
	if n.raft.State() != raft.Leader {
		return raft.Configuration{}, ErrNotLeader
	}
	f := n.raft.GetConfiguration()
	return f.Configuration(), f.Error()
}

// catchUpSlack is how far behind the leader's applied index a learner may
// be when it is promoted: close enough that it votes soon after, without
// waiting for a busy leader to pause.
const catchUpSlack = 64

// catchUpPoll is how often the leader asks a learner how far it is.
const catchUpPoll = 50 * time.Millisecond

func (n *Node) joinLocal(ctx context.Context, id, addr string) error {
	return n.changeMembers(ctx, func(cfg raft.Configuration) error {
		learner := false
		for _, s := range cfg.Servers {
			switch {
			case string(s.ID) != id:
			case string(s.Address) != addr:
				// The node moved: it rejoins at its new address.
				if err := waitFuture(ctx, n.raft.RemoveServer(s.ID, 0, 0)); err != nil {
					return leadershipError(err)
				}
			case s.Suffrage == raft.Voter:
				return nil
			default:
				learner = true
			}
		}
		if !learner {
			if err := waitFuture(ctx, n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 0)); err != nil {
				return leadershipError(err)
			}
		}
		if err := n.awaitCatchUp(ctx, id, addr, n.fsm.Applied()); err != nil {
			return err
		}
		return leadershipError(waitFuture(ctx, n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 0)))
	})
}

// changeMembers runs change, one membership change at a time, with the
// configuration as this node, the leader, has it.
func (n *Node) changeMembers(ctx context.Context, change func(raft.Configuration) error) error {
	unlock, err := n.lockMembership(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := n.leaderConfig()
	if err != nil {
		return err
	}
	return change(cfg)
}

// awaitCatchUp waits until the node id at addr has applied target (what
// this leader had applied when it was added) and is within catchUpSlack
// of what this leader has applied now.
func (n *Node) awaitCatchUp(ctx context.Context, id, addr string, target uint64) error {
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		if n.raft.State() != raft.Leader {
			return ErrNotLeader
		}
		h, err := n.helloPeer(ctx, addr)
		if err == nil && h.ID == id && h.Applied >= target && h.Applied+catchUpSlack >= n.fsm.Applied() {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s did not catch up (last: %v): %w", id, err, ctx.Err())
		}
	}
}

func (n *Node) removeLocal(ctx context.Context, id string) error {
	return n.changeMembers(ctx, func(cfg raft.Configuration) error {
		for _, s := range cfg.Servers {
			if string(s.ID) == id {
				return leadershipError(waitFuture(ctx, n.raft.RemoveServer(s.ID, 0, 0)))
			}
		}
		return nil
	})
}

func (n *Node) transferLocal(ctx context.Context, id string) error {
	cfg, err := n.leaderConfig()
	switch {
	case err != nil:
		return err
	case id == "":
		return leadershipError(waitFuture(ctx, n.raft.LeadershipTransfer()))
	case id == n.id:
		return nil
	}
	for _, s := range cfg.Servers {
		if string(s.ID) == id {
			return leadershipError(waitFuture(ctx, n.raft.LeadershipTransferToServer(s.ID, s.Address)))
		}
	}
	return fmt.Errorf("cluster: %q is not a member", id)
}
