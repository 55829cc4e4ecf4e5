package shm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

func TestHandle(t *testing.T) {
	m := newMem(t, unit)
	if _, err := m.Handle(b("x"), false); !errors.Is(err, shm.ErrNotFound) {
		t.Fatalf("Handle(missing, create=false) = %v, want ErrNotFound", err)
	}
	h, err := m.Handle(b("x"), true)
	if err != nil {
		t.Fatalf("Handle(missing, create=true): %v", err)
	}
	if string(h.Name()) != "x" {
		t.Errorf("Name = %q", h.Name())
	}
	// Created with no value: missing to every reader, not counted.
	if _, _, err := h.Get(); !errors.Is(err, shm.ErrNotFound) {
		t.Errorf("Handle.Get of a valueless variable = %v, want ErrNotFound", err)
	}
	wantMissing(t, m, "x")
	if m.Len() != 0 {
		t.Errorf("Len = %d, want 0", m.Len())
	}
	if _, _, err := h.CompareAndSwap(shm.Int(0), shm.Int(1)); !errors.Is(err, shm.ErrNotFound) {
		t.Errorf("Handle.CompareAndSwap on no value = %v, want ErrNotFound", err)
	}

	v1, err := h.Set(shm.Int(10))
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, m, "x", shm.Int(10), v1)
	got, ver, err := h.Get()
	if err != nil || !got.Equal(shm.Int(10)) || ver != v1 {
		t.Fatalf("Handle.Get = %v@%d, %v; want 10@%d", got, ver, err, v1)
	}
	n, v2, err := h.Add(5)
	if err != nil || n != 15 || v2 != v1+1 {
		t.Fatalf("Handle.Add = %d@%d, %v; want 15@%d", n, v2, err, v1+1)
	}
	swapped, v3, err := h.CompareAndSwap(shm.Bytes(b("15")), shm.Bytes(b("text")))
	if err != nil || !swapped || v3 != v2+1 {
		t.Fatalf("Handle.CompareAndSwap = %v@%d, %v; want true@%d", swapped, v3, err, v2+1)
	}
	swapped, v4, err := h.CompareAndSwap(shm.Int(15), shm.Int(0))
	if err != nil || swapped || v4 != v3 {
		t.Fatalf("failing Handle.CompareAndSwap = %v@%d, %v; want false@%d", swapped, v4, err, v3)
	}
	if _, _, err := h.Add(1); !errors.Is(err, shm.ErrNotInteger) {
		t.Errorf("Handle.Add on text = %v, want ErrNotInteger", err)
	}
	got, _, _ = h.Get()
	if got.String() != "text" || got.IsInt() {
		t.Errorf("Handle.Get of bytes = %v", got)
	}
	if _, err := h.Set(shm.Bytes(make([]byte, m.Stats().ValueMax+1))); !errors.Is(err, shm.ErrValueTooLarge) {
		t.Errorf("Handle.Set too large = %v, want ErrValueTooLarge", err)
	}
	if _, _, err := h.CompareAndSwap(shm.Bytes(b("text")), shm.Bytes(make([]byte, m.Stats().ValueMax+1))); !errors.Is(err, shm.ErrValueTooLarge) {
		t.Errorf("Handle.CompareAndSwap too large = %v, want ErrValueTooLarge", err)
	}
	wantValue(t, m, "x", shm.Bytes(b("text")), v3)

	h.Set(shm.Int(1<<63 - 1))
	if _, _, err := h.Add(1); !errors.Is(err, shm.ErrOverflow) {
		t.Errorf("Handle.Add overflow = %v, want ErrOverflow", err)
	}
	wantValue(t, m, "x", shm.Int(1<<63-1), 0)
}

// TestHandleAfterRecreate: a handle follows its name when the variable is
// deleted and recreated, even when the new variable reuses the same slot
// or another one.
func TestHandleAfterRecreate(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "x", shm.Int(1))
	for _, create := range []bool{false, true} {
		h, err := m.Handle(b("x"), create)
		if err != nil {
			t.Fatal(err)
		}
		m.Delete(b("x"))
		mustSet(t, m, "other", shm.Int(99)) // may take x's old slot
		ver := mustSet(t, m, "x", shm.Int(2))
		got, gotVer, err := h.Get()
		if err != nil || !got.Equal(shm.Int(2)) || gotVer != ver {
			t.Fatalf("create=%v: Get after recreate = %v@%d, %v; want 2@%d", create, got, gotVer, err, ver)
		}
		if _, err := h.Set(shm.Int(3)); err != nil {
			t.Fatal(err)
		}
		wantValue(t, m, "x", shm.Int(3), ver+1)
		wantValue(t, m, "other", shm.Int(99), 0)
		if n, _, err := h.Add(1); err != nil || n != 4 {
			t.Fatalf("Add after recreate = %d, %v", n, err)
		}
		if ok, _, err := h.CompareAndSwap(shm.Int(4), shm.Int(1)); err != nil || !ok {
			t.Fatalf("CompareAndSwap after recreate = %v, %v", ok, err)
		}
		wantValue(t, m, "other", shm.Int(99), 0)
		m.Delete(b("other"))
	}
}

