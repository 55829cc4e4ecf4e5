// Command langbench times gets of one variable from Go, by name
// (shm.Memory.Get) and through a handle (shm.Handle.Get), on a file that
// another process may serve: the Go side of scripts/bench languages,
// which times the C example's gets (examples/c/dsmc.c, bench) and the
// Python package's operations (bench.py here) the same way, on the same
// file, in the same run.
//
// Usage: langbench -file FILE -op get|handle [-n N]
//
// It prints nanoseconds per get, over N gets after 10% as many to warm up:
// CPU time of the process (as dsmc bench does), so that on a shared
// machine only the time it ran counts.
package main

import (
	"flag"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/shm"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "langbench:", err)
		os.Exit(1)
	}
}

func run() error {
	file := flag.String("file", "", "memory file")
	op := flag.String("op", "get", "get (by name) or handle")
	n := flag.Int("n", 2_000_000, "gets to time")
	flag.Parse()
	m, err := shm.Open(shm.Config{Path: *file})
	if err != nil {
		return err
	}
	defer m.Close()
	name := []byte("bench")
	if _, err := m.Set(name, shm.Int(1)); err != nil {
		return err
	}
	get := func() error { _, _, err := m.Get(name); return err }
	switch *op {
	case "get":
	case "handle":
		h, err := m.Handle(name, false)
		if err != nil {
			return err
		}
		get = func() error { _, _, err := h.Get(); return err }
	default:
		return fmt.Errorf("unknown -op %q", *op)
	}
	for range *n / 10 {
		if err := get(); err != nil {
			return err
		}
	}
	start := cpuTime()
	for range *n {
		if err := get(); err != nil {
			return err
		}
	}
	fmt.Printf("%.1f\n", float64(cpuTime()-start)/float64(*n))
	return nil
}

// cpuTime is the CPU time the process has used, in nanoseconds.
func cpuTime() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}
