package server

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestCapacitiesDiffer: capacities that differ from an existing file's are
// a warning naming the file's values, which stay in force; under Strict
// they are refused with ErrCapacity. Capacities left zero or equal to the
// file's say nothing.
func TestCapacitiesDiffer(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	open := func(cfg Config) (*Server, string, error) {
		t.Helper()
		logs := &lockedLog{}
		cfg.File, cfg.Logger = file, slog.New(slog.NewTextHandler(logs, nil))
		s, err := New(cfg)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, logs.String(), err
	}
	s, logs, err := open(Config{Vars: 100, NameMax: 24, ValueMax: 64})
	if err != nil || strings.Contains(logs, "WARN") {
		t.Fatalf("creating the file: %v\n%s", err, logs)
	}
	s.Close()

	s, logs, err = open(Config{Vars: 200, NameMax: 24})
	if err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="the file's capacities differ from those asked for; the file's are kept" file=` + file + ` file_has="vars 100 (asked 200)"`
	if !strings.Contains(logs, want) {
		t.Errorf("log has no\n%s\n%s", want, logs)
	}
	if got := s.mem.Limits().Capacity; got != 100 {
		t.Errorf("capacity after asking for 200: %d, want the file's 100", got)
	}
	s.Close()

	s, _, err = open(Config{Vars: 100, NameMax: 32, ValueMax: 256, Strict: true})
	if !errors.Is(err, ErrCapacity) || !strings.Contains(err.Error(), "name-max 24 (asked 32), value-max 64 (asked 256)") {
		t.Errorf("Strict with other capacities: %v", err)
	}
	if err == nil {
		s.Close()
	}
	s, logs, err = open(Config{Vars: 100, Strict: true})
	if err != nil || strings.Contains(logs, "WARN") {
		t.Fatalf("Strict with the file's capacities: %v\n%s", err, logs)
	}
	s.Close()
}
