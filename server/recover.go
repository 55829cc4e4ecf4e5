package server

import (
	"errors"
	"fmt"
	"os"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// RecoverCluster rewrites the Raft state of a stopped cluster node, the
// one whose file is cfg.File, so that it restarts as a member of a cluster
// of cfg.Cluster.Peers only (cluster.Recover; package cluster's doc says
// when and how). Of cfg.Cluster it reads NodeID, Peers (the surviving
// voters, this node among them), Dir and RaftLog; of the rest, what New
// reads to open the file. The log's commands the file does not hold yet
// are applied through this server's command table, as the node's daemon
// would apply them.
//
// It refuses a missing file, and a file or Raft log that a dsmd holds.
func RecoverCluster(cfg Config) (cluster.Recovered, error) {
	cc := cfg.Cluster
	if cc == nil || cc.NodeID == "" || len(cc.Peers) == 0 {
		return cluster.Recovered{}, fmt.Errorf("%w: recovery needs the node's ID and the surviving voters", ErrInvalidConfig)
	}
	if _, err := os.Stat(cfg.File); err != nil {
		return cluster.Recovered{}, fmt.Errorf("recover: %w", err)
	}
	// A single host over the file: New opens it as dsmd does (the daemon
	// lock, the check, the redo log's replay) and starts no node.
	cfg.Cluster = nil
	s, err := newServer(cfg, true)
	if errors.Is(err, shm.ErrLocked) {
		return cluster.Recovered{}, fmt.Errorf("recover: %s is served by a running dsmd: stop it first: %w", cfg.File, err)
	}
	if err != nil {
		return cluster.Recovered{}, fmt.Errorf("recover: %w", err)
	}
	r, err := cluster.Recover(cluster.RecoverConfig{
		ID: cc.NodeID, Voters: cc.Peers, Dir: cc.Dir, Memory: s.mem, Applier: newApplier(s), LogOutput: cc.RaftLog,
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return r, err
}
