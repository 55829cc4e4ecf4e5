package shm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// format1 is a format-1 file whose slot count is no power of two.
var format1 = shm.Config{Vars: 20, Procs: 4, Lanes: 4, GroupMax: 8, Format: 1}

// upgradeVars fills m with variables of every kind, versions above 1 and
// a deleted one, and returns what MGet reads of them.
func upgradeVars(t *testing.T, m *shm.Memory) ([][]byte, []shm.Item) {
	t.Helper()
	long := strings.Repeat("n", 100)
	mustSet(t, m, "x", shm.Int(41))
	mustSet(t, m, "x", shm.Int(42))
	mustSet(t, m, "s", shm.Bytes(b("hello")))
	mustSet(t, m, "gone", shm.Int(1))
	if _, err := m.Delete(b("gone")); err != nil {
		t.Fatal(err)
	}
	mustSet(t, m, "v", shm.Bytes(bytes.Repeat(b("v"), 200)))
	mustSet(t, m, long, shm.Int(-7))
	names := [][]byte{b("x"), b("s"), b("v"), b(long), b("gone")}
	items, err := m.MGet(names)
	if err != nil {
		t.Fatal(err)
	}
	return names, items
}

// TestUpgrade rewrites a format-1 file in format 2: the same variables,
// values, versions, seed and capacities (slots rounded up to a power of
// two), a sound file, the old one kept as it was; a second Upgrade leaves
// the new file alone.
func TestUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	cfg := format1
	cfg.Path = path
	old := openMem(t, cfg)
	names, want := upgradeVars(t, old)
	seed := old.Seed()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	kept, err := shm.Upgrade(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if kept != path+shm.UpgradeSuffix {
		t.Errorf("kept the old file at %q, want %q", kept, path+shm.UpgradeSuffix)
	}
	for _, c := range []struct {
		path   string
		format int
	}{{path, 2}, {kept, 1}} {
		m := openMem(t, shm.Config{Path: c.path})
		if m.Format() != c.format || m.Seed() != seed {
			t.Errorf("%s: format %d, seed %#x; want %d, %#x", c.path, m.Format(), m.Seed(), c.format, seed)
		}
		got, err := m.MGet(names)
		if err != nil {
			t.Fatal(err)
		}
		for i := range names {
			if got[i].Found != want[i].Found || got[i].Version != want[i].Version || !got[i].Value.Equal(want[i].Value) {
				t.Errorf("%s: %q is %+v, was %+v", c.path, names[i], got[i], want[i])
			}
		}
		if err := m.Check(); err != nil {
			t.Errorf("%s: Check: %v", c.path, err)
		}
		lim := m.Limits()
		if lim.NameMax != shm.DefaultNameMax || lim.ValueMax != shm.DefaultValueMax || lim.GroupMax != format1.GroupMax {
			t.Errorf("%s: capacities %+v changed", c.path, lim)
		}
		if wantCap := map[int]int{1: 20, 2: 32}[c.format]; lim.Capacity != wantCap {
			t.Errorf("%s: capacity %d, want %d", c.path, lim.Capacity, wantCap)
		}
		m.Close()
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the new file's mode: %v, %v; want 0600", fi, err)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new file's temporary name is still there: %v", err)
	}
	if kept, err := shm.Upgrade(context.Background(), path); err != nil || kept != "" {
		t.Errorf("Upgrade of a format-2 file: kept %q, %v; want nothing, nil", kept, err)
	}
}

// TestUpgradeRefused: another process attached (ErrBusy) or a daemon
// (ErrLocked) keeps Upgrade from touching the file.
func TestUpgradeRefused(t *testing.T) {
	for _, daemon := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "dsm.mem")
		cfg := format1
		cfg.Path, cfg.Exclusive = path, daemon
		other := openMem(t, cfg)
		mustSet(t, other, "x", shm.Int(1))
		_, err := shm.Upgrade(context.Background(), path)
		want := map[bool]error{false: shm.ErrBusy, true: shm.ErrLocked}[daemon]
		wantErr(t, "Upgrade of a file in use", err, want)
		if other.Format() != 1 {
			t.Fatal("the file changed format under its user")
		}
		other.Close()
		m := openMem(t, shm.Config{Path: path})
		if m.Format() != 1 {
			t.Errorf("after a refused Upgrade the file is format %d", m.Format())
		}
		wantValue(t, m, "x", shm.Int(1), 0)
		for _, extra := range []string{".new", shm.UpgradeSuffix} {
			if _, err := os.Stat(path + extra); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused Upgrade left %s: %v", path+extra, err)
			}
		}
	}
}

// TestUpgradeReplicated: a cluster node's file stays replicated.
func TestUpgradeReplicated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	cfg := format1
	cfg.Path, cfg.Exclusive = path, true
	m := openMem(t, cfg)
	mustSet(t, m, "x", shm.Int(5))
	if err := m.MarkReplicated(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := shm.Upgrade(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	n := openMem(t, shm.Config{Path: path, Exclusive: true})
	if n.Format() != 2 || !n.Replicated() {
		t.Errorf("upgraded node file: format %d, replicated %v; want 2, true", n.Format(), n.Replicated())
	}
	wantValue(t, n, "x", shm.Int(5), 0)
}

// TestUpgradeFull: a format-1 file whose every slot holds a value of the
// longest size upgrades, and the new file has room to rewrite each of
// them (every variable then owns two blocks).
func TestUpgradeFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	cfg := shm.Config{Path: path, Vars: 256, Format: 1}
	m := openMem(t, cfg)
	val := func(c byte) shm.Value { return shm.Bytes(bytes.Repeat([]byte{c}, shm.DefaultValueMax)) }
	name := func(i int) string { return strings.Repeat("k", 20) + string(rune('a'+i%26)) + string(rune('a'+i/26)) }
	for i := range cfg.Vars {
		mustSet(t, m, name(i), val('a'))
	}
	m.Close()
	if _, err := shm.Upgrade(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	n := openMem(t, shm.Config{Path: path})
	for i := range cfg.Vars {
		mustSet(t, n, name(i), val('b'))
	}
	if err := n.Check(); err != nil {
		t.Fatal(err)
	}
}
