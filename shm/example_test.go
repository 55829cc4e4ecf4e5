package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// exampleMemory opens a small memory file in a temporary directory; the
// returned function closes it and removes the directory.
func exampleMemory() (*shm.Memory, func()) {
	dir, err := os.MkdirTemp("", "dsm-example")
	if err != nil {
		panic(err)
	}
	m, err := shm.Open(shm.Config{Path: filepath.Join(dir, "dsm.mem"), Vars: 1024, Procs: 8})
	if err != nil {
		panic(err)
	}
	return m, func() {
		m.Close()
		os.RemoveAll(dir)
	}
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "dsm-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dsm.mem")

	// The first Open creates the file with these capacities.
	m, err := shm.Open(shm.Config{Path: path, Vars: 1024, Procs: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Set([]byte("greeting"), shm.Bytes([]byte("hello")))
	m.Close()

	// Any later Open, by this process or another, sees what is there.
	m, err = shm.Open(shm.Config{Path: path})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	v, version, err := m.Get([]byte("greeting"))
	fmt.Println(v, version, err)
	fmt.Println(m.Stats().Capacity)
	// Output:
	// hello 1 <nil>
	// 1024
}

func ExampleMemory_Add() {
	m, done := exampleMemory()
	defer done()

	n, _, _ := m.Add([]byte("hits"), 1) // a missing variable counts as 0
	fmt.Println(n)
	n, _, _ = m.Add([]byte("hits"), 41)
	fmt.Println(n)

	m.Set([]byte("name"), shm.Bytes([]byte("dsm")))
	_, _, err := m.Add([]byte("name"), 1)
	fmt.Println(errors.Is(err, shm.ErrNotInteger))
	// Output:
	// 1
	// 42
	// true
}

func ExampleMemory_CompareAndSwap() {
	m, done := exampleMemory()
	defer done()

	m.Set([]byte("leader"), shm.Int(5))
	// Values compare by their text, as in Redis: the integer 5 equals "5".
	swapped, _, _ := m.CompareAndSwap([]byte("leader"), shm.Bytes([]byte("5")), shm.Int(6))
	fmt.Println(swapped)
	swapped, _, _ = m.CompareAndSwap([]byte("leader"), shm.Int(5), shm.Int(7))
	fmt.Println(swapped)
	v, _, _ := m.Get([]byte("leader"))
	fmt.Println(v)
	// Output:
	// true
	// false
	// 6
}

func ExampleMemory_Wait() {
	m, done := exampleMemory()
	defer done()

	version, _ := m.Set([]byte("config"), shm.Bytes([]byte("v1")))
	go func() {
		time.Sleep(10 * time.Millisecond)
		m.Set([]byte("config"), shm.Bytes([]byte("v2"))) // any process may do this
	}()

	// Wait sleeps until the version moves past the one we know.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	newVersion, err := m.Wait(ctx, []byte("config"), version)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _, _ := m.Get([]byte("config"))
	fmt.Println(v, newVersion == version+1)
	// Output: v2 true
}

func ExampleMemory_MSet() {
	m, done := exampleMemory()
	defer done()

	// Both variables change at one instant: no reader sees one without
	// the other, even if this process dies in the middle.
	err := m.MSet(
		[][]byte{[]byte("epoch"), []byte("leader")},
		[]shm.Value{shm.Int(7), shm.Bytes([]byte("node-b"))},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	items, _ := m.MGet([][]byte{[]byte("epoch"), []byte("leader"), []byte("missing")})
	for _, it := range items {
		fmt.Println(it.Found, it.Value)
	}
	// Output:
	// true 7
	// true node-b
	// false
}
