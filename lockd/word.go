package lockd

// The state word of a lock, 64 bits, changed only by compare-and-swap:
//
//	bits  0-15  readers: read holds (at most one per lane)
//	bits 16-27  waiting: writers registered as waiting
//	bit  28     W: a writer holds the lock
//	bit  29     G: the guard is held (readers and waiting change only under it)
//	bits 30-46  owner of W (see Owner)
//	bits 47-63  owner of G
//
// A free lock with nobody waiting is the word 0.
const (
	readerOne   = 1
	readersMask = 1<<16 - 1
	waitOne     = 1 << 16
	waitMask    = (1<<12 - 1) << 16
	writerBit   = 1 << 28
	guardBit    = 1 << 29
	wOwnerShift = 30
	gOwnerShift = 47
	ownerBits   = 17
	ownerMask   = 1<<ownerBits - 1

	// MaxWaitingWriters is how many writers may be registered as waiting
	// on one lock at once.
	MaxWaitingWriters = 1<<12 - 1
)

type state uint64

func (s state) readers() int       { return int(s & readersMask) }
func (s state) waiting() int       { return int(s&waitMask) >> 16 }
func (s state) writer() bool       { return s&writerBit != 0 }
func (s state) guarded() bool      { return s&guardBit != 0 }
func (s state) writerOwner() Owner { return Owner(s >> wOwnerShift & ownerMask) }
func (s state) guardOwner() Owner  { return Owner(s >> gOwnerShift & ownerMask) }

func (s state) withWriter(o Owner) state {
	return s&^(ownerMask<<wOwnerShift) | writerBit | state(o)<<wOwnerShift
}
func (s state) withoutWriter() state { return s &^ (writerBit | ownerMask<<wOwnerShift) }
func (s state) withGuard(o Owner) state {
	return s&^(ownerMask<<gOwnerShift) | guardBit | state(o)<<gOwnerShift
}
func (s state) withoutGuard() state { return s &^ (guardBit | ownerMask<<gOwnerShift) }

// Owner names an attachment: its process slot in the low 10 bits and the
// slot's generation (mod 128) above them. The generation changes each time
// a slot is claimed or recovered, so a hold left by a dead attachment is never
// mistaken for one of the slot's next owner.
type Owner uint32

const (
	slotBits = 10
	// MaxProcs is the largest number of process slots a space may have.
	MaxProcs = 1 << slotBits
	genMask  = 1<<(ownerBits-slotBits) - 1
)

func makeOwner(slot int, gen uint32) Owner { return Owner(uint32(slot) | (gen&genMask)<<slotBits) }

// Slot is the owner's process slot.
func (o Owner) Slot() int { return int(o & (MaxProcs - 1)) }

// Gen is the owner's slot generation (mod 128).
func (o Owner) Gen() uint32 { return uint32(o >> slotBits) }
