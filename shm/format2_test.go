package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// fmt2 is a small format-2 file: 16 slots, values up to 64 KiB, so its
// arena is 512 KiB (four blocks of the longest value).
var fmt2 = shm.Config{Vars: 16, Procs: 4, Lanes: 4, GroupMax: 4, Format: 2}

// TestFormat2Sizes stores values of every kind and size through the
// write paths (Set, MSet, a lock group) into names in place and in
// blocks, reads them back every way, changes their sizes, deletes them,
// and has Check find the file sound after each step: values of up to 8
// bytes live in the cell, longer ones in blocks that are reused, freed
// and merged back.
func TestFormat2Sizes(t *testing.T) {
	// 32768 slots: a 2 MiB arena, sixteen blocks of the longest value.
	cfg := fmt2
	cfg.Vars = 32768
	m := newMem(t, cfg)
	if got := m.Limits().ValueMax; got != shm.DefaultValueMax2 {
		t.Fatalf("value limit %d, want %d", got, shm.DefaultValueMax2)
	}
	sizes := []int{0, 1, 7, 8, 9, 16, 17, 100, 1000, 4096, 65535, 65536}
	names := []string{"a", strings.Repeat("n", 16), strings.Repeat("l", 17), strings.Repeat("x", shm.DefaultNameMax)}
	for round, n := range append(sizes, 3, 65536, 20, 0) {
		for i, name := range names {
			v := bytes.Repeat([]byte{byte('a' + (round+i)%26)}, n)
			mustSet(t, m, name, shm.Bytes(v))
			got, _ := mustGet(t, m, name)
			if !bytes.Equal(got.AppendText(nil), v) {
				t.Fatalf("%q: %d bytes read back as %d", name, n, len(got.AppendText(nil)))
			}
			text, _, err := m.AppendText([]byte("p:"), b(name))
			if err != nil || !bytes.Equal(text, append([]byte("p:"), v...)) {
				t.Fatalf("AppendText(%q) of %d bytes: %d bytes, %v", name, n, len(text), err)
			}
		}
		if err := m.Check(); err != nil {
			t.Fatalf("Check after values of %d bytes: %v", n, err)
		}
	}
	long := shm.Bytes(bytes.Repeat(b("m"), 3000))
	if err := m.MSet([][]byte{b(names[2]), b("i")}, []shm.Value{long, shm.Int(-5)}); err != nil {
		t.Fatal(err)
	}
	items, err := m.MGet([][]byte{b(names[2]), b("i"), b("missing")})
	if err != nil || !items[0].Value.Equal(long) || !items[1].Value.Equal(shm.Int(-5)) || items[2].Found {
		t.Fatalf("MGet after MSet: %+v, %v", items, err)
	}
	if sum, _, err := m.Add(b("i"), 7); err != nil || sum != 2 {
		t.Fatalf("Add: %d, %v", sum, err)
	}
	for _, name := range append(names, "i") {
		if n, err := m.Delete(b(name)); err != nil || n != 1 {
			t.Fatalf("Delete(%q) = %d, %v", name, n, err)
		}
	}
	if err := m.Check(); err != nil {
		t.Fatalf("Check after deleting everything: %v", err)
	}
	// Every block went back and merged: the arena takes sixteen blocks
	// of the longest value again, two in each of eight variables (the
	// current cell's and the spare's); one block left behind anywhere
	// would leave room for fifteen.
	for i := range 8 {
		big := shm.Bytes(bytes.Repeat(b("z"), 65536))
		mustSet(t, m, fmt.Sprint("big", i), big)
		mustSet(t, m, fmt.Sprint("big", i), big)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestFormat2Full fills the value heap: a write that finds no block fails
// with ErrFull and changes nothing (the old value stays, a variable it
// would have created does not appear, an MSet changes none of its
// variables), and once a deletion frees blocks the write succeeds.
func TestFormat2Full(t *testing.T) {
	m := newMem(t, fmt2)
	big := func(c byte) shm.Value { return shm.Bytes(bytes.Repeat([]byte{c}, 65536)) }
	for i := range 4 {
		mustSet(t, m, fmt.Sprint("v", i), big('a'+byte(i)))
	}
	_, err := m.Set(b("v4"), big('e'))
	wantErr(t, "a fifth 64 KiB value in a 512 KiB arena", err, shm.ErrFull)
	if ok, err := m.Exists(b("v4")); ok || err != nil {
		t.Errorf("v4 after its failed Set: exists %v, %v", ok, err)
	}
	_, ver0, _ := m.Get(b("v0"))
	_, err = m.Set(b("v0"), big('x')) // needs a second block: v0's spare has none
	wantErr(t, "a new value with no block for the spare cell", err, shm.ErrFull)
	wantValue(t, m, "v0", big('a'), ver0)
	err = m.MSet([][]byte{b("v1"), b("v2")}, []shm.Value{shm.Int(1), big('y')})
	wantErr(t, "MSet with no block for one of its values", err, shm.ErrFull)
	wantValue(t, m, "v1", big('b'), 0)
	wantValue(t, m, "v2", big('c'), 0)
	if err := m.Check(); err != nil {
		t.Fatalf("Check of the full file: %v", err)
	}
	if _, err := m.Delete(b("v3")); err != nil {
		t.Fatal(err)
	}
	mustSet(t, m, "v0", big('x'))
	wantValue(t, m, "v0", big('x'), ver0+1)
	if err := m.Check(); err != nil {
		t.Fatalf("Check at the end: %v", err)
	}
}

// TestFormat2Hammer: writers store values of random sizes, in place and
// in blocks of several classes, into shared variables while readers read
// them; every value a reader sees is one a writer wrote whole (its bytes
// all name its length), and Check finds the heap sound at the end. A
// change feed is open throughout, so that every write also goes around
// the feed's ring in the control block. Run with -race.
func TestFormat2Hammer(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 16, Procs: 4, Lanes: 8, GroupMax: 4, ValueMax: 2048, Format: 2})
	feed, err := m.Feed()
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	names := [][]byte{b("h0"), b("h1"), b("a-name-longer-than-sixteen-bytes")}
	value := func(n int) shm.Value { return shm.Bytes(bytes.Repeat([]byte{byte(n)}, n)) }
	whole := func(v shm.Value) error {
		text := v.AppendText(nil)
		if v.IsInt() {
			return nil
		}
		for _, c := range text {
			if c != byte(len(text)) {
				return fmt.Errorf("torn value of %d bytes: %q", len(text), text)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range 2000 {
				name := names[r.IntN(len(names))]
				var err error
				switch n := r.IntN(1200); {
				case n < 50:
					_, err = m.Delete(name)
				case n < 100:
					err = m.MSet(names[:2], []shm.Value{value(r.IntN(200)), value(r.IntN(200))})
				default:
					_, err = m.Set(name, value(n%256))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 4000 {
				for _, name := range names {
					v, _, err := m.Get(name)
					if err != nil && !errors.Is(err, shm.ErrNotFound) {
						errs <- err
						return
					}
					if err := whole(v); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := m.Check(); err != nil {
		t.Fatalf("Check after the hammer: %v", err)
	}
}
