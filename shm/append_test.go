package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

func TestAppendText(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 64})
	long := bytes.Repeat([]byte("v"), m.Stats().ValueMax)
	mustSet(t, m, "int", shm.Int(-42))
	mustSet(t, m, "bytes", shm.Bytes([]byte("hello")))
	mustSet(t, m, "long", shm.Bytes(long))
	mustSet(t, m, "gone", shm.Int(1))
	if _, err := m.Delete(b("gone")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want string
		err  error
	}{
		{"int", "-42", nil},
		{"bytes", "hello", nil},
		{"long", string(long), nil},
		{"missing", "", shm.ErrNotFound},
		{"gone", "", shm.ErrNotFound},
		{"", "", shm.ErrEmptyName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, ver, err := m.AppendText([]byte("prefix:"), b(tt.name))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if string(out) != "prefix:"+tt.want {
				t.Fatalf("out = %q, want %q", out, "prefix:"+tt.want)
			}
			if _, wantVer, _ := m.Get(b(tt.name)); ver != wantVer {
				t.Fatalf("version %d, Get says %d", ver, wantVer)
			}
		})
	}
}

// TestAppendTextTorn reads a variable while another goroutine rewrites it
// with values of different lengths: every read must be one whole value.
func TestAppendTextTorn(t *testing.T) {
	m := newMem(t, shm.Config{Vars: 64})
	vals := []string{"a", "bbbbbbbbbbbbbbbbbbbbbbbb", "ccccccccccc", "12345"}
	mustSet(t, m, "x", shm.ParseValue(b(vals[0])))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := m.Set(b("x"), shm.ParseValue(b(vals[i%len(vals)]))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	buf := make([]byte, 0, 64)
	for range 20000 {
		out, _, err := m.AppendText(buf[:0], b("x"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(vals, string(out)) {
			t.Fatalf("torn read %q", out)
		}
	}
	close(stop)
	wg.Wait()
}

func ExampleMemory_AppendText() {
	m, done := exampleMemory()
	defer done()

	m.Set([]byte("hits"), shm.Int(7))
	buf := make([]byte, 0, 64) // reused: no allocation per read
	buf, _, err := m.AppendText(buf[:0], []byte("hits"))
	fmt.Println(string(buf), err)
	// Output: 7 <nil>
}
