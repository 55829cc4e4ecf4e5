package server

import (
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

// refusal is why the access rules refuse a client: reason names it in the
// log and in the metrics, msg explains it to a RESP client.
type refusal struct {
	reason, msg string
}

var (
	refusedProtected  = refusal{"protected_mode", msgProtected}
	refusedNotAllowed = refusal{"not_in_allow_list", msgNotAllowed}
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

// refuseAccess ends a connection that the access rules refuse. The first
// bytes the client sends tell its protocol. A seed client would take the
// first four bytes of any explanation for a value (its client prints
// "-DEN" as 1313162285), so it gets no byte: the connection just ends. Any
// other client is answered with r.msg. A client that sends nothing within
// refuseWait is closed without a word too: it may be a seed client whose
// user has not typed yet.
//
// When refuseSlots refused clients wait already, the connection ends at
// once without a word.
//
// The first read takes up to 512 bytes, normally all the client sent
// first: a byte left unread when the socket closes makes the kernel reset
// the connection, and a reset may discard the explanation on its way.
func (c *conn) refuseAccess(r refusal) error {
	select {
	case c.s.refusing <- struct{}{}:
		defer func() { <-c.s.refusing }()
	default:
		c.proto = "none"
		c.s.hangUp(c.raw, r.reason, c.proto)
		return errDenied
	}
	c.raw.SetReadDeadline(time.Now().Add(refuseWait))
	var first [512]byte
	n, _ := c.raw.Read(first[:])
	switch {
	case n == 0:
		c.proto = "none"
		c.s.hangUp(c.raw, r.reason, c.proto)
	case isSeedOp(first[0]):
		c.proto = "seed"
		c.s.hangUp(c.raw, r.reason, c.proto)
	default:
		c.proto = "resp"
		c.s.refuse(c.raw, r.reason, r.msg)
	}
	return errDenied
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
