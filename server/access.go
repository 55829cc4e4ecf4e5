package server

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// access is what the access rules grant one client.
type access int

const (
	// accessTrusted: loopback (or not an IP connection at all, such as a
	// pipe in tests) or an allowed network. Both protocols are served; RESP
	// still needs AUTH when a password is set.
	accessTrusted access = iota
	// accessPassword: any other network when a password is set and there
	// is no allow-list. RESP with AUTH only: the seed protocol has no AUTH.
	accessPassword
	// accessDenied: refused after the first read (refuseAccess).
	accessDenied
)

// refusal is why a client is refused (by the access rules, or past
// MaxClients): reason names it in the log and in the metrics, msg explains
// it to a RESP client.
type refusal struct {
	reason, msg string
}

var (
	refusedProtected  = refusal{"protected_mode", msgProtected}
	refusedNotAllowed = refusal{"not_in_allow_list", msgNotAllowed}
	refusedMaxClients = refusal{"max_clients", msgMaxClients}
)

// Reasons to refuse the seed protocol, which has no AUTH, to a client that
// the rules above admit: it was admitted by the password alone, or a
// password is set and Config.SeedOpen is not.
const (
	reasonSeedUntrusted = "seed_from_untrusted_network"
	reasonSeedPassword  = "seed_with_password_needs_seed_open"
)

// seedRefusal returns why the seed protocol is refused to c, or "" if it
// is served.
func (c *conn) seedRefusal() string {
	switch {
	case c.access != accessTrusted:
		return reasonSeedUntrusted
	case c.s.cfg.Password != "" && !c.s.cfg.SeedOpen:
		return reasonSeedPassword
	}
	return ""
}

// refuseWait bounds how long a refused client may take to send its first
// bytes, which tell its protocol. At most refuseSlots refused clients wait
// at once, so that they hold few of the MaxClients places.
const (
	refuseWait  = 2 * time.Second
	refuseSlots = 64
)

// Refusal texts. Each says why and what to do, in one line.
const (
	msgProtected = "DENIED dsmd is running in protected mode because it listens beyond loopback " +
		"with neither a password nor an allow-list, so it only admits clients on the loopback interface. " +
		"To admit this client, restart dsmd with one of: 1) -password (or DSM_PASSWORD) and have clients AUTH; " +
		"2) -allow CIDR naming the client's network; 3) -listen on a loopback address only, " +
		"if no remote client should connect."
	msgNotAllowed = "DENIED this client's address is not in dsmd's -allow list. " +
		"To admit it, restart dsmd with its network added to -allow CIDR[,CIDR...]."
)

// classify applies the access rules to a client address. It returns the
// access granted and, when denied, why.
func (s *Server) classify(addr net.Addr) (access, refusal) {
	ip, ok := peerIP(addr)
	if !ok || ip.IsLoopback() {
		return accessTrusted, refusal{}
	}
	if len(s.cfg.Allow) > 0 {
		if allowed(s.cfg.Allow, ip) {
			return accessTrusted, refusal{}
		}
		return accessDenied, refusedNotAllowed
	}
	if s.cfg.Password != "" {
		return accessPassword, refusal{}
	}
	return accessDenied, refusedProtected
}

// refuseAccess ends a connection that the access rules refuse. It runs on
// the connection's goroutine, so the connection holds one of the
// MaxClients places while it waits.
func (c *conn) refuseAccess(r refusal) error {
	c.proto = c.s.refuseNow(c.raw, r)
	return errDenied
}

// refuseNow runs refuseByProto on the calling goroutine in a refuse slot,
// and returns the protocol it found; with no slot free, nc ends at once
// ("none").
func (s *Server) refuseNow(nc net.Conn, r refusal) string {
	if !s.takeRefuseSlot(nc, r) {
		return "none"
	}
	defer s.releaseRefuseSlot()
	return s.refuseByProto(nc, r)
}

// refuseLater ends a connection refused before it is served (past
// MaxClients) as refuseNow does, but on a goroutine of its own: the accept
// loop must not wait for a client. The slot is taken first, so that
// refused clients hold at most refuseSlots goroutines and sockets.
func (s *Server) refuseLater(nc net.Conn, r refusal) {
	if !s.takeRefuseSlot(nc, r) {
		return
	}
	if !s.goFunc(func() {
		defer s.releaseRefuseSlot()
		s.refuseByProto(nc, r)
	}) {
		s.releaseRefuseSlot()
		s.hangUp(nc, r.reason, "none")
	}
}

// takeRefuseSlot takes one of the refuseSlots places of refused clients
// waiting for their first bytes, which the caller gives back with
// releaseRefuseSlot. When none is free it ends nc at once without a word,
// which is safe for either protocol and costs only a RESP client's
// explanation, and returns false.
func (s *Server) takeRefuseSlot(nc net.Conn, r refusal) bool {
	select {
	case s.refusing <- struct{}{}:
		return true
	default:
		s.hangUp(nc, r.reason, "none")
		return false
	}
}

func (s *Server) releaseRefuseSlot() { <-s.refusing }

// refuseByProto ends a refused connection once its first bytes tell its
// protocol, which it returns: "seed", "resp" or "none". It is the one
// place where a connection is refused before its protocol is known. A
// seed client would take the first four bytes of any explanation for a
// value (its client prints "-DEN" as 1313162285), so it gets no byte: the
// connection just ends. Any other client is answered with r.msg. A client that sends nothing within
// refuseWait, or before the server begins to shut down, is closed without
// a word too: it may be a seed client whose user has not typed yet. The
// caller holds a refuse slot.
//
// The first read takes up to 512 bytes, normally all the client sent
// first: a byte left unread when the socket closes makes the kernel reset
// the connection, and a reset may discard the explanation on its way.
func (s *Server) refuseByProto(nc net.Conn, r refusal) string {
	nc.SetReadDeadline(time.Now().Add(refuseWait))
	stop := context.AfterFunc(s.live.ctx, func() { nc.SetReadDeadline(time.Now()) })
	var first [512]byte
	n, _ := nc.Read(first[:])
	stop()
	switch {
	case n == 0:
		s.hangUp(nc, r.reason, "none")
		return "none"
	case isSeedOp(first[0]):
		s.hangUp(nc, r.reason, "seed")
		return "seed"
	}
	s.refuse(nc, r.reason, r.msg)
	return "resp"
}

// isSeedOp reports whether b, a connection's first byte, opens the seed
// protocol.
func isSeedOp(b byte) bool { return b == 'R' || b == 'W' }

// peerIP returns the IP of a TCP peer; ok is false for other transports.
func peerIP(addr net.Addr) (netip.Addr, bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return ip.Unmap(), ok
}

func allowed(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
