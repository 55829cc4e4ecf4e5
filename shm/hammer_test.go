package shm_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// The hammer: goroutines in one or more processes share these variables.
//
//	counter   Memory.Add(1); its final value must be the sum of the
//	          acknowledged adds
//	hcounter  Handle.Add(1); likewise
//	cas       a Get + CompareAndSwap(n, n+1) loop; final value = the
//	          acknowledged swaps
//	blob      Set of a 200-byte value of one repeated letter; every Get must
//	          see one letter only (no torn value)
//	p1, p2    MSet to one value each; every MGet must see them equal
//
// and each goroutine's own variable, which only it writes: a Get must return
// its last Set. A goroutine also checks that the counters it sees never go
// back (each of its reads follows its earlier ones).

type hammerCounts struct {
	adds, hadds, cas, ops atomic.Int64
}

func (c *hammerCounts) String() string {
	return fmt.Sprintf("adds=%d hadds=%d cas=%d ops=%d", c.adds.Load(), c.hadds.Load(), c.cas.Load(), c.ops.Load())
}

// prepareHammer creates the shared variables.
func prepareHammer(t testing.TB, m *shm.Memory) {
	t.Helper()
	for _, n := range []string{"counter", "hcounter", "cas", "p1", "p2"} {
		mustSet(t, m, n, shm.Int(0))
	}
	mustSet(t, m, "blob", shm.Bytes(bytes.Repeat(b("a"), 200)))
}

