package dsmbin

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBuildAndListenAddr builds dsmd and recognises the line it logs when
// it listens.
func TestBuildAndListenAddr(t *testing.T) {
	dir := t.TempDir()
	if err := Build(dir, Dsmd); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "dsmd")); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("no executable dsmd in %s: %v", dir, err)
	}
	if addr, ok := ListenAddr(`time=2026-11-25T20:00:00Z level=INFO msg=listening addr=127.0.0.1:4242 proto=both`); !ok || addr != "127.0.0.1:4242" {
		t.Fatalf("ListenAddr of a listening line = %q, %v", addr, ok)
	}
	if _, ok := ListenAddr(`level=INFO msg="client connected" addr=127.0.0.1:5555`); ok {
		t.Fatal("ListenAddr took another line for the listening one")
	}
}
