package shm_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// The benchmarks run beside their peers in the same run: atomic.LoadInt64
// (the floor for a read of shared memory) and sync.RWMutex (a lock that
// only one process can use). The project's targets on the 2-core machine:
// handle Get <= 15 ns, handle Set and Add <= 50 ns, Get by name <= 80 ns.

var benchCfg = shm.Config{Vars: 1024, Procs: 8, Lanes: 16, GroupMax: 16}

func benchMem(b *testing.B) *shm.Memory {
	b.Helper()
	return newMem(b, benchCfg)
}

func benchHandle(b *testing.B, m *shm.Memory) *shm.Handle {
	b.Helper()
	h, err := m.Handle([]byte("bench"), true)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.Set(shm.Int(1)); err != nil {
		b.Fatal(err)
	}
	return h
}

var (
	sinkInt   int64
	sinkValue shm.Value
)

func BenchmarkAtomicLoadInt64(b *testing.B) {
	var x int64 = 1
	var s int64
	for b.Loop() {
		s += atomic.LoadInt64(&x)
	}
	sinkInt = s
}

func BenchmarkRWMutexRLock(b *testing.B) {
	var mu sync.RWMutex
	for b.Loop() {
		mu.RLock()
		//lint:ignore SA2001 the benchmark measures the lock itself
		mu.RUnlock()
	}
}

func BenchmarkRWMutexLock(b *testing.B) {
	var mu sync.RWMutex
	for b.Loop() {
		mu.Lock()
		//lint:ignore SA2001 the benchmark measures the lock itself
		mu.Unlock()
	}
}

func BenchmarkHandleGet(b *testing.B) {
	h := benchHandle(b, benchMem(b))
	for b.Loop() {
		v, _, err := h.Get()
		if err != nil {
			b.Fatal(err)
		}
		sinkValue = v
	}
}

