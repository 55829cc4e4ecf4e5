package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

func TestGetSet(t *testing.T) {
	m := newMem(t, unit)
	wantMissing(t, m, "x")
	v1 := mustSet(t, m, "x", shm.Int(42))
	wantValue(t, m, "x", shm.Int(42), v1)
	v2 := mustSet(t, m, "x", shm.Bytes(b("hello")))
	if v2 != v1+1 {
		t.Errorf("second Set: version %d, want %d", v2, v1+1)
	}
	wantValue(t, m, "x", shm.Bytes(b("hello")), v2)
	if x, err := m.Exists(b("x")); !x || err != nil {
		t.Errorf("Exists(x) = %v, %v; want true", x, err)
	}
	if y, err := m.Exists(b("y")); y || err != nil {
		t.Errorf("Exists(y) = %v, %v; want false", y, err)
	}

	// An empty byte value is a value.
	mustSet(t, m, "empty", shm.Bytes(nil))
	wantValue(t, m, "empty", shm.Bytes(b("")), 0)
	if ok, err := m.Exists(b("empty")); !ok || err != nil {
		t.Errorf("Exists(empty value) = %v, %v", ok, err)
	}

	// Neither the caller's slice nor the returned one aliases the file.
	in := b("abcdefghijklmnopq")
	mustSet(t, m, "alias", shm.Bytes(in))
	in[0] = 'X'
	got, _ := mustGet(t, m, "alias")
	if got.String() != "abcdefghijklmnopq" {
		t.Fatalf("stored value changed with the caller's slice: %q", got)
	}
	out := got.AppendText(nil)
	copy(out, "ZZZ")
	wantValue(t, m, "alias", shm.Bytes(b("abcdefghijklmnopq")), 0)

	// Integer extremes survive.
	for _, n := range []int64{0, -1, math.MaxInt64, math.MinInt64} {
		mustSet(t, m, "n", shm.Int(n))
		wantValue(t, m, "n", shm.Int(n), 0)
	}
}

func TestValueSizes(t *testing.T) {
	m := newMem(t, unit)
	max := m.Stats().ValueMax
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, max - 1, max} {
		v := bytes.Repeat(b("v"), n)
		v[n-1] = 'e'
		mustSet(t, m, "x", shm.Bytes(v))
		got, _ := mustGet(t, m, "x")
		if !bytes.Equal(got.AppendText(nil), v) {
			t.Errorf("%d-byte value read back as %d bytes %q", n, len(got.AppendText(nil)), got)
		}
	}
	before, ver := mustGet(t, m, "x")
	_, err := m.Set(b("x"), shm.Bytes(make([]byte, max+1)))
	wantErr(t, "Set past ValueMax", err, shm.ErrValueTooLarge)
	wantValue(t, m, "x", before, ver)
	_, err = m.Set(b("new"), shm.Bytes(make([]byte, max+1)))
	wantErr(t, "Set of a new variable past ValueMax", err, shm.ErrValueTooLarge)
	wantMissing(t, m, "new")
}

// TestVersions: every change raises the version by exactly one; a refused
// or failed operation leaves it.
func TestVersions(t *testing.T) {
	m := newMem(t, unit)
	x := b("x")
	ver := mustSet(t, m, "x", shm.Int(1))
	step := func(what string, changed bool, got uint64) {
		t.Helper()
		want := ver
		if changed {
			want = ver + 1
		}
		if got != want {
			t.Errorf("%s: version %d, want %d", what, got, want)
		}
		_, cur := mustGet(t, m, "x")
		if cur != want {
			t.Errorf("%s: Get version %d, want %d", what, cur, want)
		}
		ver = want
	}
	v, _ := m.Set(x, shm.Int(2))
	step("Set", true, v)
	_, v, _ = m.Add(x, 5)
	step("Add", true, v)
	_, v, _ = m.CompareAndSwap(x, shm.Int(7), shm.Int(8))
	step("CompareAndSwap that swaps", true, v)
	_, v, _ = m.CompareAndSwap(x, shm.Int(99), shm.Int(0))
	step("CompareAndSwap that does not", false, v)
	_, v, _ = m.CompareVersionAndSwap(x, ver, shm.Int(9))
	step("CompareVersionAndSwap that swaps", true, v)
	_, v, _ = m.CompareVersionAndSwap(x, ver-1, shm.Int(0))
	step("CompareVersionAndSwap that does not", false, v)
	old, _, _ := m.SetWith(x, shm.Int(0), shm.SetOptions{IfAbsent: true})
	step("SetWith NX on an existing variable", false, old.Version)
	m.MSet([][]byte{x}, []shm.Value{shm.Int(10)})
	_, v = mustGet(t, m, "x")
	step("MSet", true, v)
	m.MSet([][]byte{x, x, x}, []shm.Value{shm.Int(1), shm.Int(2), shm.Int(3)})
	_, v = mustGet(t, m, "x")
	step("MSet naming it three times", true, v)
	mustSet(t, m, "big", shm.Int(math.MaxInt64))
	if _, _, err := m.Add(b("big"), 1); err == nil {
		t.Error("overflowing Add succeeded")
	}
	_, v = mustGet(t, m, "x")
	step("nothing", false, v)
}

