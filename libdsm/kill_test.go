package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/shm"
)

// pyAdder adds 1 to counter argv[2] times and prints each result.
const pyAdder = `
import sys, dsm
m = dsm.Memory(sys.argv[1])
for _ in range(int(sys.argv[2])):
    print(m.add("counter", 1), flush=True)
`

// pyHolder takes the write lock of L and sleeps holding it.
const pyHolder = `
import sys, time, dsm
m = dsm.Memory(sys.argv[1])
with m.lock("L"):
    print("held", flush=True)
    time.sleep(60)
`

// adder is a process adding to counter that prints one line per
// acknowledged add.
type adder struct {
	name   string
	cmd    *exec.Cmd
	kill   bool // killed with SIGKILL while it adds
	acked  int
	last   string // its last line, for messages
	killed atomic.Bool
	going  chan struct{} // closed after its 50th add
	done   chan error
}

// start starts a's process and counts its lines until it ends.
func (a *adder) start(t *testing.T) {
	t.Helper()
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	a.cmd.Stderr = &errb
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", a.name, err)
	}
	t.Cleanup(func() { a.cmd.Process.Kill() })
	a.done, a.going = make(chan error, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64); err != nil {
				continue // redis-cli's other lines, if any
			}
			a.acked++
			a.last = sc.Text()
			if a.acked == 50 {
				close(a.going)
			}
		}
		io.Copy(io.Discard, out)
		err := a.cmd.Wait()
		if err != nil && !a.killed.Load() {
			err = fmt.Errorf("%s: %v; stderr:\n%s", a.name, err, errb.String())
		} else {
			err = nil
		}
		a.done <- err
	}()
}

// TestCrossLanguageKill: Go processes, Python processes, the C example and
// redis-cli through dsmd add to one counter at once while one local process
// of each language is killed with SIGKILL in the middle of its adds. The
// final value lies between the acknowledged adds and those attempted (each
// killed process may have had one in flight), and the file is sound. Then
// a Python process and a C process killed while holding a lock release it
// within 1 s of the SIGKILL (guarantee 4).
func TestCrossLanguageKill(t *testing.T) {
	lib := built(t)
	py := python(t, false)
	redisCLI, err := exec.LookPath("redis-cli")
	if err != nil {
		ci.NeedOrSkip(t, "no redis-cli")
	}
	d := dsmtest.Start(t, server.Config{})
	_, port, _ := strings.Cut(d.Addr, ":")
	m, err := shm.Open(shm.Config{Path: d.File})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	const finish, endless = 1500, 1_000_000
	pyCmd := func(n int) *exec.Cmd {
		cmd := exec.Command(py, "-c", pyAdder, d.File, strconv.Itoa(n))
		cmd.Env = pythonEnv(t)
		return cmd
	}
	cCmd := func(n int) *exec.Cmd {
		return exec.Command(filepath.Join(lib, "dsmc"), d.File, "add", "counter", "1", strconv.Itoa(n))
	}
	adders := []*adder{
		{name: "go", cmd: childproc.Command("add", d.File, strconv.Itoa(finish))},
		{name: "go killed", cmd: childproc.Command("add", d.File, strconv.Itoa(endless)), kill: true},
		{name: "python", cmd: pyCmd(finish)},
		{name: "python killed", cmd: pyCmd(endless), kill: true},
		{name: "c", cmd: cCmd(finish)},
		{name: "c killed", cmd: cCmd(endless), kill: true},
		{name: "redis-cli", cmd: exec.Command(redisCLI, "-p", port, "-r", strconv.Itoa(finish), "incr", "counter")},
	}
	for _, a := range adders {
		a.start(t)
	}
	// Each victim dies at a random instant once it has made 50 adds.
	var wg sync.WaitGroup
	for _, a := range adders {
		if !a.kill {
			continue
		}
		wg.Go(func() {
			select {
			case <-a.going:
			case <-time.After(time.Minute):
			}
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
			a.killed.Store(true)
			a.cmd.Process.Kill()
		})
	}
	wg.Wait()
	acked, attempted := 0, 0
	for _, a := range adders {
		select {
		case err := <-a.done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s did not end", a.name)
		}
		t.Logf("%s: %d acknowledged adds (last %q)", a.name, a.acked, a.last)
		if !a.kill && a.acked != finish {
			t.Errorf("%s acknowledged %d adds, want %d", a.name, a.acked, finish)
		}
		if a.kill && a.acked < 50 {
			t.Errorf("%s was killed before its 50th add: the kill proves little", a.name)
		}
		acked += a.acked
		attempted += a.acked
		if a.kill {
			attempted++ // one add may have been in flight
		}
	}
	v, _, err := m.Get([]byte("counter"))
	if err != nil {
		t.Fatal(err)
	}
	final, _ := v.Int()
	t.Logf("counter = %d; acknowledged %d, attempted at most %d", final, acked, attempted)
	if final < int64(acked) || final > int64(attempted) {
		t.Fatalf("counter = %d, want between %d (acknowledged) and %d (attempted)", final, acked, attempted)
	}
	if err := m.Check(); err != nil {
		t.Fatalf("the file after the kills: %v", err)
	}

	for _, holder := range []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"python", exec.Command(py, "-c", pyHolder, d.File)},
		{"c", exec.Command(filepath.Join(lib, "dsmc"), d.File, "lock", "L")},
	} {
		if holder.name == "python" {
			holder.cmd.Env = pythonEnv(t)
		}
		took := killHolder(t, m, holder.name, holder.cmd)
		t.Logf("%s holder: the lock came %v after the SIGKILL", holder.name, took)
		if took > time.Second {
			t.Errorf("%s holder: the lock came %v after the SIGKILL, the bound is 1 s", holder.name, took)
		}
	}
}

// killHolder starts cmd, which takes the write lock of L and says a line
// ("held" or "locked"), kills it with SIGKILL and returns how long after
// the kill a lock group of this process got L.
func killHolder(t *testing.T, m *shm.Memory, name string, cmd *exec.Cmd) time.Duration {
	t.Helper()
	stdin, err := cmd.StdinPipe() // the C example holds until stdin ends
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || (line != "held\n" && line != "locked\n") {
		t.Fatalf("%s holder said %q, %v", name, line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	g, err := m.Lock(ctx, [][]byte{[]byte("L")}, true, true)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		if g != nil {
			g.Unlock()
		}
		t.Fatalf("%s holder: L taken while it was held: %v", name, err)
	}
	killed := time.Now()
	cmd.Process.Kill()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err = m.Lock(ctx, [][]byte{[]byte("L")}, true, true)
	if err != nil {
		t.Fatalf("%s holder: L never came back: %v", name, err)
	}
	took := time.Since(killed)
	g.Unlock()
	return took
}
