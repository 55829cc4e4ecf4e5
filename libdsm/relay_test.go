package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
)

// TestRelay runs the seed's scene done locally (examples/python/relay.py):
// three Python processes through the mapping, two seed-protocol clients
// and redis-cli through dsmd pass a baton on value, which reaches its end
// only if each sees the others' writes.
func TestRelay(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		ci.NeedOrSkip(t, "no redis-cli")
	}
	built(t) // before the deadline below: the first build takes a while
	d := dsmtest.Start(t, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(t, false), filepath.Join(repo(t), "examples", "python", "relay.py"),
		"--file", d.File, "--addr", d.Addr, "--laps", "4")
	cmd.Env = pythonEnv(t)
	out, err := cmd.CombinedOutput()
	t.Logf("relay.py:\n%s", out)
	if err != nil || !strings.Contains(string(out), "every participant saw every other's writes") {
		t.Fatalf("relay.py: %v", err)
	}
	for _, who := range []string{"local 0", "local 2", "seed client 3", "seed client 4", "redis-cli 5"} {
		if !strings.Contains(string(out), who) {
			t.Errorf("relay.py's report names no %q", who)
		}
	}
}
