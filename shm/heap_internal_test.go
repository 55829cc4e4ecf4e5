package shm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// testHeap is a heap over a plain buffer: the heads and the free byte
// count in the first page, then two arenas (64 KiB and 8 KiB), each one
// free block, as a new file has them.
type testHeap struct {
	heap
	buf  []uint64 // 8-aligned backing of the heap's bytes
	refs map[uint64]uint8
}

func newTestHeap(t testing.TB) *testHeap {
	t.Helper()
	const size = 4096 + 1<<16 + 1<<13
	th := &testHeap{buf: make([]uint64, size/8), refs: map[uint64]uint8{}}
	th.heap = heap{base: unsafe.Pointer(&th.buf[0]), size: size, heads: 64, freeBytes: 8,
		arenas: []arenaExt{{off: 4096, class: 16}, {off: 4096 + 1<<16, class: 13}}}
	for _, a := range th.arenas {
		th.put(a.off, blockHeaderWord(a.class, blockFree))
		th.push(a.off, a.class)
		th.put(th.freeBytes, th.get(th.freeBytes)+1<<a.class)
	}
	th.mustCheck(t, "new heap")
	return th
}

func (th *testHeap) bytes() []byte {
	return unsafe.Slice((*byte)(th.base), th.size)
}

// fill writes a pattern of block b into its data; intact checks it.
func (th *testHeap) fill(b uint64) {
	k, _ := splitHeader(th.get(b))
	data := th.bytes()[b+blockHeader : b+1<<k]
	for i := range data {
		data[i] = byte(b>>4) ^ byte(i)
	}
}

func (th *testHeap) intact() error {
	for b := range th.refs {
		k, _ := splitHeader(th.get(b))
		data := th.bytes()[b+blockHeader : b+1<<k]
		for i := range data {
			if data[i] != byte(b>>4)^byte(i) {
				return fmt.Errorf("block %d: byte %d overwritten", b, i)
			}
		}
	}
	return nil
}

