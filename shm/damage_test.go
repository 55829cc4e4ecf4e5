package shm_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// bodyLayout is where the body of a file lies, read from its meta page A as
// shm/doc.go lays it out, for tests that damage a file byte by byte.
type bodyLayout struct {
	vars, nameMax, valueMax uint32
	indexSize               uint32
	indexOff, slotsOff      uint64
	slotSize                uint64
}

const (
	ctlFreeHead  = 3*pageSize + 72
	slotVersion  = 16
	slotMeta     = 24
	slotNameLen  = 32
	slotNextFree = 36
	slotHash     = 40
	slotName     = 64
)

func layoutOf(data []byte) bodyLayout {
	le := binary.LittleEndian
	return bodyLayout{
		vars: le.Uint32(data[32:]), nameMax: le.Uint32(data[36:]), valueMax: le.Uint32(data[40:]),
		indexSize: le.Uint32(data[76:]), indexOff: le.Uint64(data[96:]),
		slotsOff: le.Uint64(data[104:]), slotSize: uint64(le.Uint32(data[72:])),
	}
}

func (l bodyLayout) slot(s uint32) uint64 { return l.slotsOff + uint64(s)*l.slotSize }

// slotNamed finds the live slot holding name.
func (l bodyLayout) slotNamed(t testing.TB, data []byte, name string) uint32 {
	t.Helper()
	le := binary.LittleEndian
	for s := uint32(0); s < l.vars; s++ {
		off := l.slot(s)
		n := le.Uint32(data[off+slotNameLen:])
		if le.Uint32(data[off+slotMeta:])&(1<<31) != 0 && n <= l.nameMax && string(data[off+slotName:off+slotName+uint64(n)]) == name {
			return s
		}
	}
	t.Fatalf("no live slot holds %q", name)
	return 0
}

// current is the offset of slot s's current value buffer: length at 0,
// kind at 4.
func (l bodyLayout) current(data []byte, s uint32) uint64 {
	off := l.slot(s)
	nameCap := (uint64(l.nameMax) + 7) / 8 * 8
	bufSize := 8 + (uint64(l.valueMax)+7)/8*8
	return off + slotName + nameCap + (binary.LittleEndian.Uint64(data[off+slotVersion:])&1)*bufSize
}

// damaged writes validFile with edit applied to a new file and opens it.
func damaged(t testing.TB, edit func(l bodyLayout, data []byte)) *shm.Memory {
	t.Helper()
	data := validFile(t)
	edit(layoutOf(data), data)
	path := filepath.Join(t.TempDir(), "damaged.mem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return openMem(t, shm.Config{Path: path})
}

// wantDamage fails unless err wraps want and its message has every one of
// the words.
func wantDamage(t testing.TB, what string, err, want error, words ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", what, err, w)
		}
	}
}

// valueDamage are the ways a slot's current value can be damaged: the
// variable it hits and what the error must say.
var valueDamage = []struct {
	name  string
	slot  string // the variable damaged
	edit  func(l bodyLayout, data []byte, s uint32)
	words []string
}{
	{"unknown kind", "x", func(l bodyLayout, data []byte, s uint32) {
		binary.LittleEndian.PutUint32(data[l.current(data, s)+4:], 7)
	}, []string{"slot 0", `"x"`, "kind 7"}},
	{"byte string too long", "s", func(l bodyLayout, data []byte, s uint32) {
		binary.LittleEndian.PutUint32(data[l.current(data, s):], l.valueMax+1)
	}, []string{"slot 1", `"s"`, "257 bytes"}},
}

// TestDamagedValueReads: an operation that reads a damaged value fails with
// ErrDamaged naming the slot and the damage, instead of reading it as
// missing (Get, AppendText, MGet, a handle's Get) or writing over what it
// took for no value (Add, CompareAndSwap, SetWith with NX).
func TestDamagedValueReads(t *testing.T) {
	for _, tt := range valueDamage {
		t.Run(tt.name, func(t *testing.T) {
			m := damaged(t, func(l bodyLayout, data []byte) { tt.edit(l, data, l.slotNamed(t, data, tt.slot)) })
			name := b(tt.slot)
			_, _, err := m.Get(name)
			wantDamage(t, "Get", err, shm.ErrDamaged, tt.words...)
			_, _, err = m.AppendText(nil, name)
			wantDamage(t, "AppendText", err, shm.ErrDamaged, tt.words...)
			_, err = m.MGet([][]byte{b("other"), name})
			wantDamage(t, "MGet", err, shm.ErrDamaged, tt.words...)
			_, _, err = m.Add(name, 1)
			wantDamage(t, "Add", err, shm.ErrDamaged, tt.words...)
			_, _, err = m.CompareAndSwap(name, shm.Int(0), shm.Int(1))
			wantDamage(t, "CompareAndSwap", err, shm.ErrDamaged, tt.words...)
			_, stored, err := m.SetWith(name, shm.Int(1), shm.SetOptions{IfAbsent: true})
			wantDamage(t, "SetWith NX", err, shm.ErrDamaged, tt.words...)
			if stored {
				t.Errorf("SetWith NX stored over a damaged value")
			}
			if m.Exists(name) {
				t.Errorf("Exists of a damaged value = true")
			}
			h, err := m.Handle(name, false)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = h.Get()
			wantDamage(t, "Handle.Get", err, shm.ErrDamaged, tt.words...)
			_, _, err = h.Add(1)
			wantDamage(t, "Handle.Add", err, shm.ErrDamaged, tt.words...)
			g, err := m.Lock(t.Context(), [][]byte{name}, false, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = g.Get(name)
			wantDamage(t, "Group.Get", err, shm.ErrDamaged, tt.words...)
			g.Unlock()
		})
	}
}

// TestDamagedValueOverwrite: writes that do not read the old value replace
// a damaged one, and deleting a damaged variable counts it: both are the
// way out of the damage.
func TestDamagedValueOverwrite(t *testing.T) {
	for _, tt := range valueDamage {
		t.Run(tt.name, func(t *testing.T) {
			edit := func(l bodyLayout, data []byte) { tt.edit(l, data, l.slotNamed(t, data, tt.slot)) }
			m := damaged(t, edit)
			mustSet(t, m, tt.slot, shm.Int(5))
			wantValue(t, m, tt.slot, shm.Int(5), 0)
			m = damaged(t, edit)
			if n, err := m.Delete(b(tt.slot)); n != 1 || err != nil {
				t.Errorf("Delete of a damaged variable = %d, %v; want 1, nil", n, err)
			}
			wantMissing(t, m, tt.slot)
		})
	}
}