func TestSetWith(t *testing.T) {
	nx := shm.SetOptions{IfAbsent: true}
	xx := shm.SetOptions{IfExists: true}
	tests := []struct {
		name       string
		exists     bool
		opt        shm.SetOptions
		wantStored bool
	}{
		{"plain on missing", false, shm.SetOptions{}, true},
		{"plain on existing", true, shm.SetOptions{}, true},
		{"NX on missing", false, nx, true},
		{"NX on existing", true, nx, false},
		{"XX on missing", false, xx, false},
		{"XX on existing", true, xx, true},
		{"NX and XX on missing", false, shm.SetOptions{IfAbsent: true, IfExists: true}, false},
		{"NX and XX on existing", true, shm.SetOptions{IfAbsent: true, IfExists: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem(t, unit)
			var ver uint64
			if tt.exists {
				ver = mustSet(t, m, "x", shm.Bytes(b("old")))
			}
			old, stored, err := m.SetWith(b("x"), shm.Int(7), tt.opt)
			if err != nil {
				t.Fatalf("SetWith: %v", err)
			}
			if stored != tt.wantStored {
				t.Errorf("stored = %v, want %v", stored, tt.wantStored)
			}
			if old.Found != tt.exists {
				t.Errorf("old.Found = %v, want %v", old.Found, tt.exists)
			}
			if tt.exists && (old.Value.String() != "old" || old.Version != ver) {
				t.Errorf("old = %v@%d, want old@%d", old.Value, old.Version, ver)
			}
			switch {
			case stored:
				wantValue(t, m, "x", shm.Int(7), 0)
			case tt.exists:
				wantValue(t, m, "x", shm.Bytes(b("old")), ver)
			default:
				wantMissing(t, m, "x")
			}
		})
	}
	t.Run("value too large", func(t *testing.T) {
		m := newMem(t, unit)
		_, stored, err := m.SetWith(b("x"), shm.Bytes(make([]byte, m.Stats().ValueMax+1)), shm.SetOptions{})
		wantErr(t, "SetWith", err, shm.ErrValueTooLarge)
		if stored {
			t.Error("stored = true with an error")
		}
		wantMissing(t, m, "x")
	})
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name    string
		initial *shm.Value // nil: missing
		delta   int64
		want    int64
		err     error
	}{
		{"missing counts as 0", nil, 5, 5, nil},
		{"missing, negative", nil, -5, -5, nil},
		{"integer", ptr(shm.Int(40)), 2, 42, nil},
		{"down through zero", ptr(shm.Int(1)), -3, -2, nil},
		{"canonical decimal bytes", ptr(shm.Bytes(b("41"))), 1, 42, nil},
		{"negative decimal bytes", ptr(shm.Bytes(b("-41"))), -1, -42, nil},
		{"not an integer", ptr(shm.Bytes(b("abc"))), 1, 0, shm.ErrNotInteger},
		{"leading zero is not an integer", ptr(shm.Bytes(b("042"))), 1, 0, shm.ErrNotInteger},
		{"plus sign is not an integer", ptr(shm.Bytes(b("+1"))), 1, 0, shm.ErrNotInteger},
		{"space is not an integer", ptr(shm.Bytes(b(" 1"))), 1, 0, shm.ErrNotInteger},
		{"empty is not an integer", ptr(shm.Bytes(b(""))), 1, 0, shm.ErrNotInteger},
		{"too big is not an integer", ptr(shm.Bytes(b("9223372036854775808"))), 1, 0, shm.ErrNotInteger},
		{"up to the maximum", ptr(shm.Int(math.MaxInt64 - 1)), 1, math.MaxInt64, nil},
		{"overflow up", ptr(shm.Int(math.MaxInt64)), 1, 0, shm.ErrOverflow},
		{"overflow up by a lot", ptr(shm.Int(1)), math.MaxInt64, 0, shm.ErrOverflow},
		{"down to the minimum", ptr(shm.Int(math.MinInt64 + 1)), -1, math.MinInt64, nil},
		{"overflow down", ptr(shm.Int(math.MinInt64)), -1, 0, shm.ErrOverflow},
		{"overflow down by the minimum", ptr(shm.Int(-1)), math.MinInt64, 0, shm.ErrOverflow},
		{"minimum onto zero", ptr(shm.Int(0)), math.MinInt64, math.MinInt64, nil},
		{"overflow from decimal bytes", ptr(shm.Bytes(b("9223372036854775807"))), 1, 0, shm.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem(t, unit)
			var ver uint64
			if tt.initial != nil {
				ver = mustSet(t, m, "x", *tt.initial)
			}
			got, gotVer, err := m.Add(b("x"), tt.delta)
			if tt.err != nil {
				wantErr(t, "Add", err, tt.err)
				// The value and its version are unchanged.
				wantValue(t, m, "x", *tt.initial, ver)
				return
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got != tt.want || gotVer != ver+1 {
				t.Errorf("Add = %d@%d, want %d@%d", got, gotVer, tt.want, ver+1)
			}
			wantValue(t, m, "x", shm.Int(tt.want), gotVer)
		})
	}
}

