package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/internal/dsmbin"
)

// need returns the path of the systemd tool name, skipping t without it
// (failing it in CI, whose .ci/run installs systemd).
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		ci.NeedOrSkip(t, name+" is not installed (Debian: apt-get install systemd)")
	}
	return p
}

// TestUnitVerifies: systemd-analyze verify accepts dsmd.service with no
// complaint at all (it warns of unknown keys and bad values but still exits
// 0, so any output fails), once ExecStart names a dsmd that exists: verify
// checks that the command is executable.
func TestUnitVerifies(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	unit, err := os.ReadFile("dsmd.service")
	if err != nil {
		t.Fatal(err)
	}
	const installed = "ExecStart=/usr/local/bin/dsmd "
	if !strings.Contains(string(unit), installed) {
		t.Fatalf("dsmd.service has no %q", installed)
	}
	dir := t.TempDir()
	if err := dsmbin.Build(dir, dsmbin.Dsmd); err != nil {
		t.Fatal(err)
	}
	here := strings.Replace(string(unit), installed, "ExecStart="+filepath.Join(dir, "dsmd")+" ", 1)
	path := filepath.Join(dir, "dsmd.service")
	if err := os.WriteFile(path, []byte(here), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify dsmd.service: %v\n%s", err, out)
	}
}

// TestUnitHardening: the unit keeps the settings its hardening rests on.
// verify accepts a unit without them, so it cannot tell.
func TestUnitHardening(t *testing.T) {
	unit, err := os.ReadFile("dsmd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"User=dsm", "StateDirectory=dsm", "Restart=on-failure", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
		"-file /var/lib/dsm/dsm.mem",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("dsmd.service lacks %q", want)
		}
	}
}

// TestSysusersCreatesUser: systemd-sysusers, run on an empty root, creates
// from dsm.sysusers the user and group dsm that dsmd.service runs as.
func TestSysusersCreatesUser(t *testing.T) {
	sysusers := need(t, "systemd-sysusers")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs("dsm.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sysusers, "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	for _, f := range []string{"passwd", "group"} {
		b, err := os.ReadFile(filepath.Join(root, "etc", f))
		if err != nil || !strings.HasPrefix(string(b), "dsm:") {
			t.Errorf("/etc/%s after systemd-sysusers: %v\n%s", f, err, b)
		}
	}
}
