package main

import (
	"sync"
	"sync/atomic"
)

// tableSize is how many objects of one kind (open files, variable
// handles, lock groups) a process holds at once.
const tableSize = 1 << 16

// A table gives C callers numbers for Go objects: no Go pointer crosses
// into C. A number is the object's index in the table in its low 16 bits
// and a generation in the bits above, so that a number that was closed is
// refused rather than taken for the object that reuses its index. Lookups
// take no lock: one atomic load and a comparison, on the path of every
// call.
type table[T any] struct {
	mu    sync.Mutex // guards free, gen
	free  []uint32   // indexes not in use, after the first next
	next  uint32     // indexes below next have been used once
	gen   uint64     // generations handed out so far
	slots [tableSize]atomic.Pointer[entry[T]]
}

type entry[T any] struct {
	id  uint64
	val *T
}

// add stores v and returns its number, or false if the table is full.
// Numbers are never 0.
func (t *table[T]) add(v *T) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	switch {
	case len(t.free) > 0:
		i = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
	case t.next < tableSize:
		i = t.next
		t.next++
	default:
		return 0, false
	}
	t.gen++
	id := t.gen<<16 | uint64(i)
	t.slots[i].Store(&entry[T]{id: id, val: v})
	return id, true
}

// get returns the object numbered id, or nil.
func (t *table[T]) get(id uint64) *T {
	e := t.slots[id&(tableSize-1)].Load()
	if e == nil || e.id != id {
		return nil
	}
	return e.val
}

// remove takes id out of the table and returns its object, or nil if id
// is not (or no longer) there; of two concurrent removes one wins.
func (t *table[T]) remove(id uint64) *T {
	i := uint32(id & (tableSize - 1))
	e := t.slots[i].Load()
	if e == nil || e.id != id || !t.slots[i].CompareAndSwap(e, nil) {
		return nil
	}
	t.mu.Lock()
	t.free = append(t.free, i)
	t.mu.Unlock()
	return e.val
}
