package shm

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// A heap is the value area of a format-2 file as doc.go lays it out
// ("Value blocks and their allocator"): arenas cut into blocks by the
// binary buddy system, a free list per class and a count of free bytes.
// Its methods run under the allocator lock (a repair's rebuild too), and
// they change the file only through put, so that a test can stop an
// operation after any of its stores and rebuild, as a crash would.
//
// The rules that make the heap derived data: a block is free or named by
// one reference (a cell or a long name), references change only under
// the allocator lock, and a split or a merge is committed by one header
// store, so that a walk of an arena by its headers always finds its
// partition. rebuild recreates everything else from a walk and the
// references.
type heap struct {
	base      unsafe.Pointer // the mapping
	size      uint64         // bytes mapped
	heads     uint64         // offset of class 0's free list head; class k's is 8k on
	freeBytes uint64         // offset of the count of bytes in free blocks
	arenas    []arenaExt

	// step, if set, runs before each store to the file (tests: a crash
	// at every store).
	step func()
}

// An arenaExt is one arena: 2^class bytes at off.
type arenaExt struct {
	off   uint64
	class uint
}

// A block's header: one word, class in byte 0 and state in byte 1, then
// the free list links while it is free.
const (
	blockNext = 8
	blockPrev = 16

	blockFree  = 1
	blockValue = 2
	blockName  = 3

	maxClass = maxArenaClass
)

func blockHeaderWord(class uint, state uint8) uint64 { return uint64(class) | uint64(state)<<8 }

func splitHeader(w uint64) (class uint, state uint8) { return uint(w & 0xff), uint8(w >> 8) }

func (h *heap) word(off uint64) *uint64 { return (*uint64)(unsafe.Add(h.base, off)) }

// inside reports whether the word at off lies in the mapping. Offsets
// come from the file (links, references), which may be damaged: get reads
// 0 and put stores nothing outside it, so damage never reaches memory
// that is not the file's. Check reports the damage.
func (h *heap) inside(off uint64) bool { return off%8 == 0 && off < h.size && h.size-off >= 8 }

func (h *heap) get(off uint64) uint64 {
	if !h.inside(off) {
		return 0
	}
	return atomic.LoadUint64(h.word(off))
}

func (h *heap) put(off, v uint64) {
	if h.step != nil {
		h.step()
	}
	if h.inside(off) {
		atomic.StoreUint64(h.word(off), v)
	}
}

func (h *heap) head(k uint) uint64 { return h.heads + 8*uint64(k) }

// alloc takes a block of class k for state (blockValue or blockName),
// splitting a larger free block if none of class k is free. ok is false
// if no block is large enough.
func (h *heap) alloc(k uint, state uint8) (off uint64, ok bool) {
	for c := k; c <= maxClass; c++ {
		b := h.get(h.head(c))
		if b == 0 {
			continue
		}
		h.unlink(b, c)
		for c > k {
			c--
			upper := b + 1<<c
			h.put(upper, blockHeaderWord(c, blockFree))
			h.push(upper, c)
			h.put(b, blockHeaderWord(c, blockFree)) // the split's commit
		}
		h.put(b, blockHeaderWord(k, state))
		h.put(h.freeBytes, h.get(h.freeBytes)-1<<k)
		return b, true
	}
	return 0, false
}

// free returns block b, which its reference no longer names, merging it
// with its free buddies.
func (h *heap) free(b uint64) {
	k, _ := splitHeader(h.get(b))
	a, ok := h.arenaAt(b)
	if !ok || k < minClass || k > a.class || (b-a.off)%(1<<k) != 0 {
		return // not a block: damage, which Check reports and a rebuild clears
	}
	h.put(h.freeBytes, h.get(h.freeBytes)+1<<k)
	h.put(b, blockHeaderWord(k, blockFree))
	for k < a.class {
		buddy := a.off + ((b - a.off) ^ (1 << k))
		if bk, bs := splitHeader(h.get(buddy)); bk != k || bs != blockFree {
			break
		}
		h.unlink(buddy, k)
		b = min(b, buddy)
		k++
		h.put(b, blockHeaderWord(k, blockFree)) // the merge's commit
	}
	h.push(b, k)
}

// push puts free block b at the head of class k's list.
func (h *heap) push(b uint64, k uint) {
	next := h.get(h.head(k))
	h.put(b+blockNext, next)
	h.put(b+blockPrev, 0)
	if next != 0 {
		h.put(next+blockPrev, b)
	}
	h.put(h.head(k), b)
}

// unlink takes free block b off class k's list.
func (h *heap) unlink(b uint64, k uint) {
	next, prev := h.get(b+blockNext), h.get(b+blockPrev)
	if prev == 0 {
		h.put(h.head(k), next)
	} else {
		h.put(prev+blockNext, next)
	}
	if next != 0 {
		h.put(next+blockPrev, prev)
	}
}

// arenaAt is the arena that holds offset off.
func (h *heap) arenaAt(off uint64) (arenaExt, bool) {
	for _, a := range h.arenas {
		if off >= a.off && off < a.off+1<<a.class {
			return a, true
		}
	}
	return arenaExt{}, false
}

