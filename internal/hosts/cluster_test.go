package hosts

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/ci"
)

// clusterNodes is how many dsmd nodes the cluster scene runs.
const clusterNodes = 3

// TestClusterHosts runs scripts/demo-hosts --cluster: three dsmd nodes,
// each on a host of its own, and two client hosts. It checks from the
// output that every node read every node's write; that the seed's W
// through one node read back with R through the others; that the
// survivors of the leader's kill -9 took a write within the script's
// bound; that the restarted node read it from its own state; that every
// node logged its role changes; and that the namespaces are gone
// afterwards.
func TestClusterHosts(t *testing.T) {
	needRootAndIP(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		ci.NeedOrSkip(t, "needs redis-cli (redis-tools)")
	}
	out := runDemo(t, buildBinaries(t), "--cluster", fmt.Sprint(clusterNodes))
	t.Logf("scripts/demo-hosts --cluster %d:\n%s", clusterNodes, out)

	var all []string
	for k := 1; k <= clusterNodes; k++ {
		all = append(all, fmt.Sprintf("node%d=via-n%d", k, k))
	}
	everything := fmt.Sprintf("hits=%d %s", clusterNodes, strings.Join(all, " "))
	for k := 1; k <= clusterNodes; k++ {
		if want := fmt.Sprintf("   n%d reads: %s\n", k, everything); !strings.Contains(out, want) {
			t.Errorf("n%d did not read every node's write; want the line %q", k, want)
		}
	}

	w := regexp.MustCompile(`W 4242 through n(\d) -> OK\n`).FindStringSubmatch(out)
	if w == nil {
		t.Errorf("no seed W was acknowledged")
	} else if r := regexp.MustCompile(`R through n(\d) -> 4242\n`).FindAllStringSubmatch(out, -1); len(r) != clusterNodes-1 {
		t.Errorf("%d nodes read the seed's W with R, want %d", len(r), clusterNodes-1)
	} else {
		for _, m := range r {
			if m[1] == w[1] {
				t.Errorf("R went through n%s, the node W went through", m[1])
			}
		}
	}

	f := regexp.MustCompile(`failover in (\d+) ms \(bound (\d+) ms\)`).FindStringSubmatch(out)
	if f == nil {
		t.Errorf("the output has no failover time")
	} else if atoi(f[1]) > atoi(f[2]) {
		t.Errorf("failover took %s ms, beyond the bound of %s ms", f[1], f[2])
	} else {
		t.Logf("failover: %s ms", f[1])
	}

	k := regexp.MustCompile(`kill -9 the leader n(\d)`).FindStringSubmatch(out)
	if k == nil {
		t.Fatalf("no leader was killed")
	}
	caught := regexp.MustCompile(`n` + k[1] + ` \(READONLY\) GET after-failover -> via-n\d, \d+ ms after its restart`)
	if !caught.MatchString(out) {
		t.Errorf("the restarted n%s did not show that it caught up", k[1])
	}
	for n := 1; n <= clusterNodes; n++ {
		runs := []string{"all along"}
		if fmt.Sprint(n) == k[1] {
			runs = []string{"until killed", "restarted"}
		}
		for _, run := range runs {
			if line := fmt.Sprintf("   n%d (%s): ", n, run); !strings.Contains(out, line) {
				t.Errorf("no role changes shown for n%d (%s)", n, run)
			}
		}
	}
	if !strings.Contains(out, fmt.Sprintf("demo-hosts: OK: a cluster of %d nodes", clusterNodes)) {
		t.Errorf("the script did not report OK")
	}
	checkRemoved(t, out)
}

// atoi is strconv.Atoi for the digits a regexp matched.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
