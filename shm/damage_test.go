package shm_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	slotState    = 24
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
		if le.Uint32(data[off+slotState:])&(1<<31) != 0 && n <= l.nameMax && string(data[off+slotName:off+slotName+uint64(n)]) == name {
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
			ok, err := m.Exists(name)
			wantDamage(t, "Exists", err, shm.ErrDamaged, tt.words...)
			if ok {
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
			wantDamage(t, "LockGroup.Get", err, shm.ErrDamaged, tt.words...)
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

func (l bodyLayout) entry(i uint32) uint64 { return l.indexOff + 4*uint64(i) }

// entryOf is the index bucket that holds slot s.
func (l bodyLayout) entryOf(t testing.TB, data []byte, s uint32) uint32 {
	t.Helper()
	for i := uint32(0); i < l.indexSize; i++ {
		if binary.LittleEndian.Uint32(data[l.entry(i):]) == s+1 {
			return i
		}
	}
	t.Fatalf("slot %d is not in the index", s)
	return 0
}

// emptyEntry is an empty index bucket before bucket i (cyclically).
func (l bodyLayout) emptyEntry(t testing.TB, data []byte, i uint32) uint32 {
	t.Helper()
	for n := uint32(1); n < l.indexSize; n++ {
		j := (i - n) & (l.indexSize - 1)
		if binary.LittleEndian.Uint32(data[l.entry(j):]) == 0 {
			return j
		}
	}
	t.Fatal("the index has no empty bucket")
	return 0
}

// bodyDamage are the ways the body of validFile (x=42 and s="hello" in a
// four-slot file) can be damaged, each with the error Check must give and
// what it must say.
var bodyDamage = []struct {
	name  string
	edit  func(t testing.TB, l bodyLayout, data []byte)
	want  error
	words []string
}{
	{"value of unknown kind", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.current(data, l.slotNamed(t, data, "x"))+4:], 7)
	}, shm.ErrDamaged, []string{"slot 0", `"x"`, "kind 7"}},
	{"value too long", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.current(data, l.slotNamed(t, data, "s")):], l.valueMax+1)
	}, shm.ErrDamaged, []string{"slot 1", `"s"`, "257 bytes"}},
	{"empty name", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.slot(l.slotNamed(t, data, "x"))+slotNameLen:], 0)
	}, shm.ErrDamaged, []string{"slot 0", "name of 0 bytes"}},
	{"name too long", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.slot(l.slotNamed(t, data, "x"))+slotNameLen:], l.nameMax+1)
	}, shm.ErrDamaged, []string{"slot 0", "name of 121 bytes"}},
	{"name live twice", func(t testing.TB, l bodyLayout, data []byte) {
		x, s := l.slot(l.slotNamed(t, data, "x")), l.slot(l.slotNamed(t, data, "s"))
		copy(data[s+slotName:], "x")
		copy(data[s+slotHash:s+slotHash+8], data[x+slotHash:])
	}, shm.ErrDamaged, []string{"slots 0 and 1", `both hold "x"`}},
	{"free list empty", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[ctlFreeHead:], 0)
	}, shm.ErrIndexDamaged, []string{"2 free slots are not on the free list, the first slot 2"}},
	{"free list head out of range", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[ctlFreeHead:], 99)
	}, shm.ErrIndexDamaged, []string{"free list names slot 98 of 4"}},
	{"free list holds a live slot", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[ctlFreeHead:], 1)
	}, shm.ErrIndexDamaged, []string{"live slot 0 is on the free list"}},
	{"free list loops", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.slot(3)+slotNextFree:], 3)
	}, shm.ErrIndexDamaged, []string{"free list loops back to slot 2"}},
	{"index entry lost", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.entry(l.entryOf(t, data, l.slotNamed(t, data, "x"))):], 0)
	}, shm.ErrIndexDamaged, []string{`slot 0 ("x") is in the index 0 times`}},
	{"index entry out of range", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.entry(l.emptyEntry(t, data, 0)):], 99)
	}, shm.ErrIndexDamaged, []string{"names slot 98 of 4"}},
	{"index entry names a free slot", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.entry(l.emptyEntry(t, data, 0)):], 3)
	}, shm.ErrIndexDamaged, []string{"names free slot 2"}},
	{"index entry twice", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint32(data[l.entry(l.emptyEntry(t, data, 0)):], l.slotNamed(t, data, "x")+1)
	}, shm.ErrIndexDamaged, []string{`slot 0 ("x") is in the index 2 times`}},
	{"index entry misplaced", func(t testing.TB, l bodyLayout, data []byte) {
		// Moved back before its probe run, where no lookup goes.
		i := l.entryOf(t, data, l.slotNamed(t, data, "x"))
		j := l.emptyEntry(t, data, i)
		le.PutUint32(data[l.entry(j):], le.Uint32(data[l.entry(i):]))
		le.PutUint32(data[l.entry(i):], 0)
	}, shm.ErrIndexDamaged, []string{`slot 0 ("x") is not found by its name`}},
	{"stored hash", func(t testing.TB, l bodyLayout, data []byte) {
		data[l.slot(l.slotNamed(t, data, "x"))+slotHash] ^= 1
	}, shm.ErrIndexDamaged, []string{`slot 0 ("x"): stored hash`}},
	{"index sequence odd", func(t testing.TB, l bodyLayout, data []byte) {
		le.PutUint64(data[3*pageSize+64:], 5)
	}, shm.ErrIndexDamaged, []string{"index sequence 5 is odd"}},
}

