package hosts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// clientHosts is how many client hosts the scene runs.
const clientHosts = 3

// The binaries the tests run, built once for all of them (TestMain
// removes them).
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinaries builds dsm and dsmd into a temporary directory, once.
func buildBinaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "dsm-hosts-bin"); binErr == nil {
			binErr = dsmbin.Build(binDir, dsmbin.Dsm, dsmbin.Dsmd)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// runDemo runs scripts/demo-hosts with args and the binaries in bin and
// returns its output. On timeout the script gets SIGTERM, so that its trap
// removes what it created.
func runDemo(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join("..", "..", "scripts", "demo-hosts")}, args...)...)
	cmd.Env = append(os.Environ(), "DSM_BIN="+bin)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo-hosts %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("scripts/demo-hosts %s ran in %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return string(out)
}

// needRootAndIP skips (or, in CI, fails) t without root and ip.
func needRootAndIP(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		ci.NeedOrSkip(t, "needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		ci.NeedOrSkip(t, "needs the ip command (iproute2)")
	}
}

func hostAddr(i int) string { return fmt.Sprintf("10.77.0.%d", 10+i) }

// TestManyHosts runs the scene of scripts/demo-hosts on three client hosts
// and checks its output: every host read every host's variable and the
// shared counter and value; every host's address appears in dsmd's
// connect lines; the scene ran its watchers (this tree's dsm has watch)
// and every watcher saw every update; and the namespaces are gone
// afterwards.
func TestManyHosts(t *testing.T) {
	needRootAndIP(t)
	out := runDemo(t, buildBinaries(t), fmt.Sprint(clientHosts))
	t.Logf("scripts/demo-hosts %d:\n%s", clientHosts, out)

	var all []string
	for j := 1; j <= clientHosts; j++ {
		all = append(all, fmt.Sprintf("host%d=hello-from-%s", j, hostAddr(j)))
	}
	everything := fmt.Sprintf("hits=%d %s value=%d", clientHosts, strings.Join(all, " "), 1000+clientHosts)
	if !strings.Contains(out, "== every host watches") {
		t.Errorf("the scene ran without watchers, but dsm has a watch command")
	}
	for i := 1; i <= clientHosts; i++ {
		want := fmt.Sprintf("host %d (%s) sees: %s\n", i, hostAddr(i), everything)
		if !strings.Contains(out, want) {
			t.Errorf("host %d did not see every update; want the line %q", i, want)
		}
		connected := regexp.MustCompile(`msg="client connected" addr=` + regexp.QuoteMeta(hostAddr(i)) + `:\d+ `)
		if !connected.MatchString(out) {
			t.Errorf("dsmd's log has no connect line from host %d (%s)", i, hostAddr(i))
		}
		if saw := fmt.Sprintf("watcher on host %d saw every host's update", i); !strings.Contains(out, saw) {
			t.Errorf("missing %q", saw)
		}
	}
	if !strings.Contains(out, "demo-hosts: OK") {
		t.Errorf("the script did not report OK")
	}
	checkRemoved(t, out)
}

// checkRemoved checks that the run's namespaces no longer exist: their
// names end with the id of the server host's (dsmS<id>) or, in cluster
// mode, the switch's (dsmB<id>) namespace.
func checkRemoved(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`(?:server host dsmS|switch dsmB)(\d+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the output names no server or switch namespace")
	}
	id := m[1]
	list, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, list)
	}
	for _, line := range strings.Split(string(list), "\n") {
		if name, _, _ := strings.Cut(line, " "); strings.HasSuffix(name, id) && strings.HasPrefix(name, "dsm") {
			t.Errorf("namespace %s is left after the script", name)
		}
	}
}
