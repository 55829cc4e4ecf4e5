package cluster_test

import (
	"errors"
	"testing"

	"github.com/dsm-dev/dsm/cluster"
)

// Every node learns the others' client addresses; Probe tells an outsider
// the cluster's seed, capacities and leader, and only with the secret.
func TestHelloStatusMembers(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	for _, m := range c.members {
		waitFor(t, m.id+" to learn the leader's client address", func() bool {
			s := m.node.Status()
			return s.LeaderClientAddr == clientAddr(l.id) && s.Voters == 3 && s.LeaderID == l.id
		})
		want := "follower"
		if m == l {
			want = "leader"
		}
		if got := m.node.Status().Role; got != want {
			t.Errorf("%s's role is %q, want %q", m.id, got, want)
		}
		ms, err := m.node.Members(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 3 {
			t.Fatalf("%s lists members %+v", m.id, ms)
		}
		for _, x := range ms {
			if x.ClientAddr != clientAddr(x.ID) || x.Leader != (x.ID == l.id) || !x.Voter {
				t.Errorf("%s lists member %+v", m.id, x)
			}
		}
	}
	f := c.followers()[0]
	h, err := cluster.Probe(t.Context(), f.addr, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != f.id || h.RaftAddr != f.addr || h.ClientAddr != clientAddr(f.id) || h.Seed != testSeed ||
		h.Limits != f.mem.Limits() || h.LeaderID != l.id || h.LeaderClientAddr != clientAddr(l.id) {
		t.Errorf("Probe: %+v", h)
	}
	if _, err := cluster.Probe(t.Context(), f.addr, []byte("wrong")); !errors.Is(err, cluster.ErrAuth) {
		t.Errorf("Probe with a wrong secret: %v, want ErrAuth", err)
	}
}
