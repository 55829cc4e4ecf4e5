package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Check verifies the file's invariants: every live slot is in the index
// once under its own name's hash, every index entry names a live slot, no
// name is live twice, and the free list holds exactly the slots that are not
// live, each once. It takes the index lock, so it sees a consistent index,
// and returns every problem found, joined. Tests run it after hammering; the
// dsm command runs it as `check`.
func (m *Memory) Check() error {
	if !m.enter() {
		return ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.proc.Lock(background, m.index); err != nil {
		return err
	}
	defer m.proc.Unlock(m.index)
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
		}
	}
	indexed := make([]int, m.meta.vars)
	for i := uint32(0); i < m.meta.indexSize; i++ {
		e := atomic.LoadUint32(m.entry(i))
		if e == 0 {
			continue
		}
		s := e - 1
		if s >= m.meta.vars {
			bad("index entry %d names slot %d of %d", i, s, m.meta.vars)
			continue
		}
		indexed[s]++
		if atomic.LoadUint32(m.metaWord(s))&metaLive == 0 {
			bad("index entry %d names free slot %d", i, s)
		}
		if r, ok := m.probe(m.name(s), m.hash(m.name(s))); !ok || r.slot != s {
			bad("slot %d (%q) is not found by its name", s, m.name(s))
		}
	}
	free := make([]bool, m.meta.vars)
	for e, n := atomic.LoadUint32(m.freeHead()), uint32(0); e != 0; n++ {
		s := e - 1
		if s >= m.meta.vars || n > m.meta.vars || free[s] {
			bad("free list is broken at slot %d", s)
			break
		}
		free[s] = true
		e = atomic.LoadUint32(m.u32(m.slotOff(s) + slotNextFree))
	}
	for s := uint32(0); s < m.meta.vars; s++ {
		live := atomic.LoadUint32(m.metaWord(s))&metaLive != 0
		switch {
		case live && indexed[s] != 1:
			bad("live slot %d (%q) is indexed %d times", s, m.name(s), indexed[s])
		case live && free[s]:
			bad("live slot %d is on the free list", s)
		case !live && !free[s]:
			bad("free slot %d is not on the free list", s)
		}
	}
	return errors.Join(errs...)
}
