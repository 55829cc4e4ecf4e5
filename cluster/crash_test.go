package cluster_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// boots gives each node of a test cluster the boot ID its map holds for
// it ("boot-1" if none): setting another stages a reboot of its host.
func boots(ids map[string]string) option {
	return func(cfg *cluster.Config) {
		id := cfg.ID
		cfg.BootID = func() (string, error) {
			if b, ok := ids[id]; ok {
				return b, nil
			}
			return "boot-1", nil
		}
	}
}

func runStatePath(m *member) string {
	return filepath.Join(cluster.DefaultDir(m.path), cluster.RunStateFile)
}

// crash stops m's node as a crash would leave it: its run state still
// says "running" (read while it ran, written back after the stop).
func (c *testCluster) crash(m *member) {
	c.tb.Helper()
	running, err := os.ReadFile(runStatePath(m))
	if err != nil {
		c.tb.Fatal(err)
	}
	c.stop(m)
	if err := os.WriteFile(runStatePath(m), running, 0o600); err != nil {
		c.tb.Fatal(err)
	}
}

// damage writes garbage into m's file while its node is down, directly
// through shm, as pages lost or mixed up by a host crash would leave it:
// variables changed and added, the applied index kept.
func damage(tb testing.TB, m *member) {
	tb.Helper()
	mem := openMem(tb, m.path)
	defer mem.Close()
	for _, name := range []string{"k0", "n1", "garbage"} {
		if _, err := mem.Set([]byte(name), shm.Bytes([]byte("garbage"))); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := mem.Delete([]byte("k1")); err != nil {
		tb.Fatal(err)
	}
}

func hostCrashed(tb testing.TB, m *member, boot string) bool {
	tb.Helper()
	crashed, err := cluster.HostCrashed(cluster.DefaultDir(m.path), func() (string, error) { return boot, nil })
	if err != nil {
		tb.Fatal(err)
	}
	return crashed
}

// The run state tells a host crash (running under another boot) from a
// process crash (running under this boot) and from a clean stop (stopped,
// under any boot); a missing one is trusted, a damaged one is not.
func TestHostCrashed(t *testing.T) {
	ids := map[string]string{}
	c := newCluster(t, 1, boots(ids))
	m := c.members[0]
	c.leader()
	for _, tc := range []struct {
		state, boot string
		crashed     bool
	}{
		{"dsm-node 1 running boot-1\n", "boot-1", false},
		{"dsm-node 1 running boot-1\n", "boot-2", true},
		{"dsm-node 1 stopped boot-1\n", "boot-2", false},
		{"dsm-node 1 running boot-1", "boot-1", true}, // torn: no newline
		{"dsm-node 9 running boot-1\n", "boot-1", true},
		{"", "boot-1", true},
	} {
		if err := os.WriteFile(runStatePath(m), []byte(tc.state), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := hostCrashed(t, m, tc.boot); got != tc.crashed {
			t.Errorf("state %q, boot %s: crashed %v, want %v", tc.state, tc.boot, got, tc.crashed)
		}
	}
	os.Remove(runStatePath(m))
	if hostCrashed(t, m, "boot-2") {
		t.Error("a missing run state is reported as a crash")
	}

	// The node itself writes "running" at start, "stopped" at Shutdown.
	c.stop(m)
	ids[m.id] = "boot-2"
	c.restart(m)
	if b, _ := os.ReadFile(runStatePath(m)); string(b) != "dsm-node 1 running boot-2\n" {
		t.Errorf("run state of a running node: %q", b)
	}
	c.stop(m)
	if b, _ := os.ReadFile(runStatePath(m)); string(b) != "dsm-node 1 stopped boot-2\n" {
		t.Errorf("run state after Shutdown: %q", b)
	}
}

// After a host crash, a node started over an empty file (what dsmd does
// when HostCrashed says so) ends with exactly the leader's variables and
// versions, whether it has a snapshot to install (the log after it
// replayed) or none (the whole log replayed): nothing of the damaged file
// survives.
func TestHostCrashRebuilds(t *testing.T) {
	for _, snap := range []bool{true, false} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			ids := map[string]string{}
			c := newCluster(t, 3, boots(ids))
			for i := range 6 {
				c.propose(fmt.Sprintf("SET k%d %d", i, i))
				c.propose(fmt.Sprintf("INCR n%d", i%2))
			}
			f := c.followers()[0]
			last := c.propose("INCR n0")
			c.converged(last.Index)
			if snap {
				if err := f.node.Snapshot(); err != nil {
					t.Fatal(err)
				}
			}
			c.propose("DEL k2")
			last = c.propose("INCR n1")
			c.converged(last.Index)
			c.crash(f)
			damage(t, f)
			for i := range 5 {
				last = c.propose(fmt.Sprintf("INCR n%d", i%2))
			}
			ids[f.id] = "boot-2"
			if !hostCrashed(t, f, "boot-2") {
				t.Fatal("a node running when its host rebooted is not reported as a host crash")
			}
			if err := os.Remove(f.path); err != nil {
				t.Fatal(err)
			}
			c.restart(f)
			c.converged(last.Index)
			want := userDump(t, c.leader().mem)
			if got := userDump(t, f.mem); !maps.Equal(got, want) {
				t.Errorf("the rebuilt node holds %v, the leader %v", got, want)
			}
			if err := f.mem.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

// After a process crash (the same boot, the run state still "running")
// the node trusts its file: what was written into it while the node was
// down stays, and the log's replay applies no entry twice, as the
// counters' exact values show.
func TestProcessCrashTrustsFile(t *testing.T) {
	c := newCluster(t, 3, boots(map[string]string{}))
	const rounds = 8
	var last cluster.Reply
	for range rounds {
		last = c.propose("INCR a")
	}
	f := c.followers()[0]
	c.converged(last.Index)
	c.crash(f)
	mem := openMem(t, f.path)
	if _, err := mem.Set([]byte("local"), shm.Int(7)); err != nil {
		t.Fatal(err)
	}
	mem.Close()
	for range rounds {
		c.propose("INCR a")
		last = c.propose("INCR b")
	}
	if hostCrashed(t, f, "boot-1") {
		t.Fatal("a process crash is reported as a host crash")
	}
	c.restart(f)
	c.converged(last.Index)
	for name, want := range map[string]string{"a": fmt.Sprint(2 * rounds), "b": fmt.Sprint(rounds), "local": "7"} {
		if got := get(t, f, name); got != want {
			t.Errorf("%s = %s after the restart, want %s", name, got, want)
		}
	}
}
