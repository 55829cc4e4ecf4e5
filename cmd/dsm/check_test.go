//go:build linux

package main

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/filetest"
	"github.com/dsm-dev/dsm/shm"
)

// xy are the variables of the files the check tests damage: x in slot 0,
// y in slot 1, and slot 2 heads the free list.
var xy = []filetest.Var{{Name: "x", Value: 42}, {Name: "y", Value: 7}}

// TestCheckCommand: dsm -file F check prints OK and exits 0 on a sound
// file; on a damaged one it prints each problem and exits 1; with -repair
// it rebuilds a damaged free list and says so, and exits 0 once nothing
// remains; a damaged slot stays, reported, with exit 1.
func TestCheckCommand(t *testing.T) {
	sound := filetest.Damaged(t, xy, func([]byte, uint64, uint64) {})
	if out, errOut, code := dsm(t, "", "-file", sound, "check"); code != exitOK || out != "OK\n" {
		t.Errorf("check of a sound file: exit %d, %q, %q", code, out, errOut)
	}

	lostFree := func(data []byte, control, _ uint64) { binary.LittleEndian.PutUint32(data[control+72:], 0) }
	path := filetest.Damaged(t, xy, lostFree)
	out, errOut, code := dsm(t, "", "-file", path, "check")
	if code != exitError || !strings.Contains(out, "2 free slots are not on the free list, the first slot 2") || !strings.Contains(errOut, "is damaged") {
		t.Errorf("check of a lost free list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = dsm(t, "", "-file", path, "check", "-repair")
	if code != exitOK || !strings.Contains(out, "repaired: ") || !strings.HasSuffix(out, "OK\n") {
		t.Errorf("check -repair: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, _, code := dsm(t, "", "-file", path, "check"); code != exitOK || out != "OK\n" {
		t.Errorf("check after the repair: exit %d, %q", code, out)
	}

	kind7 := func(data []byte, _, slot0 uint64) {
		// x's value is in buffer 1 (its version is 1), after the slot's
		// 64-byte header, 120 bytes of name and buffer 0 (8+256).
		binary.LittleEndian.PutUint32(data[slot0+64+120+264+4:], 7)
	}
	path = filetest.Damaged(t, xy, kind7)
	for _, args := range [][]string{{"check"}, {"check", "-repair"}} {
		out, _, code := dsm(t, "", append([]string{"-file", path}, args...)...)
		if code != exitError || !strings.Contains(out, `slot 0 ("x"): value of unknown kind 7`) {
			t.Errorf("%v of a damaged slot: exit %d, stdout %q", args, code, out)
		}
	}
	out, errOut, code = dsm(t, "", "-file", path, "get", "x")
	if code == exitOK || code == exitNotFound || !strings.Contains(errOut, "kind 7") {
		t.Errorf("get of a damaged slot: exit %d, stdout %q, stderr %q; want an error naming the damage", code, out, errOut)
	}

	out, _, code = dsm(t, "", "-o", "json", "-file", path, "check")
	if code != exitError || !strings.Contains(out, `"repairable":false`) {
		t.Errorf("check -o json: exit %d, %q", code, out)
	}
	if _, errOut, code := dsm(t, "", "check"); code != exitError || !strings.Contains(errOut, "-file") {
		t.Errorf("check without -file: exit %d, %q", code, errOut)
	}
}

// TestListDamagedName: dsm -file F list fails, naming the slot, when a
// variable's name length is damaged, rather than list the others as if it
// were not there.
func TestListDamagedName(t *testing.T) {
	path := filetest.Damaged(t, xy, func(data []byte, _, slot0 uint64) {
		binary.LittleEndian.PutUint32(data[slot0+32:], 0) // x's name length
	})
	out, errOut, code := dsm(t, "", "-file", path, "list")
	if code == exitOK || !strings.Contains(errOut, "slot 0: name of 0 bytes") {
		t.Errorf("list: exit %d, %q, %q; want a failure naming slot 0", code, out, errOut)
	}
}

// TestWatchLocalDamaged: dsm watch in local mode prints a change whose new
// value it finds damaged as "(damaged: ...)" naming the slot, not as
// "(deleted)"; -o json gives the damage in "damage".
func TestWatchLocalDamaged(t *testing.T) {
	path := filetest.Damaged(t, xy, func([]byte, uint64, uint64) {})
	w, err := watchLocal(path, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ver, err := m.Set([]byte("x"), shm.Bytes([]byte("new")))
	if err != nil {
		t.Fatal(err)
	}
	// x's current value kind, in slot 0: after the 64-byte header and 120
	// bytes of name, buffer ver&1 of 8+256 bytes.
	filetest.DamageSlot0(t, path, 64+120+(ver&1)*264+4, []byte{7, 0, 0, 0})
	ch, err := w.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var text, js strings.Builder
	printChange(&text, formatText, time.Now(), ch)
	printChange(&js, formatJSON, time.Now(), ch)
	if !strings.Contains(text.String(), `x (damaged: shm: file is damaged: slot 0 ("x"): value of unknown kind 7)`) {
		t.Errorf("watch printed %q, want the damage", text.String())
	}
	if !strings.Contains(js.String(), `"deleted":false,"damage":"shm: file is damaged: slot 0`) {
		t.Errorf("watch -o json printed %q, want the damage", js.String())
	}
}
