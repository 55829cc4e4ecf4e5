package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// RecoverConfig describes the recovery of one stopped node (see Recover).
type RecoverConfig struct {
	// ID is this node's ID; it must be one of Voters.
	ID string
	// Voters are the new configuration: the surviving voters, this node
	// among them, each with its cluster address. Every survivor is
	// recovered with the same Voters.
	Voters []Peer
	// Dir holds the node's Raft log, stable store and snapshots;
	// DefaultDir of the memory file's path if empty. It must hold Raft
	// state already: Recover does not create a node.
	Dir string
	// Memory is the node's memory file, opened by the caller with
	// shm.Config.Exclusive, so that no daemon serves it meanwhile.
	Memory *shm.Memory
	// Applier executes the log's commands the file does not hold yet; the
	// same as the node's daemon runs.
	Applier Applier
	// LogOutput receives Raft's log; nil discards it.
	LogOutput io.Writer
}

// Recovered says what Recover left in a node's Raft directory.
type Recovered struct {
	// Index and Term are those of the last log entry the node had, at
	// which its new snapshot (holding the new configuration) now stands.
	Index, Term uint64
	// Applied is the file's applied index afterwards: every command
	// entry of the node's log is in the file.
	Applied uint64
}

// boltLockWait is how long Recover waits for the Raft log's file lock,
// which a running node holds for as long as it runs.
const boltLockWait = time.Second

// Recover rewrites a stopped node's Raft state so that, when it starts
// again, it is a member of a cluster of cfg.Voters only: the way back
// after the majority of a cluster is lost for good, when no leader can be
// elected and membership can no longer change through the log.
//
// It runs raft.RecoverCluster over the node's own stores: the file keeps
// what it holds (a snapshot is installed only over a file that is behind
// it, as at a node's start), every command entry of the log after the
// file's applied index is applied to it, committed or not (the lost
// majority can no longer say which were), and a new snapshot of the file,
// labelled with the log's last index and term and holding the new
// configuration, replaces the log. Doc.go's "Recovering a cluster" gives
// the operator's procedure.
//
// It fails with ErrInUse while a running node holds the Raft log, and
// with ErrNoState when Dir holds no Raft state.
func Recover(cfg RecoverConfig) (Recovered, error) {
	if err := cfg.check(); err != nil {
		return Recovered{}, err
	}
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir(cfg.Memory.Path())
	}
	logPath := filepath.Join(cfg.Dir, "raft.db")
	if _, err := os.Stat(logPath); errors.Is(err, os.ErrNotExist) {
		return Recovered{}, fmt.Errorf("%w: %s has no raft.db", ErrNoState, cfg.Dir)
	}
	store, err := openLogStore(logPath)
	if err != nil {
		return Recovered{}, err
	}
	defer store.Close()
	logOut := cfg.LogOutput
	if logOut == nil {
		logOut = io.Discard
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: logOut, Level: hclog.Info})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsKept, logger)
	if err != nil {
		return Recovered{}, err
	}
	fsm, err := NewFSM(cfg.Memory, cfg.Applier)
	if err != nil {
		return Recovered{}, err
	}
	var self raft.ServerAddress
	var conf raft.Configuration
	for _, p := range cfg.Voters {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		if p.ID == cfg.ID {
			self = raft.ServerAddress(p.Addr)
		}
	}
	// The transport only names this node in the snapshot's metadata: a
	// node being recovered talks to nobody.
	_, trans := raft.NewInmemTransport(self)
	defer trans.Close()
	rc := raftConfig(Config{ID: cfg.ID}, logger)
	if err := raft.RecoverCluster(rc, recoveryFSM{fsm}, store, store, snaps, trans, conf); err != nil {
		return Recovered{}, fmt.Errorf("cluster: recover %s: %w", cfg.Dir, err)
	}
	return recovered(snaps, fsm)
}

// check validates cfg: the fields Recover needs, and a configuration
// that has this node in it, once, and every voter's address.
func (cfg *RecoverConfig) check() error {
	if cfg.ID == "" || cfg.Memory == nil || cfg.Applier == nil {
		return fmt.Errorf("%w: ID, Memory and Applier are required", ErrConfig)
	}
	seen := make(map[string]bool)
	for _, p := range cfg.Voters {
		switch {
		case p.ID == "" || p.Addr == "":
			return fmt.Errorf("%w: voter %q: an ID and an address are required", ErrConfig, p.ID+"="+p.Addr)
		case seen[p.ID]:
			return fmt.Errorf("%w: voter %q named twice", ErrConfig, p.ID)
		}
		seen[p.ID] = true
	}
	if !seen[cfg.ID] {
		return fmt.Errorf("%w: this node, %q, is not among the voters", ErrConfig, cfg.ID)
	}
	return nil
}

// openLogStore opens the Raft log without waiting for a running node to
// let go of it (bbolt would wait for ever by default).
func openLogStore(path string) (*raftboltdb.BoltStore, error) {
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: boltLockWait}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked by a running node: stop its dsmd first", ErrInUse, path)
	}
	return store, err
}

// recovered reads back where the new snapshot stands.
func recovered(snaps raft.SnapshotStore, fsm *FSM) (Recovered, error) {
	list, err := snaps.List()
	if err != nil {
		return Recovered{}, err
	}
	if len(list) == 0 {
		return Recovered{}, fmt.Errorf("cluster: recover left no snapshot")
	}
	return Recovered{Index: list[0].Index, Term: list[0].Term, Applied: fsm.Applied()}, nil
}

// recoveryFSM is the FSM raft.RecoverCluster replays the node's state
// through. It trusts the file as a starting node does (see
// catchUpFromSnapshot): Restore installs a snapshot only over a file that
// is behind it, since reinstalling what the file holds would move local
// readers back and then forward again; Apply (FSM.Apply) skips the entries
// the file holds, so only the log's tail runs.
type recoveryFSM struct{ *FSM }

func (r recoveryFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := readSnapshot(rc)
	if err != nil || s.applied <= r.Applied() {
		return err
	}
	return r.install(s)
}
