package shm

import "sync/atomic"

// prefetchBatch is how many names Prefetch takes on at a time: enough for
// a pipeline of 16 MSETs of a few keys, and a fixed array on the stack.
const prefetchBatch = 64

// Prefetch loads the index buckets and slots of the named variables into
// the processor's caches and changes nothing. An operation on a variable
// that is not in the caches waits for memory several times in a row
// (bucket, slot, name, value); Prefetch makes the loads of many names
// independent of one another, so the processor overlaps their misses, and
// the operations that follow find their lines cached. A server with a
// pipelined batch in hand calls it with the batch's names before running
// the commands. Names that are not found, or whose bucket is taken by a
// collision, cost a wasted load and nothing else; it takes no lock and
// returns at once on a closed Memory.
func (m *Memory) Prefetch(names [][]byte) {
	if m.closed.Load() {
		return
	}
	mask := m.meta.indexSize - 1
	var slots [prefetchBatch]uint32
	for len(names) > 0 {
		batch := names[:min(len(names), prefetchBatch)]
		names = names[len(batch):]
		// The buckets first, all of them: no load here waits for another.
		for i, name := range batch {
			slots[i] = atomic.LoadUint32(m.entry(uint32(m.hash(name)) & mask))
		}
		// Then the lines each operation reads: the slot's header (lock,
		// version, hash), its name, and both value buffers, since the
		// version that picks the current one has not arrived yet.
		for _, e := range slots[:len(batch)] {
			if e == 0 || e-1 >= m.meta.vars {
				continue
			}
			s := e - 1
			off := m.slotOff(s)
			atomic.LoadUint64(m.u64(off + slotHash))
			atomic.LoadUint64(m.u64(off + m.nameOff))
			atomic.LoadUint64(m.u64(m.bufOff(s, 0) + m.dataOff))
			atomic.LoadUint64(m.u64(m.bufOff(s, 1) + m.dataOff))
		}
	}
}