var le = binary.LittleEndian

// TestCheckFindsDamage: Check names each kind of damage to the body of a
// file, with the error that says whether Repair can rebuild it.
func TestCheckFindsDamage(t *testing.T) {
	for _, tt := range bodyDamage {
		t.Run(tt.name, func(t *testing.T) {
			m := damaged(t, func(l bodyLayout, data []byte) { tt.edit(t, l, data) })
			wantDamage(t, "Check", m.Check(), tt.want, tt.words...)
		})
	}
	m := damaged(t, func(bodyLayout, []byte) {})
	if err := m.Check(); err != nil {
		t.Errorf("Check of a sound file: %v", err)
	}
}

// TestRepair: Repair rebuilds what is derived from the slots (index, free
// list, stored hashes, index sequence), after which the file is sound and
// keeps its variables; it changes nothing when a slot itself is damaged.
func TestRepair(t *testing.T) {
	for _, tt := range bodyDamage {
		t.Run(tt.name, func(t *testing.T) {
			m := damaged(t, func(l bodyLayout, data []byte) { tt.edit(t, l, data) })
			repaired, remains := m.Repair()
			if tt.want == shm.ErrDamaged {
				if repaired != nil {
					t.Errorf("Repair of a damaged slot repaired %v", repaired)
				}
				wantDamage(t, "Repair", remains, tt.want, tt.words...)
				wantDamage(t, "Check after Repair", m.Check(), tt.want, tt.words...)
				return
			}
			wantDamage(t, "Repair", repaired, tt.want, tt.words...)
			if remains != nil {
				t.Fatalf("Repair left %v", remains)
			}
			if err := m.Check(); err != nil {
				t.Errorf("Check after Repair: %v", err)
			}
			wantValue(t, m, "x", shm.Int(42), 0)
			wantValue(t, m, "s", shm.Bytes(b("hello")), 0)
			mustSet(t, m, "new1", shm.Int(1))
			mustSet(t, m, "new2", shm.Int(2))
			if _, err := m.Set(b("new3"), shm.Int(3)); !errors.Is(err, shm.ErrFull) {
				t.Errorf("Set of a fifth variable in four slots: %v, want ErrFull", err)
			}
			if err := m.Check(); err != nil {
				t.Errorf("Check after filling the repaired file: %v", err)
			}
		})
	}
}

// TestRepairSlotAndIndex: with a damaged slot, Repair leaves the index
// damage too (it rebuilds nothing around a damaged slot) and reports both.
func TestRepairSlotAndIndex(t *testing.T) {
	m := damaged(t, func(l bodyLayout, data []byte) {
		le.PutUint32(data[l.current(data, l.slotNamed(t, data, "s"))+4:], 9)
		le.PutUint32(data[ctlFreeHead:], 0)
	})
	repaired, remains := m.Repair()
	if repaired != nil {
		t.Errorf("Repair repaired %v", repaired)
	}
	wantDamage(t, "Repair", remains, shm.ErrDamaged, "kind 9")
	wantDamage(t, "Repair", remains, shm.ErrIndexDamaged, "free slots are not on the free list")
	wantDamage(t, "Check", m.Check(), shm.ErrIndexDamaged, "free slots are not on the free list")
}

