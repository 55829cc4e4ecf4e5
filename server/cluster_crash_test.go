package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// bootIDs gives each node of a test cluster the boot ID its map holds
// for it ("boot-1" if none): setting another stages a reboot of its host.
func bootIDs(ids map[string]string) func(*Config) {
	return func(cfg *Config) {
		id := cfg.Cluster.NodeID
		cfg.Cluster.BootID = func() (string, error) {
			if b, ok := ids[id]; ok {
				return b, nil
			}
			return "boot-1", nil
		}
	}
}

// crash stops node i, leaving its run state as a crash would: "running".
func (tc *testCluster) crash(i int) {
	tc.t.Helper()
	state := filepath.Join(cluster.DefaultDir(tc.nodes[i].file), cluster.RunStateFile)
	running, err := os.ReadFile(state)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.kill(i)
	if err := os.WriteFile(state, running, 0o600); err != nil {
		tc.t.Fatal(err)
	}
}

// clusterWrites runs n rounds of writes through node i.
func clusterWrites(t *testing.T, tc *testCluster, i, n int) {
	t.Helper()
	ctx := context.Background()
	rc := tc.client(i)
	for k := range n {
		if err := rc.Set(ctx, fmt.Sprintf("k%d", k%5), k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Incr(ctx, fmt.Sprintf("n%d", k%2)).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A node whose host rebooted under it (its run state "running" under
// another boot) discards its file at start and rebuilds it from its
// snapshot and the log: what the crash mixed up in the file (here
// variables changed, added and deleted behind the node's back, its
// applied index kept) is gone, and it holds exactly the leader's
// variables and versions. The same without a snapshot, from the whole log.
func TestClusterHostCrashRebuildsFile(t *testing.T) {
	for _, snap := range []bool{true, false} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			boots := map[string]string{}
			tc := startCluster(t, 3, bootIDs(boots))
			f := tc.follower()
			clusterWrites(t, tc, tc.leader(), 10)
			tc.dump(f)
			if snap {
				if err := tc.nodes[f].cl.node.Snapshot(); err != nil {
					t.Fatal(err)
				}
			}
			clusterWrites(t, tc, tc.leader(), 4)
			tc.dump(f)
			tc.crash(f)
			m, err := shm.Open(shm.Config{Path: tc.nodes[f].file, Exclusive: true}) // as the daemon: a local process may not write a replicated file
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"k0", "n1", "garbage"} {
				if _, err := m.Set([]byte(name), shm.Bytes([]byte("garbage"))); err != nil {
					t.Fatal(err)
				}
			}
			m.Delete([]byte("k1"))
			m.Close()
			clusterWrites(t, tc, tc.leader(), 3)

			boots[tc.peers[f].ID] = "boot-2"
			tc.restart(f)
			if got, want := tc.dump(f), tc.dump(tc.leader()); got != want {
				t.Errorf("the rebuilt node holds\n%s\nthe leader\n%s", got, want)
			}
		})
	}
}

// A node restarted after its daemon alone crashed (the same boot) keeps
// its file: the change made behind its back stays, and the log's replay
// applies no write twice.
func TestClusterProcessCrashKeepsFile(t *testing.T) {
	tc := startCluster(t, 3, bootIDs(map[string]string{}))
	f := tc.follower()
	clusterWrites(t, tc, tc.leader(), 10)
	tc.dump(f)
	tc.crash(f)
	m, err := shm.Open(shm.Config{Path: tc.nodes[f].file, Exclusive: true}) // as the daemon: a local process may not write a replicated file
	if err != nil {
		t.Fatal(err)
	}
	m.Set([]byte("local"), shm.Int(7))
	m.Close()
	clusterWrites(t, tc, tc.leader(), 6)
	tc.restart(f)
	tc.dump(f)
	for name, want := range map[string]int64{"n0": 8, "n1": 8, "local": 7} {
		v, _, err := tc.nodes[f].mem.Get([]byte(name))
		if n, _ := v.Int(); err != nil || n != want {
			t.Errorf("%s = %v (%v), want %d", name, v, err, want)
		}
	}
}
