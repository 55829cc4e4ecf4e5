package shm

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
)

// Image copies every variable of the file at one instant: it takes the
// locks a whole-file write takes (see whole.go), with the same writer
// priority, reads every live variable (name, value, version) and lets
// go. Readers and writers of every process wait meanwhile, readers
// included, for as long as the copy takes, which grows with the file's
// capacity (every slot's lock is taken): a median of 15 ms for the
// default 65536 slots holding 10000 variables, on the 2-core test machine
// (BenchmarkImage, about 75000 Gets' time). What it returns is Install's input: Install
// of it into this file, or into a new file with the same seed and
// capacities, puts back exactly these variables.
//
// It fails with ErrDamaged, naming the slot, if a variable's value is
// damaged (see Check). It must not be called by a goroutine that holds a
// LockGroup.
func (m *Memory) Image(ctx context.Context) (Image, error) {
	if !m.enter() {
		return Image{}, ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.lockWhole(ctx); err != nil {
		return Image{}, err
	}
	defer m.unlockWhole(m.meta.vars)
	return m.imageLocked()
}

// imageLocked is Image's copy; the caller holds every lock (lockWhole).
func (m *Memory) imageLocked() (Image, error) {
	mt := &m.meta
	img := Image{Seed: mt.seed, Capacity: int(mt.vars), NameMax: int(mt.nameMax),
		ValueMax: int(mt.valueMax), GroupMax: int(mt.groupMax)}
	for s := uint32(0); s < mt.vars; s++ {
		state := atomic.LoadUint32(m.stateWord(s))
		if state&stateLive == 0 {
			continue
		}
		if err := m.nameDamage(s); err != nil {
			return Image{}, fmt.Errorf("image: %w", err)
		}
		it := m.readLocked(ref{slot: s, inc: state & incMask})
		if it.err != nil {
			return Image{}, fmt.Errorf("image: %w", it.err)
		}
		if it.Found {
			img.Vars = append(img.Vars, ImageVar{Name: bytes.Clone(m.name(s)), Value: it.Value, Version: it.Version})
		}
	}
	return img, nil
}
