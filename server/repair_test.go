package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/filetest"
	"github.com/dsm-dev/dsm/shm"
)

// TestStartRepairsFreeList: a file whose free list was lost (so that it
// takes itself for full) is repaired when the daemon starts, with a warning
// that names the problem, and then takes new variables.
func TestStartRepairsFreeList(t *testing.T) {
	path := filetest.Damaged(t, []filetest.Var{{Name: "x", Value: 42}}, func(data []byte, control, _ uint64) {
		binary.LittleEndian.PutUint32(data[control+72:], 0) // free list head
	})
	var log lockedLog
	s, err := New(Config{File: path, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	if got := log.String(); !strings.Contains(got, "memory file repaired") || !strings.Contains(got, "3 free slots are not on the free list, the first slot 1") {
		t.Errorf("log does not name the repair:\n%s", got)
	}
	if _, err := s.mem.Set([]byte("new"), shm.Int(1)); err != nil {
		t.Errorf("Set after the repair: %v", err)
	}
	if v, _, err := s.mem.Get([]byte("x")); err != nil || !v.Equal(shm.Int(42)) {
		t.Errorf("x after the repair = %v, %v; want 42", v, err)
	}
}

// TestStartRefusesDamagedSlot: a file with a slot that nothing can rebuild
// (a value of an unknown kind) is refused at start, with an error that
// names the file, the slot and the damage.
func TestStartRefusesDamagedSlot(t *testing.T) {
	path := filetest.Damaged(t, []filetest.Var{{Name: "x", Value: 42}}, func(data []byte, _, slot0 uint64) {
		// x's value is in buffer 1 (its version is 1): after the
		// 64-byte header, 120 bytes of name, then buffer 0 of 8+256.
		binary.LittleEndian.PutUint32(data[slot0+64+120+264+4:], 7)
	})
	s, err := New(Config{File: path, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		s.Close()
		t.Fatal("New served a file with a damaged slot")
	}
	if !errors.Is(err, shm.ErrDamaged) {
		t.Errorf("New: %v, want ErrDamaged", err)
	}
	for _, w := range []string{path, "slot 0", `"x"`, "kind 7"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("New: %q does not say %q", err, w)
		}
	}
	// Refused, not held: the file can be opened again (to be mended).
	m, err := shm.Open(shm.Config{Path: path, Exclusive: true})
	if err != nil {
		t.Fatalf("Open after the refusal: %v", err)
	}
	m.Close()
}

// TestExistsDamaged: EXISTS, TYPE and TTL of a damaged value reply with an
// error that names the damage, not as if the variable were missing.
func TestExistsDamaged(t *testing.T) {
	path := filetest.Damaged(t, []filetest.Var{{Name: "x", Value: 42}}, func([]byte, uint64, uint64) {})
	ts := startServer(t, Config{File: path})
	// x's value kind, as TestStartRefusesDamagedSlot damages it.
	filetest.DamageSlot0(t, path, 64+120+264+4, []byte{7, 0, 0, 0})
	r := dialRaw(t, ts.addr)
	for _, cmd := range [][]string{{"EXISTS", "y", "x"}, {"TYPE", "x"}, {"TTL", "x"}} {
		got := r.do(cmd...)
		if !strings.HasPrefix(got, "-ERR") || !strings.Contains(got, `slot 0 ("x"): value of unknown kind 7`) {
			t.Errorf("%v = %q, want an error naming the damage", cmd, got)
		}
	}
	if got := r.do("EXISTS", "y"); got != integer(0) {
		t.Errorf("EXISTS y = %q, want 0", got)
	}
}

// TestKeysDamagedName: KEYS and SCAN fail with an error naming a slot whose
// name length is damaged, rather than list an empty name for it.
func TestKeysDamagedName(t *testing.T) {
	path := filetest.Damaged(t, []filetest.Var{{Name: "x", Value: 42}}, func([]byte, uint64, uint64) {})
	ts := startServer(t, Config{File: path})
	filetest.DamageSlot0(t, path, 32, []byte{0, 0, 0, 0}) // x's name length
	r := dialRaw(t, ts.addr)
	for _, cmd := range [][]string{{"KEYS", "*"}, {"SCAN", "0"}} {
		got := r.do(cmd...)
		if !strings.HasPrefix(got, "-ERR") || !strings.Contains(got, "slot 0: name of 0 bytes") {
			t.Errorf("%v = %q, want an error naming the damage", cmd, got)
		}
	}
}

// TestChangePayloadDamage: a change whose value the feed found damaged is
// published as "VERSION!ERROR", not as a deletion ("VERSION").
func TestChangePayloadDamage(t *testing.T) {
	damage := fmt.Errorf(`%w: slot 0 ("x"): value of unknown kind 7`, shm.ErrDamaged)
	got := changePayload(shm.Change{Name: []byte("x"), Item: shm.Item{Version: 20}, Err: damage})
	if want := "20!" + damage.Error(); got != want {
		t.Errorf("payload of a damaged value = %q, want %q", got, want)
	}
	if got := changePayload(shm.Change{Name: []byte("x"), Item: shm.Item{Version: 21}}); got != "21" {
		t.Errorf("payload of a deletion = %q, want %q", got, "21")
	}
}