// walk calls fn with every block of arena i in order, by the classes in
// their headers. It returns an error (ErrDamaged) naming the first header
// it cannot pass: a class out of range or a block out of place; the rest
// of the arena is then not walked.
func (h *heap) walk(i int, fn func(off uint64, class uint, state uint8)) error {
	a := h.arenas[i]
	end := a.off + 1<<a.class
	for b := a.off; b < end; {
		k, st := splitHeader(h.get(b))
		if k < minClass || k > a.class || (b-a.off)%(1<<k) != 0 || b+1<<k > end {
			return fmt.Errorf("%w: arena %d: the block at %d has class %d, which no split leaves there", ErrDamaged, i, b, k)
		}
		fn(b, k, st)
		b += 1 << k
	}
	return nil
}

// rebuild recreates the heap from its arenas' headers and the references:
// used maps each block a reference names to its state (blockValue or
// blockName). Every other block walked is free; free buddies merge; the
// lists and the free byte count are made anew. It returns the damage met
// (headers the walk cannot pass, whose arena's rest stays out of use).
func (h *heap) rebuild(used map[uint64]uint8) []error {
	for k := uint(0); k <= maxClass; k++ {
		h.put(h.head(k), 0)
	}
	var errs []error
	var free uint64
	for i, a := range h.arenas {
		var stack []heapBlock
		err := h.walk(i, func(off uint64, k uint, _ uint8) {
			st := used[off]
			if st == 0 {
				st = blockFree
			}
			h.put(off, blockHeaderWord(k, st))
			stack = h.mergeTop(append(stack, heapBlock{off, k, st}), a)
		})
		if err != nil {
			errs = append(errs, err)
		}
		for _, b := range stack {
			if b.state == blockFree {
				h.push(b.off, b.class)
				free += 1 << b.class
			}
		}
	}
	h.put(h.freeBytes, free)
	return errs
}

// heapBlock is a block as rebuild and check see it.
type heapBlock struct {
	off   uint64
	class uint
	state uint8
}

// mergeTop merges the last two blocks of stack while they are free
// buddies of arena a.
func (h *heap) mergeTop(stack []heapBlock, a arenaExt) []heapBlock {
	for n := len(stack); n >= 2; n = len(stack) {
		lo, hi := stack[n-2], stack[n-1]
		if lo.state != blockFree || hi.state != blockFree || lo.class != hi.class ||
			(lo.off-a.off)%(1<<(lo.class+1)) != 0 || hi.off != lo.off+1<<lo.class {
			break
		}
		h.put(lo.off, blockHeaderWord(lo.class+1, blockFree))
		stack = append(stack[:n-2], heapBlock{lo.off, lo.class + 1, blockFree})
	}
	return stack
}

// check verifies the heap against the references (see rebuild) without
// changing it: a header the walk cannot pass or a reference that names
// no block is ErrDamaged; a block whose state is not what its references
// say, two free buddies, a free list that misses a free block or holds
// anything else, or a wrong count of free bytes is ErrIndexDamaged.
func (h *heap) check(used map[uint64]uint8) []error {
	var errs []error
	bad := func(kind error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{kind}, args...)...))
	}
	blocks := map[uint64]heapBlock{}
	var free uint64
	for i := range h.arenas {
		var prev heapBlock
		err := h.walk(i, func(off uint64, k uint, st uint8) {
			want := used[off]
			if want == 0 {
				want = blockFree
			}
			if st != want {
				bad(ErrIndexDamaged, "the block at %d is in state %d, its references say %d", off, st, want)
			}
			b := heapBlock{off, k, st}
			if st == blockFree && prev.state == blockFree && prev.class == k && prev.off+1<<k == off &&
				(prev.off-h.arenas[i].off)%(1<<(k+1)) == 0 {
				bad(ErrIndexDamaged, "free buddies at %d and %d are not merged", prev.off, off)
			}
			if st == blockFree {
				free += 1 << k
			}
			blocks[off], prev = b, b
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for off := range used {
		if _, ok := blocks[off]; !ok {
			bad(ErrDamaged, "a reference names %d, where no block starts", off)
		}
	}
	errs = append(errs, h.checkLists(blocks)...)
	if got := h.get(h.freeBytes); got != free {
		bad(ErrIndexDamaged, "the free byte count is %d, the free blocks hold %d", got, free)
	}
	return errs
}

// checkLists walks every free list: each must hold exactly the free
// blocks of its class, linked both ways.
func (h *heap) checkLists(blocks map[uint64]heapBlock) []error {
	var errs []error
	listed := map[uint64]bool{}
	for k := uint(0); k <= maxClass; k++ {
		prev := uint64(0)
		for b := h.get(h.head(k)); b != 0; b = h.get(b + blockNext) {
			blk, ok := blocks[b]
			switch {
			case !ok || blk.state != blockFree || blk.class != k:
				errs = append(errs, fmt.Errorf("%w: free list %d names %d, which is not a free block of its class", ErrIndexDamaged, k, b))
			case listed[b]:
				errs = append(errs, fmt.Errorf("%w: free list %d loops back to %d", ErrIndexDamaged, k, b))
			case h.get(b+blockPrev) != prev:
				errs = append(errs, fmt.Errorf("%w: free list %d: the block at %d links back to %d, not %d", ErrIndexDamaged, k, b, h.get(b+blockPrev), prev))
			}
			if !ok || listed[b] || blk.state != blockFree || blk.class != k {
				break
			}
			listed[b], prev = true, b
		}
	}
	for off, b := range blocks {
		if b.state == blockFree && !listed[off] {
			errs = append(errs, fmt.Errorf("%w: the free block at %d (class %d) is on no free list", ErrIndexDamaged, off, b.class))
		}
	}
	return errs
}
