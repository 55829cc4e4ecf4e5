package shm

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestSupersededWritesGoElsewhere: once Upgrade has marked the old file,
// a process that still maps it (it attached after Upgrade looked) no
// longer writes it: its writes go to a daemon, and with none they fail.
func TestSupersededWritesGoElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	up := openInternal(t, Config{Path: path, Vars: 16, Format: 1, Exclusive: true})
	late := openInternal(t, Config{Path: path})
	if _, err := late.Set([]byte("x"), Int(1)); err != nil {
		t.Fatal(err)
	}
	if err := up.markSuperseded(); err != nil {
		t.Fatal(err)
	}
	if _, err := late.Set([]byte("x"), Int(2)); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("a write to the superseded file: %v, want ErrNoDaemon", err)
	}
	if v, _, err := late.Get([]byte("x")); err != nil || !v.Equal(Int(1)) {
		t.Fatalf("x = %v, %v; want 1", v, err)
	}
}