// runHammer runs n goroutines on m for d and returns the first violation.
func runHammer(m *shm.Memory, id string, n int, d time.Duration, c *hammerCounts) error {
	var (
		wg     sync.WaitGroup
		once   sync.Once
		bad    error
		failed atomic.Bool
	)
	deadline := time.Now().Add(d)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hammerOne(m, fmt.Sprintf("own-%s-%d", id, g), byte('a'+g%26), deadline, &failed, c); err != nil {
				once.Do(func() { bad = err })
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return bad
}

func hammerOne(m *shm.Memory, own string, letter byte, deadline time.Time, failed *atomic.Bool, c *hammerCounts) error {
	h, err := m.Handle(b("hcounter"), false)
	if err != nil {
		return err
	}
	blob := bytes.Repeat([]byte{letter}, 200)
	var seen int64 // the highest counter value this goroutine has seen
	for i := int64(0); time.Now().Before(deadline) && !failed.Load(); i++ {
		c.ops.Add(1)
		switch i % 6 {
		case 0:
			n, _, err := m.Add(b("counter"), 1)
			if err != nil {
				return fmt.Errorf("Add: %w", err)
			}
			c.adds.Add(1)
			if n <= seen {
				return fmt.Errorf("Add returned %d, but this goroutine had already seen %d", n, seen)
			}
			seen = n
		case 1:
			if _, _, err := h.Add(1); err != nil {
				return fmt.Errorf("Handle.Add: %w", err)
			}
			c.hadds.Add(1)
		case 2:
			for {
				v, _, err := m.Get(b("cas"))
				if err != nil {
					return fmt.Errorf("Get cas: %w", err)
				}
				n, _ := v.Int()
				ok, _, err := m.CompareAndSwap(b("cas"), shm.Int(n), shm.Int(n+1))
				if err != nil {
					return fmt.Errorf("CompareAndSwap: %w", err)
				}
				if ok {
					c.cas.Add(1)
					break
				}
			}
		case 3:
			if _, err := m.Set(b(own), shm.Int(i)); err != nil {
				return fmt.Errorf("Set own: %w", err)
			}
			if v, _, err := m.Get(b(own)); err != nil || !v.Equal(shm.Int(i)) {
				return fmt.Errorf("Get own = %v, %v after Set %d", v, err, i)
			}
			if _, err := m.Set(b("blob"), shm.Bytes(blob)); err != nil {
				return fmt.Errorf("Set blob: %w", err)
			}
		case 4:
			v, _, err := m.Get(b("counter"))
			if err != nil {
				return fmt.Errorf("Get counter: %w", err)
			}
			n, _ := v.Int()
			if n < seen {
				return fmt.Errorf("counter went back: read %d after seeing %d", n, seen)
			}
			seen = n
			if v, _, err := m.Get(b("blob")); err != nil || !uniform(v.AppendText(nil), 200) {
				return fmt.Errorf("torn blob %q, %v", v, err)
			}
		case 5:
			k := shm.Int(i)
			if err := m.MSet([][]byte{b("p1"), b("p2")}, []shm.Value{k, k}); err != nil {
				return fmt.Errorf("MSet: %w", err)
			}
			items, err := m.MGet([][]byte{b("p2"), b("p1"), b("counter")})
			if err != nil {
				return fmt.Errorf("MGet: %w", err)
			}
			if !items[0].Value.Equal(items[1].Value) {
				return fmt.Errorf("MGet saw p1=%v p2=%v", items[1].Value, items[0].Value)
			}
			if n, _ := items[2].Value.Int(); n < seen {
				return fmt.Errorf("counter went back in MGet: %d after %d", n, seen)
			}
		}
	}
	return nil
}

// uniform reports whether v is n copies of one byte.
func uniform(v []byte, n int) bool {
	return len(v) == n && bytes.Count(v, v[:1]) == n
}

// checkHammer checks the final state against the acknowledged operations.
func checkHammer(t testing.TB, m *shm.Memory, adds, hadds, cas int64) {
	t.Helper()
	t.Logf("acknowledged: %d adds, %d handle adds, %d swaps", adds, hadds, cas)
	if adds == 0 || hadds == 0 || cas == 0 {
		t.Fatal("some operation never succeeded: the hammer proved nothing")
	}
	wantValue(t, m, "counter", shm.Int(adds), 0)
	wantValue(t, m, "hcounter", shm.Int(hadds), 0)
	wantValue(t, m, "cas", shm.Int(cas), 0)
	items, err := m.MGet([][]byte{b("p1"), b("p2")})
	if err != nil || !items[0].Value.Equal(items[1].Value) {
		t.Errorf("p1, p2 = %+v, %v", items, err)
	}
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestHammer runs the hammer in this process, from two attachments of
// four goroutines each, so that -race sees the Go side.
func TestHammer(t *testing.T) {
	m1 := newMem(t, hammer)
	cfg := hammer
	cfg.Path = m1.Path()
	m2 := openMem(t, cfg)
	prepareHammer(t, m1)
	var c hammerCounts
	errs := make(chan error, 2)
	for i, m := range []*shm.Memory{m1, m2} {
		go func() { errs <- runHammer(m, fmt.Sprint(i), 4, time.Second, &c) }()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d operations", c.ops.Load())
	checkHammer(t, m1, c.adds.Load(), c.hadds.Load(), c.cas.Load())
}

func init() {
	helperRoles["hammer"] = func(m *shm.Memory, arg string) error {
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		var c hammerCounts
		fmt.Println("ready")
		if err := runHammer(m, fmt.Sprint(os.Getpid()), 8, d, &c); err != nil {
			return err
		}
		fmt.Println(c.String())
		return nil
	}
}

// TestHammerProcesses runs the hammer in four processes of eight goroutines
// each for two seconds; each reports the operations acknowledged to it.
func TestHammerProcesses(t *testing.T) {
	m := newMem(t, hammer)
	prepareHammer(t, m)
	var kids []*childproc.Child
	for i := 0; i < 4; i++ {
		kids = append(kids, childproc.Start(t, "hammer", m.Path(), "2s"))
	}
	for _, c := range kids {
		c.Expect(t, "ready")
	}
	var adds, hadds, cas, ops int64
	for i, c := range kids {
		out := strings.TrimSpace(c.Wait(t))
		var a, h, s, o int64
		if _, err := fmt.Sscanf(out, "adds=%d hadds=%d cas=%d ops=%d", &a, &h, &s, &o); err != nil {
			t.Fatalf("child %d printed %q: %v", i, out, err)
		}
		t.Logf("child %d: %s", i, out)
		adds, hadds, cas, ops = adds+a, hadds+h, cas+s, ops+o
	}
	t.Logf("%d operations in all", ops)
	checkHammer(t, m, adds, hadds, cas)
	if n := len(m.Procs()); n != 1 {
		t.Errorf("%d processes still attached after the children exited, want 1", n)
	}
}
