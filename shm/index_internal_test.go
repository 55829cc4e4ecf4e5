package shm

import (
	"path/filepath"
	"testing"
)

// TestLookupLockFails makes lookup's locked path fail to take the index
// lock: another attachment holds it in the middle of a change, and this
// one is detached, so it cannot register as a waiter (lockd.ErrDetached).
// lookup must answer without releasing the lock it never took, which
// would panic in lockd.
func TestLookupLockFails(t *testing.T) {
	cfg := Config{Path: filepath.Join(t.TempDir(), "dsm.mem"), Vars: 16}
	m := openInternal(t, cfg)
	other := openInternal(t, cfg)
	if _, err := m.Set([]byte("x"), Int(1)); err != nil {
		t.Fatal(err)
	}
	if err := other.proc.Lock(background, other.index); err != nil {
		t.Fatal(err)
	}
	other.beginIndexChange()
	defer func() {
		other.endIndexChange()
		other.proc.Unlock(other.index)
	}()
	if err := m.proc.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.lookup([]byte("x")); !ok {
		t.Error("lookup of x without the index lock: not found")
	}
	if _, ok := m.lookup([]byte("y")); ok {
		t.Error("lookup of y without the index lock: found")
	}
}

func openInternal(t *testing.T, cfg Config) *Memory {
	t.Helper()
	m, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