func ptr(v shm.Value) *shm.Value { return &v }

func TestCompareAndSwap(t *testing.T) {
	tests := []struct {
		name    string
		initial shm.Value
		old     shm.Value
		swapped bool
	}{
		{"int equals int", shm.Int(5), shm.Int(5), true},
		{"int equals its text", shm.Int(5), shm.Bytes(b("5")), true},
		{"text equals the int", shm.Bytes(b("5")), shm.Int(5), true},
		{"bytes equal bytes", shm.Bytes(b("abc")), shm.Bytes(b("abc")), true},
		{"negative int equals its text", shm.Int(-12), shm.Bytes(b("-12")), true},
		{"int differs", shm.Int(5), shm.Int(6), false},
		{"int is not non-canonical text", shm.Int(5), shm.Bytes(b("05")), false},
		{"bytes differ", shm.Bytes(b("abc")), shm.Bytes(b("abd")), false},
		{"prefix differs", shm.Bytes(b("abc")), shm.Bytes(b("ab")), false},
		{"empty bytes are not zero", shm.Int(0), shm.Bytes(b("")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem(t, unit)
			ver := mustSet(t, m, "x", tt.initial)
			swapped, gotVer, err := m.CompareAndSwap(b("x"), tt.old, shm.Bytes(b("new")))
			if err != nil {
				t.Fatalf("CompareAndSwap: %v", err)
			}
			if swapped != tt.swapped {
				t.Fatalf("swapped = %v, want %v", swapped, tt.swapped)
			}
			if swapped {
				if gotVer != ver+1 {
					t.Errorf("version %d, want %d", gotVer, ver+1)
				}
				wantValue(t, m, "x", shm.Bytes(b("new")), ver+1)
			} else {
				if gotVer != ver {
					t.Errorf("version %d, want the unchanged %d", gotVer, ver)
				}
				wantValue(t, m, "x", tt.initial, ver)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		m := newMem(t, unit)
		_, _, err := m.CompareAndSwap(b("missing"), shm.Int(0), shm.Int(1))
		wantErr(t, "CompareAndSwap on a missing variable", err, shm.ErrNotFound)
		wantMissing(t, m, "missing")
		ver := mustSet(t, m, "x", shm.Int(1))
		_, _, err = m.CompareAndSwap(b("x"), shm.Int(1), shm.Bytes(make([]byte, m.Stats().ValueMax+1)))
		wantErr(t, "CompareAndSwap to a value too large", err, shm.ErrValueTooLarge)
		wantValue(t, m, "x", shm.Int(1), ver)
	})
}

func TestCompareVersionAndSwap(t *testing.T) {
	m := newMem(t, unit)
	x := b("x")
	ver := mustSet(t, m, "x", shm.Int(1))
	swapped, got, err := m.CompareVersionAndSwap(x, ver-1, shm.Int(2))
	if err != nil || swapped || got != ver {
		t.Fatalf("stale version: swapped %v, version %d, err %v; want false, %d, nil", swapped, got, err, ver)
	}
	wantValue(t, m, "x", shm.Int(1), ver)
	swapped, got, err = m.CompareVersionAndSwap(x, ver, shm.Int(2))
	if err != nil || !swapped || got != ver+1 {
		t.Fatalf("current version: swapped %v, version %d, err %v; want true, %d, nil", swapped, got, err, ver+1)
	}
	wantValue(t, m, "x", shm.Int(2), ver+1)
	swapped, _, err = m.CompareVersionAndSwap(x, ver, shm.Int(3))
	if err != nil || swapped {
		t.Fatalf("reused version: swapped %v, err %v; want false", swapped, err)
	}
	_, _, err = m.CompareVersionAndSwap(b("missing"), 0, shm.Int(1))
	wantErr(t, "CompareVersionAndSwap on a missing variable", err, shm.ErrNotFound)
	wantMissing(t, m, "missing")
}

func TestMGet(t *testing.T) {
	m := newMem(t, unit)
	va := mustSet(t, m, "a", shm.Int(1))
	vb := mustSet(t, m, "b", shm.Bytes(b("two")))
	items, err := m.MGet([][]byte{b("a"), b("missing"), b("b"), b("a")})
	if err != nil {
		t.Fatalf("MGet: %v", err)
	}
	want := []shm.Item{
		{Value: shm.Int(1), Version: va, Found: true},
		{},
		{Value: shm.Bytes(b("two")), Version: vb, Found: true},
		{Value: shm.Int(1), Version: va, Found: true},
	}
	if len(items) != len(want) {
		t.Fatalf("MGet returned %d items, want %d", len(items), len(want))
	}
	for i := range want {
		if items[i].Found != want[i].Found || items[i].Version != want[i].Version || !items[i].Value.Equal(want[i].Value) {
			t.Errorf("item %d = %+v, want %+v", i, items[i], want[i])
		}
	}
	if items, err := m.MGet(nil); err != nil || len(items) != 0 {
		t.Errorf("MGet(nil) = %v, %v", items, err)
	}
	max := m.Stats().GroupMax
	names := make([][]byte, max)
	for i := range names {
		names[i] = b(fmt.Sprint("n", i))
	}
	if _, err := m.MGet(names); err != nil {
		t.Errorf("MGet of GroupMax names: %v", err)
	}
	_, err = m.MGet(append(names, b("one-more")))
	wantErr(t, "MGet past GroupMax", err, shm.ErrTooMany)
	_, err = m.MGet([][]byte{b("a"), b("")})
	wantErr(t, "MGet with an empty name", err, shm.ErrEmptyName)
	_, err = m.MGet([][]byte{b("a"), make([]byte, m.Stats().NameMax+1)})
	wantErr(t, "MGet with a long name", err, shm.ErrNameTooLong)
}

func TestMSet(t *testing.T) {
	m := newMem(t, unit)
	va := mustSet(t, m, "a", shm.Int(1))
	if err := m.MSet([][]byte{b("a"), b("b"), b("a")}, []shm.Value{shm.Int(10), shm.Bytes(b("bee")), shm.Int(30)}); err != nil {
		t.Fatalf("MSet: %v", err)
	}
	wantValue(t, m, "a", shm.Int(30), va+1) // the last value, one change
	wantValue(t, m, "b", shm.Bytes(b("bee")), 0)
	if err := m.MSet(nil, nil); err != nil {
		t.Errorf("MSet of nothing: %v", err)
	}

	// A refused MSet changes nothing and creates nothing.
	_, va = mustGet(t, m, "a")
	_, vb := mustGet(t, m, "b")
	n := m.Len()
	max := m.Stats().GroupMax
	tooMany := make([][]byte, max+1)
	tooManyVals := make([]shm.Value, max+1)
	for i := range tooMany {
		tooMany[i] = b(fmt.Sprint("n", i))
		tooManyVals[i] = shm.Int(int64(i))
	}
	tests := []struct {
		name  string
		names [][]byte
		vals  []shm.Value
		want  error
	}{
		{"value too large last", [][]byte{b("a"), b("c"), b("b")},
			[]shm.Value{shm.Int(0), shm.Int(0), shm.Bytes(make([]byte, m.Stats().ValueMax+1))}, shm.ErrValueTooLarge},
		{"too many names", append([][]byte{b("a")}, tooMany...), append([]shm.Value{shm.Int(0)}, tooManyVals...), shm.ErrTooMany},
		{"empty name last", [][]byte{b("a"), b("c"), b("")}, []shm.Value{shm.Int(0), shm.Int(0), shm.Int(0)}, shm.ErrEmptyName},
		{"long name last", [][]byte{b("a"), b("c"), make([]byte, m.Stats().NameMax+1)}, []shm.Value{shm.Int(0), shm.Int(0), shm.Int(0)}, shm.ErrNameTooLong},
		{"more names than values", [][]byte{b("a"), b("c")}, []shm.Value{shm.Int(0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.MSet(tt.names, tt.vals)
			if tt.want != nil {
				wantErr(t, "MSet", err, tt.want)
			} else if err == nil {
				t.Error("MSet succeeded")
			}
			wantValue(t, m, "a", shm.Int(30), va)
			wantValue(t, m, "b", shm.Bytes(b("bee")), vb)
			wantMissing(t, m, "c")
			if got := m.Len(); got != n {
				t.Errorf("Len = %d, want %d", got, n)
			}
		})
	}
}

// TestMSetFullLeavesNoTrace: an MSet refused with ErrFull must leave the
// file as it was, capacity included: the variables it would have created
// must not keep their slots.
func TestMSetFullLeavesNoTrace(t *testing.T) {
	m := newMem(t, small) // 4 variables
	mustSet(t, m, "a", shm.Int(1))
	mustSet(t, m, "b", shm.Int(2))
	err := m.MSet([][]byte{b("c"), b("d"), b("e")}, []shm.Value{shm.Int(3), shm.Int(4), shm.Int(5)})
	wantErr(t, "MSet of three new variables into two free slots", err, shm.ErrFull)
	for _, n := range []string{"c", "d", "e"} {
		wantMissing(t, m, n)
	}
	if n := m.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	// Two slots are free, so two new variables fit.
	for _, n := range []string{"x", "y"} {
		if _, err := m.Set(b(n), shm.Int(0)); err != nil {
			t.Errorf("Set(%q) with %d of %d slots used: %v", n, m.Len(), m.Stats().Capacity, err)
		}
	}
}

func TestDelete(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "a", shm.Int(1))
	mustSet(t, m, "b", shm.Int(2))
	mustSet(t, m, "c", shm.Int(3))
	n, err := m.Delete(b("a"), b("missing"), b("b"), b("a"))
	if err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v; want 2, nil", n, err)
	}
	wantMissing(t, m, "a")
	wantMissing(t, m, "b")
	wantValue(t, m, "c", shm.Int(3), 0)
	if n, err := m.Delete(b("a")); err != nil || n != 0 {
		t.Errorf("second Delete = %d, %v; want 0, nil", n, err)
	}
	if n, err := m.Delete(); err != nil || n != 0 {
		t.Errorf("Delete() = %d, %v; want 0, nil", n, err)
	}
	if m.Len() != 1 {
		t.Errorf("Len = %d, want 1", m.Len())
	}
	// A bad name fails the call; the count says what was deleted before it.
	n, err = m.Delete(b(""), b("c"))
	wantErr(t, "Delete with an empty name", err, shm.ErrEmptyName)
	if n != 0 {
		t.Errorf("Delete(empty, c) = %d, want 0", n)
	}
	wantValue(t, m, "c", shm.Int(3), 0)
	// A deleted name starts again with a fresh value, at a higher version.
	_, cv := mustGet(t, m, "c")
	m.Delete(b("c"))
	if v := mustSet(t, m, "c", shm.Bytes(b("again"))); v <= cv {
		t.Errorf("recreated variable at version %d, not past the old %d", v, cv)
	}
	wantValue(t, m, "c", shm.Bytes(b("again")), 0)
}

// TestFull: a full file refuses new variables with ErrFull but still
// updates the ones it has; a delete makes room.
func TestFull(t *testing.T) {
	m := newMem(t, small)
	capacity := m.Stats().Capacity
	for i := 0; i < capacity; i++ {
		mustSet(t, m, fmt.Sprint("v", i), shm.Int(int64(i)))
	}
	_, err := m.Set(b("one-more"), shm.Int(0))
	wantErr(t, "Set", err, shm.ErrFull)
	_, _, err = m.Add(b("one-more"), 1)
	wantErr(t, "Add", err, shm.ErrFull)
	_, _, err = m.SetWith(b("one-more"), shm.Int(0), shm.SetOptions{IfAbsent: true})
	wantErr(t, "SetWith", err, shm.ErrFull)
	err = m.MSet([][]byte{b("v0"), b("one-more")}, []shm.Value{shm.Int(100), shm.Int(0)})
	wantErr(t, "MSet", err, shm.ErrFull)
	wantValue(t, m, "v0", shm.Int(0), 0)
	_, err = m.Handle(b("one-more"), true)
	wantErr(t, "Handle", err, shm.ErrFull)
	wantMissing(t, m, "one-more")
	mustSet(t, m, "v1", shm.Int(11))
	if _, _, err := m.Add(b("v2"), 1); err != nil {
		t.Errorf("Add on an existing variable of a full file: %v", err)
	}
	m.Delete(b("v3"))
	mustSet(t, m, "one-more", shm.Int(1))
	if st := m.Stats(); st.Vars != capacity || st.Capacity != capacity {
		t.Errorf("Stats = %+v, want %d of %d", st, capacity, capacity)
	}
}

// TestNames: every operation that takes a name refuses an empty one and
// one longer than NameMax, and accepts any bytes up to NameMax.
func TestNames(t *testing.T) {
	m := newMem(t, unit)
	long := bytes.Repeat(b("n"), m.Stats().NameMax)
	mustSet(t, m, string(long), shm.Int(1))
	odd := []byte{0, 0xff, '\n', ' ', 0x80}
	mustSet(t, m, string(odd), shm.Int(2))
	wantValue(t, m, string(odd), shm.Int(2), 0)
	wantValue(t, m, string(long), shm.Int(1), 0)
	tooLong := append(long, 'n')
	ops := map[string]func(name []byte) error{
		"Get": func(n []byte) error { _, _, err := m.Get(n); return err },
		"Set": func(n []byte) error { _, err := m.Set(n, shm.Int(0)); return err },
		"SetWith": func(n []byte) error {
			_, _, err := m.SetWith(n, shm.Int(0), shm.SetOptions{})
			return err
		},
		"Add":            func(n []byte) error { _, _, err := m.Add(n, 1); return err },
		"CompareAndSwap": func(n []byte) error { _, _, err := m.CompareAndSwap(n, shm.Int(0), shm.Int(1)); return err },
		"CompareVersionAndSwap": func(n []byte) error {
			_, _, err := m.CompareVersionAndSwap(n, 0, shm.Int(1))
			return err
		},
		"MGet":   func(n []byte) error { _, err := m.MGet([][]byte{n}); return err },
		"MSet":   func(n []byte) error { return m.MSet([][]byte{n}, []shm.Value{shm.Int(0)}) },
		"Delete": func(n []byte) error { _, err := m.Delete(n); return err },
		"Wait":   func(n []byte) error { _, err := m.Wait(context.Background(), n, 0); return err },
		"Handle": func(n []byte) error { _, err := m.Handle(n, true); return err },
	}
	for op, f := range ops {
		t.Run(op, func(t *testing.T) {
			wantErr(t, "empty name", f(nil), shm.ErrEmptyName)
			wantErr(t, "long name", f(tooLong), shm.ErrNameTooLong)
		})
	}
	if n := m.Len(); n != 2 {
		t.Errorf("Len = %d after refused names, want 2", n)
	}
}

// TestClosed: after Close every operation reports ErrClosed. (Handle.Get
// is checked in TestUseAfterClose, in a child process, because it faults.)
func TestClosed(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "x", shm.Int(1))
	h, err := m.Handle(b("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	x := b("x")
	ops := map[string]func() error{
		"Close": m.Close,
		"Get":   func() error { _, _, err := m.Get(x); return err },
		"Set":   func() error { _, err := m.Set(x, shm.Int(0)); return err },
		"SetWith": func() error {
			_, _, err := m.SetWith(x, shm.Int(0), shm.SetOptions{})
			return err
		},
		"Add":            func() error { _, _, err := m.Add(x, 1); return err },
		"CompareAndSwap": func() error { _, _, err := m.CompareAndSwap(x, shm.Int(1), shm.Int(2)); return err },
		"CompareVersionAndSwap": func() error {
			_, _, err := m.CompareVersionAndSwap(x, 1, shm.Int(2))
			return err
		},
		"MGet":        func() error { _, err := m.MGet([][]byte{x}); return err },
		"MSet":        func() error { return m.MSet([][]byte{x}, []shm.Value{shm.Int(0)}) },
		"Delete":      func() error { _, err := m.Delete(x); return err },
		"Wait":        func() error { _, err := m.Wait(context.Background(), x, 0); return err },
		"Handle":      func() error { _, err := m.Handle(x, false); return err },
		"Sync":        m.Sync,
		"SyncBarrier": m.SyncBarrier,
		"Handle.Set":  func() error { _, err := h.Set(shm.Int(0)); return err },
		"Handle.Add":  func() error { _, _, err := h.Add(1); return err },
		"Handle.CompareAndSwap": func() error {
			_, _, err := h.CompareAndSwap(shm.Int(1), shm.Int(2))
			return err
		},
	}
	for op, f := range ops {
		t.Run(op, func(t *testing.T) { wantErr(t, op, f(), shm.ErrClosed) })
	}
	if ok, err := m.Exists(x); ok || !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Exists on a closed Memory = %v, %v; want false, ErrClosed", ok, err)
	}
}

func init() {
	helperRoles["scan-after-close"] = func(m *shm.Memory, _ string) error {
		m.Close()
		n := 0
		_, err := m.Scan(0, func([]byte, uint64) bool { n++; return true })
		fmt.Println("scanned", n, err)
		return nil
	}
	helperRoles["len-after-close"] = func(m *shm.Memory, _ string) error {
		m.Close()
		fmt.Println("len", m.Len())
		return nil
	}
	helperRoles["handle-get-after-close"] = func(m *shm.Memory, _ string) error {
		if _, err := m.Set(b("x"), shm.Int(1)); err != nil {
			return err
		}
		h, err := m.Handle(b("x"), false)
		if err != nil {
			return err
		}
		m.Close()
		if _, _, err := h.Get(); !errors.Is(err, shm.ErrClosed) {
			return fmt.Errorf("Handle.Get after Close: %v, want ErrClosed", err)
		}
		return nil
	}
	helperRoles["stats-after-close"] = func(m *shm.Memory, _ string) error {
		m.Close()
		fmt.Println("stats", m.Stats())
		return nil
	}
	helperRoles["close-during-wait"] = func(m *shm.Memory, _ string) error {
		ver, err := m.Set(b("x"), shm.Int(1))
		if err != nil {
			return err
		}
		done := make(chan error)
		go func() {
			_, err := m.Wait(context.Background(), b("x"), ver)
			done <- err
		}()
		time.Sleep(100 * time.Millisecond) // Wait is parked by now
		m.Close()
		select {
		case err := <-done:
			fmt.Println("wait returned", err)
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("Wait still blocked 5 s after Close")
		}
	}
}

// TestUseAfterClose: calls on a closed Memory, and calls in flight when it
// is closed, must fail cleanly, never fault on the unmapped file. Each runs
// in a child process, as a fault is fatal.
func TestUseAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	cfg := unit
	cfg.Path = path
	m, err := shm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, role := range []string{"handle-get-after-close", "scan-after-close", "len-after-close", "stats-after-close", "close-during-wait"} {
		t.Run(role, func(t *testing.T) {
			if crashed, stderr := crashes(t, role, path); crashed {
				t.Errorf("the process crashed: %s", crashSite(stderr))
			}
		})
	}
}