// TestHandleAfterDelete: once its variable is deleted, a handle made with
// create=false reports ErrNotFound and stores nothing; one made with
// create=true recreates the variable.
func TestHandleAfterDelete(t *testing.T) {
	for _, create := range []bool{false, true} {
		name := map[bool]string{false: "create=false", true: "create=true"}[create]
		t.Run(name, func(t *testing.T) {
			m := newMem(t, unit)
			mustSet(t, m, "x", shm.Int(1))
			h, err := m.Handle(b("x"), create)
			if err != nil {
				t.Fatal(err)
			}
			m.Delete(b("x"))
			if _, _, err := h.Get(); !errors.Is(err, shm.ErrNotFound) {
				t.Errorf("Get after delete = %v, want ErrNotFound", err)
			}
			if _, _, err := h.CompareAndSwap(shm.Int(1), shm.Int(2)); !errors.Is(err, shm.ErrNotFound) {
				t.Errorf("CompareAndSwap after delete = %v, want ErrNotFound", err)
			}
			ver, setErr := h.Set(shm.Int(7))
			if !create {
				// Either refuse (ErrNotFound) or store: never report
				// success for a write that went nowhere.
				checkStored := func(op string, err error, ver uint64, want shm.Value) {
					t.Helper()
					if err != nil {
						wantErr(t, op+" after delete", err, shm.ErrNotFound)
						wantMissing(t, m, "x")
						return
					}
					got, gotVer, gerr := m.Get(b("x"))
					if gerr != nil || !got.Equal(want) || gotVer != ver {
						t.Errorf("%s after delete reported success (version %d) but Get = %v@%d, %v", op, ver, got, gotVer, gerr)
					}
				}
				checkStored("Handle.Set", setErr, ver, shm.Int(7))
				m.Delete(b("x"))
				n, ver, addErr := h.Add(3)
				checkStored("Handle.Add", addErr, ver, shm.Int(n))
				return
			}
			if setErr != nil {
				t.Fatalf("Set after delete: %v", setErr)
			}
			wantValue(t, m, "x", shm.Int(7), ver)
		})
	}
}

// TestHandleCurrent: a handle is current until its variable is deleted
// (even if the name comes back, in its old slot or another) or the file is
// closed, and a handle that is not current still reads its name.
func TestHandleCurrent(t *testing.T) {
	m := newMem(t, unit)
	mustSet(t, m, "x", shm.Int(1))
	h, err := m.Handle(b("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Current() {
		t.Fatal("a new handle is not current")
	}
	mustSet(t, m, "x", shm.Int(2))
	if !h.Current() {
		t.Fatal("a handle is not current after a set of its variable")
	}
	m.Delete(b("x"))
	if h.Current() {
		t.Fatal("a handle of a deleted variable is current")
	}
	mustSet(t, m, "y", shm.Int(99)) // takes x's old slot if any does
	ver := mustSet(t, m, "x", shm.Int(3))
	if h.Current() {
		t.Fatal("a handle is current again after its name was set again")
	}
	if got, gotVer, err := h.Get(); err != nil || !got.Equal(shm.Int(3)) || gotVer != ver {
		t.Fatalf("Get through a handle that is not current = %v@%d, %v; want 3@%d", got, gotVer, err, ver)
	}
	h2, err := m.Handle(b("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !h2.Current() {
		t.Fatal("a handle resolved after the recreate is not current")
	}
	// An image that repeats x's value and version keeps the variable; one
	// that gives x an older version replaces it, as a delete and a create.
	if err := m.Install(context.Background(), imageOf(t, m)); err != nil {
		t.Fatal(err)
	}
	if !h2.Current() {
		t.Fatal("a handle is not current after an Install that kept its variable")
	}
	img := emptyImage(m)
	img.Vars = []shm.ImageVar{{Name: b("y"), Value: shm.Int(5), Version: 1}, {Name: b("x"), Value: shm.Int(6), Version: 1}}
	if err := m.Install(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if h2.Current() {
		t.Fatal("a handle is current after an Install that replaced its variable")
	}
	if got, _, err := h2.Get(); err != nil || !got.Equal(shm.Int(6)) {
		t.Fatalf("Get after Install = %v, %v; want 6", got, err)
	}
	m.Close()
	if h2.Current() {
		t.Fatal("a handle is current after Close")
	}
}