// TestDamageSymptoms shows what the damage of the issue did before anything
// looked for it: a bad free-list head makes a two-variable file full, and a
// lost index entry hides a variable. Check names both; Repair cures both.
func TestDamageSymptoms(t *testing.T) {
	m := damaged(t, func(l bodyLayout, data []byte) {
		le.PutUint32(data[ctlFreeHead:], 0)
		le.PutUint32(data[l.entry(l.entryOf(t, data, l.slotNamed(t, data, "x"))):], 0)
	})
	if _, err := m.Set(b("new"), shm.Int(1)); !errors.Is(err, shm.ErrFull) {
		t.Errorf("Set before Repair: %v, want the symptom ErrFull", err)
	}
	wantMissing(t, m, "x")
	err := m.Check()
	wantDamage(t, "Check", err, shm.ErrIndexDamaged, "2 free slots are not on the free list, the first slot 2", `slot 0 ("x") is in the index 0 times`)
	if _, remains := m.Repair(); remains != nil {
		t.Fatalf("Repair left %v", remains)
	}
	wantValue(t, m, "x", shm.Int(42), 0)
	mustSet(t, m, "new", shm.Int(1))
}

// TestCheckWhileWriting: Check on a file in use, by this Memory and by
// another attachment of the same file (another process, as far as the
// locks go), finds nothing: variables created, written with integers and
// byte strings, grouped and deleted meanwhile are never taken for damage.
func TestCheckWhileWriting(t *testing.T) {
	cfg := unit
	m := newMem(t, cfg)
	other := openMem(t, shm.Config{Path: m.Path()})
	stop := make(chan struct{})
	done := make(chan struct{})
	for w, mem := range []*shm.Memory{m, other} {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := b(string(rune('a' + (w*4+i)%8)))
				switch i % 4 {
				case 0:
					mem.Set(n, shm.Int(int64(i)))
				case 1:
					mem.Set(n, shm.Bytes(letters(int64(i), 1+i%200)))
				case 2:
					mem.MSet([][]byte{n, b("g")}, []shm.Value{shm.Int(1), shm.Bytes(b("v"))})
				case 3:
					mem.Delete(n)
				}
			}
		}()
	}
	for range 2000 {
		if err := m.Check(); err != nil {
			t.Errorf("Check while writing: %v", err)
			break
		}
	}
	close(stop)
	<-done
	<-done
}

// TestCheckLostFreeList: a lost free list is one problem, however many
// slots it loses (dsmd logs each problem it repairs; a 65536-slot file
// gave 65534 lines).
func TestCheckLostFreeList(t *testing.T) {
	m := damaged(t, func(l bodyLayout, data []byte) { le.PutUint32(data[ctlFreeHead:], 0) })
	err := m.Check()
	if n := len(strings.Split(err.Error(), "\n")); n != 1 {
		t.Errorf("Check of a file that lost its free list (two slots): %d problems, want 1:\n%v", n, err)
	}
}

// TestScanDamagedName: Scan stops at a live slot whose name is empty or
// longer than the file allows with ErrDamaged naming the slot, instead of
// listing a name that is not the variable's; the cursor it returns goes on
// past the slot.
func TestScanDamagedName(t *testing.T) {
	for _, n := range []func(l bodyLayout) uint32{
		func(bodyLayout) uint32 { return 0 },
		func(l bodyLayout) uint32 { return l.nameMax + 1 },
	} {
		var nameLen uint32
		m := damaged(t, func(l bodyLayout, data []byte) {
			nameLen = n(l)
			le.PutUint32(data[l.slot(l.slotNamed(t, data, "x"))+slotNameLen:], nameLen)
		})
		var listed []string
		list := func(name []byte, _ uint64) bool { listed = append(listed, string(name)); return true }
		next, err := m.Scan(0, list)
		wantDamage(t, "Scan", err, shm.ErrDamaged, "slot 0", fmt.Sprintf("name of %d bytes", nameLen))
		if len(listed) != 0 {
			t.Errorf("Scan listed %q before the damaged slot 0", listed)
		}
		if next != 1 {
			t.Fatalf("Scan stopped at slot 0 with cursor %d, want 1", next)
		}
		if next, err = m.Scan(next, list); next != 0 || err != nil || !slices.Equal(listed, []string{"s"}) {
			t.Errorf("Scan from 1 = %d, %v, listed %q; want 0, nil, [s]", next, err, listed)
		}
	}
}