// crashSite summarises a Go crash report: its first line and the first
// frame in this module.
func crashSite(stderr string) string {
	lines := strings.Split(stderr, "\n")
	site := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "github.com/dsm-dev/dsm/") && i+1 < len(lines) {
			site = l + " at " + strings.TrimSpace(lines[i+1])
			break
		}
	}
	return lines[0] + " in " + site
}

func TestExclusive(t *testing.T) {
	cfg := unit
	cfg.Path = filepath.Join(t.TempDir(), "dsm.mem")
	cfg.Exclusive = true
	d1, err := shm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = shm.Open(cfg)
	wantErr(t, "second Exclusive Open", err, shm.ErrLocked)
	local := cfg
	local.Exclusive = false
	m := openMem(t, local) // local processes are welcome beside the daemon
	mustSet(t, m, "x", shm.Int(1))
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openMem(t, cfg)
	wantValue(t, d2, "x", shm.Int(1), 0)
}

func TestFileMode(t *testing.T) {
	tests := []struct {
		name  string
		mode  os.FileMode
		group bool
		want  os.FileMode
	}{
		{"default", 0, false, 0o600},
		{"explicit", 0o640, false, 0o640},
		{"group", 0, true, 0o660},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := small
			cfg.Path = filepath.Join(t.TempDir(), "dsm.mem")
			cfg.Mode = tt.mode
			var gid string
			if tt.group {
				u, err := user.Current()
				if err != nil {
					t.Fatal(err)
				}
				g, err := user.LookupGroupId(u.Gid)
				if err != nil {
					t.Fatal(err)
				}
				cfg.FileGroup, gid = g.Name, g.Gid
			}
			openMem(t, cfg)
			st, err := os.Stat(cfg.Path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v, want %v", got, tt.want)
			}
			if gid != "" {
				if got := fmt.Sprint(fileGid(st)); got != gid {
					t.Errorf("group %s, want %s", got, gid)
				}
			}
			// No temporary file is left beside it.
			ents, _ := os.ReadDir(filepath.Dir(cfg.Path))
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want only the file", len(ents))
			}
		})
	}
	t.Run("unknown group", func(t *testing.T) {
		cfg := small
		cfg.Path = filepath.Join(t.TempDir(), "dsm.mem")
		cfg.FileGroup = "no-such-group-dsm-test"
		_, err := shm.Open(cfg)
		wantErr(t, "Open", err, shm.ErrConfig)
		if _, err := os.Stat(cfg.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed create left the file: %v", err)
		}
	})
}