func BenchmarkHandleSet(b *testing.B) {
	h := benchHandle(b, benchMem(b))
	var i int64
	for b.Loop() {
		i++
		if _, err := h.Set(shm.Int(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandleAdd(b *testing.B) {
	h := benchHandle(b, benchMem(b))
	for b.Loop() {
		if _, _, err := h.Add(1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	m := benchMem(b)
	name := []byte("bench")
	mustSet(b, m, "bench", shm.Int(1))
	for b.Loop() {
		v, _, err := m.Get(name)
		if err != nil {
			b.Fatal(err)
		}
		sinkValue = v
	}
}

func BenchmarkSet(b *testing.B) {
	m := benchMem(b)
	name := []byte("bench")
	var i int64
	for b.Loop() {
		i++
		if _, err := m.Set(name, shm.Int(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchNames(b *testing.B, m *shm.Memory, n int) ([][]byte, []shm.Value) {
	b.Helper()
	names := make([][]byte, n)
	vals := make([]shm.Value, n)
	for i := range names {
		names[i] = []byte(fmt.Sprint("bench-", i))
		vals[i] = shm.Int(int64(i))
		mustSet(b, m, string(names[i]), vals[i])
	}
	return names, vals
}

func BenchmarkMGet10(b *testing.B) {
	m := benchMem(b)
	names, _ := benchNames(b, m, 10)
	for b.Loop() {
		if _, err := m.MGet(names); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMSet10(b *testing.B) {
	m := benchMem(b)
	names, vals := benchNames(b, m, 10)
	for b.Loop() {
		if err := m.MSet(names, vals); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleAddParallel is Add on one variable from every P of this
// process.
func BenchmarkHandleAddParallel(b *testing.B) {
	h := benchHandle(b, benchMem(b))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := h.Add(1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func init() {
	// add-loop adds to "bench" as fast as one goroutine can until killed.
	helperRoles["add-loop"] = func(m *shm.Memory, _ string) error {
		h, err := m.Handle([]byte("bench"), true)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for {
			if _, _, err := h.Add(1); err != nil {
				return err
			}
		}
	}
}

// BenchmarkHandleAddCrossProcess is Add on one variable while another
// process adds to it as fast as it can (contended across processes).
func BenchmarkHandleAddCrossProcess(b *testing.B) {
	m := benchMem(b)
	h := benchHandle(b, m)
	c := childproc.Start(b, "add-loop", m.Path(), "")
	c.Expect(b, "ready")
	for b.Loop() {
		if _, _, err := h.Add(1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c.Kill(b)
}

func init() {
	// add-n waits until "bench-go" is set, adds 1 to "bench" arg times, and
	// says "done". The parent times the adds of all its children together.
	helperRoles["add-n"] = func(m *shm.Memory, arg string) error {
		n, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		h, err := m.Handle([]byte("bench"), true)
		if err != nil {
			return err
		}
		start, err := m.Handle([]byte("bench-go"), true)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		for {
			if v, _, err := start.Get(); err == nil && v.IsInt() {
				break
			}
			runtime.Gosched()
		}
		for range n {
			if _, _, err := h.Add(1); err != nil {
				return err
			}
		}
		fmt.Println("done")
		return nil
	}
}

// BenchmarkHandleAddProcs is Add on one variable from several OS
// processes at once, each with its own mapping: the aggregate rate of
// procs=N against procs=1 is the cost of contention across processes (the
// cache line of the variable and its lock moving between cores). The
// children's start-up is not timed, and the sum is checked.
func BenchmarkHandleAddProcs(b *testing.B) {
	for _, procs := range []int{1, 2, 4} {
		b.Run(fmt.Sprint("procs=", procs), func(b *testing.B) {
			m := benchMem(b)
			h := benchHandle(b, m)
			per := max(b.N/procs, 1)
			children := make([]*childproc.Child, procs)
			for i := range children {
				children[i] = childproc.Start(b, "add-n", m.Path(), strconv.Itoa(per))
				children[i].Expect(b, "ready")
			}
			b.ResetTimer()
			start := time.Now()
			mustSet(b, m, "bench-go", shm.Int(1))
			for _, c := range children {
				c.Expect(b, "done")
			}
			elapsed := time.Since(start)
			b.StopTimer()
			for _, c := range children {
				c.Wait(b)
			}
			b.ReportMetric(float64(per*procs)/elapsed.Seconds(), "ops/s")
			v, _, err := h.Get()
			if n, _ := v.Int(); err != nil || n != 1+int64(per*procs) {
				b.Fatalf("bench = %v (%v), want %d", v, err, 1+per*procs)
			}
		})
	}
}

// counters opens a memory of twice keys variables and creates keys of
// them, "counter:0" on, returning their names.
func counters(b *testing.B, keys int) (*shm.Memory, [][]byte) {
	m := newMem(b, shm.Config{Vars: 2 * keys, Procs: 8})
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte("counter:" + strconv.Itoa(i))
		if _, _, err := m.Add(names[i], 1); err != nil {
			b.Fatal(err)
		}
	}
	return m, names
}

// BenchmarkAddKeyspace is Add by name over keyspaces of growing size, in
// a scattered order: the cost of a lookup and an update that miss the CPU
// caches and the TLB, which the remote benchmarks' -r keyspaces pay.
func BenchmarkAddKeyspace(b *testing.B) {
	for _, keys := range []int{1000, 100000} {
		b.Run(fmt.Sprint("keys=", keys), func(b *testing.B) {
			m, names := counters(b, keys)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// 7919 is prime, so the walk visits every key in a
				// scattered order.
				if _, _, err := m.Add(names[(i*7919)%keys], 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAddKeyspacePrefetch is BenchmarkAddKeyspace in batches of 16, as
// a pipelined client sends them, with and without Prefetch of each batch
// first.
func BenchmarkAddKeyspacePrefetch(b *testing.B) {
	const keys, batch = 100000, 16
	m, names := counters(b, keys)
	for _, prefetch := range []bool{false, true} {
		b.Run(fmt.Sprint("prefetch=", prefetch), func(b *testing.B) {
			group := make([][]byte, batch)
			for i := 0; i < b.N; i += batch {
				for j := range group {
					group[j] = names[((i+j)*7919)%keys]
				}
				if prefetch {
					m.Prefetch(group)
				}
				for _, name := range group {
					if _, _, err := m.Add(name, 1); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
