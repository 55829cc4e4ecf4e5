package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

var counterName = []byte("shared-counter")

// helperIncr is the child process: it maps the file of DSM_TEST_FILE and
// adds 1 to the counter DSM_TEST_N times.
func helperIncr() int {
	n, _ := strconv.Atoi(os.Getenv("DSM_TEST_N"))
	mem, err := shm.Open(shm.Config{Path: os.Getenv("DSM_TEST_FILE")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer mem.Close()
	for i := 0; i < n; i++ {
		if _, _, err := mem.Add(counterName, 1); err != nil {
			fmt.Fprintln(os.Stderr, "add:", err)
			return 1
		}
	}
	return 0
}

// TestCounterAddsUp: remote clients (RESP), goroutines of this process
// through shm, and child processes through shm increment one counter at
// the same time; no increment is lost.
func TestCounterAddsUp(t *testing.T) {
	const (
		remotes, perRemote = 4, 400
		locals, perLocal   = 2, 1000
		children, perChild = 2, 1000
	)
	file := filepath.Join(t.TempDir(), "dsm.mem")
	ts := startServer(t, Config{File: file})
	local, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()

	var wg sync.WaitGroup
	errs := make(chan error, remotes+locals+children)
	for i := 0; i < children; i++ {
		cmd := helperCmd(t, "incr", "DSM_TEST_FILE="+file, "DSM_TEST_N="+strconv.Itoa(perChild))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("child: %v: %s", err, out)
			}
		}()
	}
	for i := 0; i < remotes; i++ {
		rdb := newRedis(t, ts.addr, 2+i%2, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perRemote; j++ {
				if err := rdb.Incr(context.Background(), string(counterName)).Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < locals; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perLocal; j++ {
				if _, _, err := local.Add(counterName, 1); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := remotes*perRemote + locals*perLocal + children*perChild
	if got := dialRaw(t, ts.addr).do("GET", string(counterName)); got != bulk(strconv.Itoa(want)) {
		t.Errorf("counter over RESP = %q, want %d", got, want)
	}
	v, _, err := local.Get(counterName)
	if n, _ := v.Int(); err != nil || n != int64(want) {
		t.Errorf("counter through shm = %d, %v; want %d", n, err, want)
	}
}