// TestPersist: values, versions and capacities survive Close and Open; the
// file keeps its own capacities whatever the Config asks.
func TestPersist(t *testing.T) {
	cfg := unit
	cfg.Path = filepath.Join(t.TempDir(), "dsm.mem")
	m, err := shm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vi := mustSet(t, m, "int", shm.Int(-7))
	vb := mustSet(t, m, "bytes", shm.Bytes(b("persistent")))
	mustSet(t, m, "gone", shm.Int(1))
	m.Delete(b("gone"))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openMem(t, shm.Config{Path: cfg.Path, Vars: 1000, ValueMax: 1000})
	wantValue(t, m, "int", shm.Int(-7), vi)
	wantValue(t, m, "bytes", shm.Bytes(b("persistent")), vb)
	wantMissing(t, m, "gone")
	if st := m.Stats(); st.Capacity != unit.Vars || st.ValueMax != shm.DefaultValueMax || st.Vars != 2 {
		t.Errorf("Stats after reopening = %+v, want the file's own capacities and 2 variables", st)
	}
	if _, _, err := m.Add(b("int"), 10); err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "int", shm.Int(3), vi+1)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  shm.Config
	}{
		{"no path", shm.Config{}},
		{"negative vars", shm.Config{Vars: -1}},
		{"name limit too big", shm.Config{NameMax: 1 << 20}},
		{"value limit too small", shm.Config{ValueMax: 4}},
		{"value limit too big", shm.Config{ValueMax: 1 << 30}},
		{"negative procs", shm.Config{Procs: -1}},
		{"too many procs", shm.Config{Procs: 1 << 20}},
		{"too many lanes", shm.Config{Lanes: 1 << 20}},
		{"group limit too big", shm.Config{GroupMax: 1 << 20}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "no path" {
				tt.cfg.Path = filepath.Join(dir, fmt.Sprint(i))
			}
			m, err := shm.Open(tt.cfg)
			if err == nil {
				m.Close()
			}
			wantErr(t, "Open", err, shm.ErrConfig)
			if tt.cfg.Path != "" {
				if _, err := os.Stat(tt.cfg.Path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused Config created the file: %v", err)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "a", shm.Int(1))
	mustSet(t, m, "b", shm.Int(1))
	if _, err := m.Handle(b("no-value"), true); err != nil {
		t.Fatal(err)
	}
	cfg := unit
	cfg.Path = m.Path()
	openMem(t, cfg) // a second attachment
	st := m.Stats()
	fi, err := os.Stat(m.Path())
	if err != nil {
		t.Fatal(err)
	}
	valueMax := shm.DefaultValueMax
	if testFormat == 2 {
		valueMax = shm.DefaultValueMax2
	}
	want := shm.Stats{Vars: 2, Procs: 2, Limits: shm.Limits{Capacity: unit.Vars, NameMax: shm.DefaultNameMax,
		ValueMax: valueMax, GroupMax: unit.GroupMax, FileSize: fi.Size(), ProcSlots: unit.Procs, Lanes: unit.Lanes}}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if lim := m.Limits(); lim != want.Limits {
		t.Errorf("Limits = %+v, want %+v", lim, want.Limits)
	}
	if len(m.Procs()) != 2 {
		t.Errorf("Procs = %+v, want 2", m.Procs())
	}
}

func fileGid(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Gid }
