package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/dsmbin"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/shm"
)

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("DSM_PASSWORD", "")
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:12345" || cfg.File != "./dsm.mem" || cfg.Sync != server.SyncInterval ||
		cfg.SyncInterval != time.Second || cfg.Password != "" || cfg.Allow != nil || cfg.MetricsAddr != "" || cfg.Logger == nil {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv("DSM_PASSWORD", "from-env")
	cfg, err := parseFlags([]string{"-listen", "0.0.0.0:7000", "-sync", "always", "-allow", "10.0.0.0/8, 192.168.1.7",
		"-metrics", "127.0.0.1:9100", "-log-format", "json", "-lock-lanes", "64"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if cfg.Addr != "0.0.0.0:7000" || cfg.Sync != server.SyncAlways || cfg.Password != "from-env" ||
		len(cfg.Allow) != 2 || cfg.Allow[0] != want[0] || cfg.Allow[1] != want[1] || cfg.MetricsAddr != "127.0.0.1:9100" || cfg.LockLanes != 64 {
		t.Errorf("parsed: %+v", cfg)
	}
	if cfg, _ := parseFlags([]string{"-password", "flag"}); cfg.Password != "flag" || cfg.SeedOpen {
		t.Errorf("-password did not win over DSM_PASSWORD, or the seed protocol is open by default: %+v", cfg)
	}
	if cfg.Pprof {
		t.Errorf("pprof is on without -pprof")
	}
	if cfg, _ := parseFlags([]string{"-pprof"}); !cfg.Pprof {
		t.Errorf("-pprof did not set Pprof")
	}
	if cfg, _ := parseFlags([]string{"-seed-open", "-strict"}); !cfg.SeedOpen || !cfg.Strict {
		t.Errorf("-seed-open or -strict not set: %+v", cfg)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-sync", "sometimes"}, {"-allow", "10.0.0.0/33"}, {"-log-format", "xml"}, {"-log-level", "loud"}, {"extra"}, {"-nope"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// buildDsmd compiles dsmd into a directory of the test's.
func buildDsmd(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := dsmbin.Build(dir, dsmbin.Dsmd); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "dsmd")
}

// runToExit runs dsmd, which must exit by itself, and returns its stderr
// and exit error.
func runToExit(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("dsmd %q did not exit: %s", args, stderr.String())
	}
	return stderr.String(), err
}

// TestTakenPortLeavesNoFile: dsmd binds before it creates the memory file,
// so a port in use ends it with an error and no file behind.
func TestTakenPortLeavesNoFile(t *testing.T) {
	bin := buildDsmd(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	stderr, err := runToExit(t, bin, "-listen", taken.Addr().String(), "-file", filepath.Join(dir, "dsm.mem"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("dsmd on a taken port: %v, stderr:\n%s", err, stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("dsmd on a taken port left %v behind", left)
	}
}

// TestCapacityFlagsDiffer: capacity flags that differ from an existing
// file's are a warning that names the file's values, and with -strict an
// error and exit status 1.
func TestCapacityFlagsDiffer(t *testing.T) {
	bin := buildDsmd(t)
	file := filepath.Join(t.TempDir(), "dsm.mem")
	m, err := shm.Open(shm.Config{Path: file, Vars: 100})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	args := []string{"-listen", "127.0.0.1:0", "-file", file, "-vars", "200"}

	stderr, err := runToExit(t, bin, append(args, "-strict")...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr, "has vars 100 (asked 200)") {
		t.Errorf("-strict with -vars 200 on a file of 100: %v, stderr:\n%s", err, stderr)
	}

	cmd := exec.Command(bin, args...)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if _, ok := dsmbin.ListenAddr(sc.Text()); ok {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(&logs, out)
	if err := cmd.Wait(); err != nil {
		t.Errorf("dsmd with -vars 200 on a file of 100: %v\n%s", err, logs.String())
	}
	if want := `level=WARN msg="the file's capacities differ from those asked for; the file's are kept" file=` + file +
		` file_has="vars 100 (asked 200)"`; !strings.Contains(logs.String(), want) {
		t.Errorf("no warning\n%s\nin\n%s", want, logs.String())
	}
}

// TestVersion: dsmd --version prints one line, the version, the commit and
// the Go release that the binary's build information records, and exits 0
// without serving.
func TestVersion(t *testing.T) {
	if _, err := parseFlags([]string{"--version"}); !errors.Is(err, errVersion) {
		t.Fatalf("--version: %v", err)
	}
	bin := buildDsmd(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("dsmd --version: %v", err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	rev, modified := "unknown", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			modified = " (modified)"
		}
	}
	want := "dsmd " + bi.Main.Version + " commit " + rev + modified + " " + bi.GoVersion + "\n"
	if string(out) != want {
		t.Fatalf("dsmd --version = %q, want %q", out, want)
	}
}

// TestJSONLogDurations: the JSON log writes a duration as text, not as
// integer nanoseconds, in groups too.
func TestJSONLogDurations(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("client disconnected", "duration", 1500*time.Millisecond, slog.Group("g", "wait", 2*time.Millisecond))
	var got struct {
		Duration string
		G        struct{ Wait string }
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil || got.Duration != "1.5s" || got.G.Wait != "2ms" {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
}
