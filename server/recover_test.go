package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// TestRecoverCluster: two of three nodes are lost; the survivor, recovered
// alone and restarted with its old flags, is a one-node cluster with every
// acknowledged write and takes new ones.
func TestRecoverCluster(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx := context.Background()
	s := tc.follower()
	rc := tc.client(s)
	for k := range 20 {
		if err := rc.Incr(ctx, fmt.Sprintf("w%d", k%5)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	recoverCfg := Config{File: tc.nodes[s].file, Logger: slog.New(slog.DiscardHandler),
		Cluster: &ClusterConfig{NodeID: tc.peers[s].ID, Peers: []cluster.Peer{tc.peers[s]}}}
	if _, err := RecoverCluster(recoverCfg); !errors.Is(err, shm.ErrLocked) {
		t.Errorf("while the node serves its file: %v, want shm.ErrLocked", err)
	}
	tc.stop()
	if _, err := RecoverCluster(recoverCfg); err != nil {
		t.Fatal(err)
	}
	tc.restart(s)
	if l := tc.leader(); l != s {
		t.Fatalf("leader %d, want the survivor %d", l, s)
	}
	rc = tc.client(s)
	for k := range 5 {
		if got, err := rc.Get(ctx, fmt.Sprintf("w%d", k)).Int(); err != nil || got != 4 {
			t.Errorf("w%d after recovery: %d, %v; want 4", k, got, err)
		}
	}
	if got, err := rc.Incr(ctx, "w0").Result(); err != nil || got != 5 {
		t.Errorf("INCR w0 after recovery: %d, %v; want 5", got, err)
	}
	if st := tc.nodes[s].cl.node.Status(); st.Voters != 1 {
		t.Errorf("the survivor sees %d voters, want 1", st.Voters)
	}
}
