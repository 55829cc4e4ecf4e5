package server

import (
	"net"
	"net/netip"
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
	// accessDenied: refused before reading anything.
	accessDenied
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
	msgSeedDenied = "DENIED the seed protocol (R/W) has no AUTH, so dsmd serves it only to loopback " +
		"and -allow networks. Use RESP with AUTH (for example redis-cli -a), " +
		"or restart dsmd with this client's network in -allow."
)

// classify applies the access rules to a client address. It returns the
// access granted and, when denied, the reply that explains why.
func (s *Server) classify(addr net.Addr) (access, string) {
	ip, ok := peerIP(addr)
	if !ok || ip.IsLoopback() {
		return accessTrusted, ""
	}
	if len(s.cfg.Allow) > 0 {
		if allowed(s.cfg.Allow, ip) {
			return accessTrusted, ""
		}
		return accessDenied, msgNotAllowed
	}
	if s.cfg.Password != "" {
		return accessPassword, ""
	}
	return accessDenied, msgProtected
}

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