// damageLive applies edit to the file of m, which stays open: the bytes it
// changes are written through the file, which the mapping shares.
func damageLive(t testing.TB, m *shm.Memory, edit func(l bodyLayout, data []byte)) {
	t.Helper()
	data, err := os.ReadFile(m.Path())
	if err != nil {
		t.Fatal(err)
	}
	was := slices.Clone(data)
	edit(layoutOf(data), data)
	f, err := os.OpenFile(m.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range data {
		if data[i] != was[i] {
			if _, err := f.WriteAt(data[i:i+1], int64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFeedDamagedValue: a change whose new value the feed finds damaged is
// reported with the damage (ErrDamaged naming the slot), not as a
// deletion.
func TestFeedDamagedValue(t *testing.T) {
	for _, tt := range valueDamage {
		t.Run(tt.name, func(t *testing.T) {
			m := damaged(t, func(bodyLayout, []byte) {})
			f, err := m.Feed()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			mustSet(t, m, tt.slot, shm.Bytes(b("new")))
			damageLive(t, m, func(l bodyLayout, data []byte) { tt.edit(l, data, l.slotNamed(t, data, tt.slot)) })
			changes, err := f.Next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 1 || string(changes[0].Name) != tt.slot {
				t.Fatalf("Next = %v, want one change of %s", changes, tt.slot)
			}
			wantDamage(t, "the change's Err", changes[0].Err, shm.ErrDamaged, tt.words...)
		})
	}
}

// TestLookupDamagedName: a variable whose slot's name length is damaged
// (empty, or longer than the file allows) is not taken for missing: reads
// (MGet too) and writes of its name fail with ErrDamaged naming the slot, and a write
// does not create the name again in another slot.
func TestLookupDamagedName(t *testing.T) {
	for _, tt := range []struct {
		name    string
		nameLen func(l bodyLayout) uint32
		words   []string
	}{
		{"empty", func(bodyLayout) uint32 { return 0 }, []string{"slot 0", "name of 0 bytes"}},
		{"too long", func(l bodyLayout) uint32 { return l.nameMax + 1 }, []string{"slot 0", "name of 121 bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := damaged(t, func(l bodyLayout, data []byte) {
				le.PutUint32(data[l.slot(l.slotNamed(t, data, "x"))+slotNameLen:], tt.nameLen(l))
			})
			x := b("x")
			_, _, err := m.Get(x)
			wantDamage(t, "Get", err, shm.ErrDamaged, tt.words...)
			_, _, err = m.AppendText(nil, x)
			wantDamage(t, "AppendText", err, shm.ErrDamaged, tt.words...)
			_, err = m.Exists(x)
			wantDamage(t, "Exists", err, shm.ErrDamaged, tt.words...)
			_, err = m.MGet([][]byte{b("s"), x})
			wantDamage(t, "MGet", err, shm.ErrDamaged, tt.words...)
			_, err = m.Set(x, shm.Int(1))
			wantDamage(t, "Set", err, shm.ErrDamaged, tt.words...)
			_, _, err = m.Add(x, 1)
			wantDamage(t, "Add", err, shm.ErrDamaged, tt.words...)
			_, err = m.Delete(x)
			wantDamage(t, "Delete", err, shm.ErrDamaged, tt.words...)
			_, err = m.Handle(x, true)
			wantDamage(t, "Handle", err, shm.ErrDamaged, tt.words...)
			_, err = m.Lock(t.Context(), [][]byte{x}, true, true)
			wantDamage(t, "Lock", err, shm.ErrDamaged, tt.words...)
			// Had a write created x again, Get would find it now.
			_, _, err = m.Get(x)
			wantDamage(t, "Get after the writes", err, shm.ErrDamaged, tt.words...)
			wantValue(t, m, "s", shm.Bytes(b("hello")), 0)
			_, _, err = m.Get(b("other"))
			wantDamage(t, "Get of another name", err, shm.ErrNotFound)
		})
	}
}