func (th *testHeap) mustCheck(t testing.TB, when string) {
	t.Helper()
	if errs := th.check(th.refs); len(errs) > 0 {
		t.Fatalf("%s: %v", when, errors.Join(errs...))
	}
	if err := th.intact(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

// randomOp allocates a block of a random class or frees a random used
// one; it returns what to do and the reference change it makes.
func (th *testHeap) randomOp(r *rand.Rand) (run func() (uint64, bool), free uint64) {
	if len(th.refs) > 0 && r.IntN(2) == 0 {
		n := r.IntN(len(th.refs))
		for b := range th.refs {
			if n == 0 {
				return func() (uint64, bool) { th.free(b); return b, true }, b
			}
			n--
		}
	}
	k := minClass + uint(r.IntN(9))
	st := uint8(blockValue + r.IntN(2))
	return func() (uint64, bool) { return th.alloc(k, st) }, 0
}

// TestHeapAllocFree: random allocations and frees keep every rule
// (check), never hand out overlapping blocks (each block keeps its
// pattern), and freeing everything merges each arena back into one block.
func TestHeapAllocFree(t *testing.T) {
	th := newTestHeap(t)
	r := rand.New(rand.NewPCG(1, 2))
	full := 0
	for i := range 3000 {
		run, freed := th.randomOp(r)
		if freed != 0 {
			delete(th.refs, freed)
		}
		b, ok := run()
		switch {
		case freed != 0:
		case !ok:
			full++
		default:
			_, st := splitHeader(th.get(b))
			th.refs[b] = st
			th.fill(b)
		}
		th.mustCheck(t, fmt.Sprintf("operation %d", i))
	}
	if full == 0 {
		t.Errorf("no allocation found the heap full: the test did not fill it")
	}
	for b := range th.refs {
		delete(th.refs, b)
		th.free(b)
	}
	th.mustCheck(t, "all freed")
	for _, a := range th.arenas {
		if th.get(th.head(a.class)) == 0 {
			t.Errorf("arena at %d did not merge back into one block", a.off)
		}
	}
	if got := th.get(th.freeBytes); got != 1<<16+1<<13 {
		t.Errorf("free bytes %d, want %d", got, 1<<16+1<<13)
	}
}

// errCrash stops a heap operation at a store, as a kill would.
var errCrash = errors.New("crash")

// TestHeapCrashAtEveryStore stops each of many operations after every
// store it makes in turn (a process killed there, holding the allocator
// lock) and rebuilds the heap from the references, as the lock's repair
// does: the rebuilt heap keeps every rule, every used block keeps its
// bytes, and the operation's own block is used or free as its reference
// says (an allocation not yet named is free again).
func TestHeapCrashAtEveryStore(t *testing.T) {
	th := newTestHeap(t)
	r := rand.New(rand.NewPCG(3, 4))
	points := 0
	for i := range 300 {
		run, freed := th.randomOp(r)
		if freed != 0 {
			delete(th.refs, freed)
		}
		saved := append([]uint64(nil), th.buf...)
		for n := 0; ; n++ {
			copy(th.buf, saved)
			stores := 0
			th.step = func() {
				if stores == n {
					panic(errCrash)
				}
				stores++
			}
			crashed := func() (crashed bool) {
				defer func() {
					if p := recover(); p != nil {
						if p != errCrash {
							panic(p)
						}
						crashed = true
					}
				}()
				run()
				return false
			}()
			th.step = nil
			if !crashed {
				break
			}
			points++
			if errs := th.rebuild(th.refs); len(errs) > 0 {
				t.Fatalf("operation %d, crash at store %d: rebuild: %v", i, n, errors.Join(errs...))
			}
			th.mustCheck(t, fmt.Sprintf("operation %d, crashed at store %d and rebuilt", i, n))
		}
		if freed == 0 {
			// The allocation completed on the last pass: name it.
			if b, ok := th.lastAlloc(); ok {
				_, st := splitHeader(th.get(b))
				th.refs[b] = st
				th.fill(b)
			}
		}
		th.mustCheck(t, fmt.Sprintf("operation %d", i))
	}
	t.Logf("%d crash points rebuilt", points)
}

// lastAlloc finds the block the last completed allocation took: the one
// used block no reference names.
func (th *testHeap) lastAlloc() (uint64, bool) {
	for i := range th.arenas {
		var found uint64
		th.walk(i, func(off uint64, _ uint, st uint8) {
			if st != blockFree && th.refs[off] == 0 {
				found = off
			}
		})
		if found != 0 {
			return found, true
		}
	}
	return 0, false
}

// TestHeapRebuildMerges: a rebuild of a heap whose references are all
// gone merges every arena back into one free block, and a rebuild that
// meets a damaged header reports it (ErrDamaged) and leaves the rest of
// that arena out of the free lists.
func TestHeapRebuildMerges(t *testing.T) {
	th := newTestHeap(t)
	for range 20 {
		if _, ok := th.alloc(minClass+2, blockValue); !ok {
			t.Fatal("heap full")
		}
	}
	if errs := th.rebuild(nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	th.mustCheck(t, "rebuilt with no references")
	if got := th.get(th.freeBytes); got != 1<<16+1<<13 {
		t.Fatalf("free bytes %d after the rebuild, want all", got)
	}
	b, _ := th.alloc(minClass, blockValue)
	th.refs[b] = blockValue
	th.put(b+1<<minClass, blockHeaderWord(3, blockFree)) // the buddy's header: class 3, below any block
	errs := th.rebuild(th.refs)
	if len(errs) != 1 || !errors.Is(errs[0], ErrDamaged) {
		t.Fatalf("rebuild over a damaged header: %v, want one ErrDamaged", errs)
	}
	if errs := th.check(th.refs); len(errs) == 0 {
		t.Fatalf("check after a rebuild over damage found nothing")
	}
}
