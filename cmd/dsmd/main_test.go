package main

import (
	"errors"
	"flag"
	"net/netip"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/server"
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
		"-metrics", "127.0.0.1:9100", "-log-format", "json"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if cfg.Addr != "0.0.0.0:7000" || cfg.Sync != server.SyncAlways || cfg.Password != "from-env" ||
		len(cfg.Allow) != 2 || cfg.Allow[0] != want[0] || cfg.Allow[1] != want[1] || cfg.MetricsAddr != "127.0.0.1:9100" {
		t.Errorf("parsed: %+v", cfg)
	}
	if cfg, _ := parseFlags([]string{"-password", "flag"}); cfg.Password != "flag" || cfg.SeedOpen {
		t.Errorf("-password did not win over DSM_PASSWORD, or the seed protocol is open by default: %+v", cfg)
	}
	if cfg, _ := parseFlags([]string{"-seed-open"}); !cfg.SeedOpen {
		t.Errorf("-seed-open not set")
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
