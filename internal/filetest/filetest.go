// Package filetest makes and copies memory files for tests: a small file
// with a few variables whose bytes a test damages on purpose, and a copy
// of a file as a power loss would leave it.
package filetest

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// Offsets in a file made by Damaged, as shm/doc.go lays them out.
const (
	controlOff   = 3 * 4096 // the control block, after the meta pages
	slotsOffAt   = 104      // the meta page's field holding the slots' offset
	damagedVars  = 4
	damagedProcs = 2
)

// Damaged creates a four-variable file in a temporary directory of tb,
// sets the integer variables vars in it (in the order given, so the first
// lands in slot 0), closes it, and lets edit change its bytes: control is
// the offset of the control block and slot0 that of the first slot. It
// returns the file's path.
func Damaged(tb testing.TB, vars []Var, edit func(data []byte, control, slot0 uint64)) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "dsm.mem")
	m, err := shm.Open(shm.Config{Path: path, Vars: damagedVars, Procs: damagedProcs, Lanes: 2, GroupMax: 4})
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range vars {
		if _, err := m.Set([]byte(v.Name), shm.Int(v.Value)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	edit(data, controlOff, binary.LittleEndian.Uint64(data[slotsOffAt:]))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Var is an integer variable for Damaged to set.
type Var struct {
	Name  string
	Value int64
}

// Copy copies src to dst, in the kernel where it can: a memory file read
// into a slice costs the race detector half a second.
func Copy(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// DamageSlot0 writes b at offset at of the file's first slot, through the
// file: a process that has the file mapped sees the damage at once.
func DamageSlot0(tb testing.TB, path string, at uint64, b []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var field [8]byte
	if _, err := f.ReadAt(field[:], slotsOffAt); err != nil {
		tb.Fatal(err)
	}
	slot0 := binary.LittleEndian.Uint64(field[:])
	if _, err := f.WriteAt(b, int64(slot0+at)); err != nil {
		tb.Fatal(err)
	}
}
