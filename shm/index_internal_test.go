package shm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// TestRebuildKeepsDamagedSlots: the rebuild that follows a dead holder of
// the index lock (here called directly) must not launder a damaged slot,
// which Repair refuses to rebuild around. A slot whose name's length is
// damaged still makes its name's reads fail with ErrDamaged (it is not
// indexed under the hash of a name it does not have, so that x reads as
// missing and a write creates it again), and of two slots holding one
// name neither is freed: Check still reports both.
func TestRebuildKeepsDamagedSlots(t *testing.T) {
	cfg := Config{Path: filepath.Join(t.TempDir(), "dsm.mem"), Vars: 16}
	m := openInternal(t, cfg)
	for _, n := range []string{"x", "y", "z"} {
		if _, err := m.Set([]byte(n), Int(1)); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := m.lookup([]byte("x"))
	y, _ := m.lookup([]byte("y"))
	z, _ := m.lookup([]byte("z"))
	atomic.StoreUint32(m.u32(m.slotOff(x.slot)+slotNameLen), 0)
	copy(m.name(z.slot), "y") // z's slot now holds y too
	atomic.StoreUint64(m.u64(m.slotOff(z.slot)+slotHash), m.hash([]byte("y")))

	m.rebuild()
	if _, _, err := m.Get([]byte("x")); !errors.Is(err, ErrDamaged) {
		t.Errorf("Get of x after the rebuild: %v; want ErrDamaged", err)
	}
	if !m.valid(y) || !m.valid(z) {
		t.Errorf("the rebuild freed a slot holding y: slot %d live %v, slot %d live %v", y.slot, m.valid(y), z.slot, m.valid(z))
	}
	err := m.Check()
	if !strings.Contains(fmt.Sprint(err), "both hold") {
		t.Errorf("Check after the rebuild: %v; want the two slots holding y", err)
	}
}

// TestHandleCurrentIncarnationWrap: a slot whose incarnation came round to
// a handle's again under another name (2^31 reuses, made here by storing
// the state word) is not current for that handle.
func TestHandleCurrentIncarnationWrap(t *testing.T) {
	m := openInternal(t, Config{Path: filepath.Join(t.TempDir(), "dsm.mem"), Vars: 16})
	if _, err := m.Set([]byte("x"), Int(1)); err != nil {
		t.Fatal(err)
	}
	h, err := m.Handle([]byte("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Delete([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set([]byte("y"), Int(2)); err != nil {
		t.Fatal(err)
	}
	r, ok, err := m.find([]byte("y"))
	if err != nil || !ok || r.slot != h.r.slot {
		t.Fatalf("y is in slot %d (%v, %v), want x's old slot %d", r.slot, ok, err, h.r.slot)
	}
	atomic.StoreUint32(m.stateWord(r.slot), stateLive|h.r.inc)
	if h.Current() {
		t.Fatal("a handle of x is current on a slot that holds y in x's incarnation")
	}
}
