package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

// clusterFlags are the flags that make dsmd a node of a cluster.
type clusterFlags struct {
	nodeID, addr, peers, join, raftDir, secretFile, advertise string
	tlsCert, tlsKey, tlsCA                                    string
	redirect                                                  bool
	snapshotThreshold, trailingLogs                           uint64
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "", "this node's `ID` in its cluster (with -cluster and -peers or -join)")
	fs.StringVar(&f.addr, "cluster", "", "`HOST:PORT` of this node's cluster port (Raft and the nodes' requests); the other nodes reach it there")
	fs.StringVar(&f.peers, "peers", "", "the cluster's first voters, this node among them: `ID=HOST:PORT[,ID=HOST:PORT...]` (cluster ports)")
	fs.StringVar(&f.join, "join", "", "add this node to a running cluster through any member's client `HOST:PORT`")
	fs.StringVar(&f.raftDir, "raft-dir", "", "`DIR` of the Raft log and snapshots (default: the -file path plus .raft)")
	fs.StringVar(&f.secretFile, "cluster-secret-file", "", "`PATH` of the cluster's shared secret, which authenticates the nodes to each other (default: $DSM_CLUSTER_SECRET; required unless every cluster address is loopback)")
	fs.StringVar(&f.advertise, "advertise", "", "client `HOST:PORT` the other nodes tell clients (MOVED, INFO); default: -listen, with the -cluster host when -listen is a wildcard")
	fs.StringVar(&f.tlsCert, "cluster-tls-cert", "", "TLS certificate `PATH` (PEM) this node presents on the cluster port, as server and as client; with -cluster-tls-key and -cluster-tls-ca the nodes speak mutual TLS")
	fs.StringVar(&f.tlsKey, "cluster-tls-key", "", "TLS private key `PATH` (PEM) of -cluster-tls-cert")
	fs.StringVar(&f.tlsCA, "cluster-tls-ca", "", "`PATH` of the CA certificates (PEM) that every node's certificate must be signed by")
	fs.BoolVar(&f.redirect, "cluster-redirect", false, "answer writes sent to a follower with -MOVED 0 leader:port instead of forwarding them")
	fs.Uint64Var(&f.snapshotThreshold, "cluster-snapshot-threshold", 0, "log `ENTRIES` between two snapshots of the node (0: 8192)")
	fs.Uint64Var(&f.trailingLogs, "cluster-trailing-logs", 0, "log `ENTRIES` kept after a snapshot for followers that are behind; one further behind gets the snapshot (0: 10240)")
}

// config turns the flags into the server's ClusterConfig; nil without
// -peers and -join (a single host). Its ClientAddr is -advertise, or empty
// until the client port is bound (clientAddr).
func (f *clusterFlags) config() (*server.ClusterConfig, error) {
	if f.peers == "" && f.join == "" {
		if f.nodeID != "" || f.addr != "" {
			return nil, errors.New("-node-id and -cluster need -peers (a new cluster) or -join (a running one)")
		}
		return nil, nil
	}
	switch {
	case f.peers != "" && f.join != "":
		return nil, errors.New("-peers and -join exclude each other: -peers starts a new cluster, -join grows a running one")
	case f.nodeID == "":
		return nil, errors.New("a cluster node needs -node-id")
	case f.addr == "":
		return nil, errors.New("a cluster node needs -cluster HOST:PORT")
	}
	cc := &server.ClusterConfig{NodeID: f.nodeID, Addr: f.addr, Join: f.join, Dir: f.raftDir, Redirect: f.redirect, ClientAddr: f.advertise,
		SnapshotThreshold: f.snapshotThreshold, TrailingLogs: f.trailingLogs}
	var err error
	if f.peers != "" {
		if cc.Peers, err = parsePeers(f.peers, f.nodeID, f.addr); err != nil {
			return nil, err
		}
	}
	if cc.Secret, err = f.secret(cc); err != nil {
		return nil, err
	}
	if cc.TLS, err = f.tlsConfig(); err != nil {
		return nil, err
	}
	return cc, nil
}

// tlsConfig loads the cluster port's mutual TLS: nil without the flags,
// an error unless all three are given.
func (f *clusterFlags) tlsConfig() (*tls.Config, error) {
	switch n := countSet(f.tlsCert, f.tlsKey, f.tlsCA); {
	case n == 0:
		return nil, nil
	case n < 3:
		return nil, errors.New("-cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca go together")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-cluster-tls-cert/-cluster-tls-key: %w", err)
	}
	pem, err := os.ReadFile(f.tlsCA)
	if err != nil {
		return nil, fmt.Errorf("-cluster-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cluster-tls-ca: no certificate in %s", f.tlsCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS13,
	}, nil
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// parsePeers parses "ID=HOST:PORT,..."; this node must be among them, at
// its -cluster address.
func parsePeers(s, self, addr string) ([]cluster.Peer, error) {
	var out []cluster.Peer
	seen := map[string]bool{}
	found := false
	for _, f := range strings.Split(s, ",") {
		id, a, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || id == "" || a == "" {
			return nil, fmt.Errorf("-peers: %q is not ID=HOST:PORT", f)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("-peers: %s: %w", id, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("-peers: %s is named twice", id)
		}
		seen[id] = true
		if id == self {
			if a != addr {
				return nil, fmt.Errorf("-peers gives %s the address %s, but -cluster is %s", id, a, addr)
			}
			found = true
		}
		out = append(out, cluster.Peer{ID: id, Addr: a})
	}
	if !found {
		return nil, fmt.Errorf("-peers must include this node (-node-id %s)", self)
	}
	return out, nil
}

// clientAddr is the client address other nodes and clients are told when
// -advertise does not say: the bound client port, on the -cluster host
// when it is bound to a wildcard address.
func clientAddr(listen, clusterAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("-listen: %w", err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		chost, _, err := net.SplitHostPort(clusterAddr)
		if err != nil {
			return "", fmt.Errorf("-cluster: %w", err)
		}
		host = chost
	}
	return net.JoinHostPort(host, port), nil
}

// secret reads the cluster secret. Without one, every address of the
// cluster must be loopback: anyone who reaches the cluster port could
// otherwise append to the log.
func (f *clusterFlags) secret(cc *server.ClusterConfig) ([]byte, error) {
	var s []byte
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, fmt.Errorf("-cluster-secret-file: %w", err)
		}
		if s = bytes.TrimSpace(b); len(s) == 0 {
			return nil, fmt.Errorf("-cluster-secret-file: %s is empty", f.secretFile)
		}
	} else if env := os.Getenv("DSM_CLUSTER_SECRET"); env != "" {
		s = []byte(env)
	}
	if len(s) > 0 {
		return s, nil
	}
	addrs := []string{cc.Addr}
	for _, p := range cc.Peers {
		addrs = append(addrs, p.Addr)
	}
	if cc.Join != "" {
		addrs = append(addrs, cc.Join)
	}
	for _, a := range addrs {
		if !loopback(a) {
			return nil, fmt.Errorf("a cluster reachable beyond loopback (%s) needs a secret: -cluster-secret-file or $DSM_CLUSTER_SECRET", a)
		}
	}
	return nil, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
