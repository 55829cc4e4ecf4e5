package shm

// Conditional writes through a LockGroup, with the rules of Memory's: a
// server runs one command either way and must answer alike.

// SetWith stages v as name's value under the conditions of o, as
// Memory.SetWith stores it. It returns the item as the group saw it before
// and whether v was staged.
func (g *LockGroup) SetWith(name []byte, v Value, o SetOptions) (old Item, stored bool, err error) {
	if old, err = g.Get(name); err != nil {
		return Item{}, false, err
	}
	if !o.allows(old.Found) {
		return old, false, nil
	}
	return old, true, g.Set(name, v)
}

// CompareAndSwap stages new if name's value equals old (see Value.Equal)
// and reports whether it did. A variable without a value never matches;
// unlike Memory.CompareAndSwap, that is not an error.
func (g *LockGroup) CompareAndSwap(name []byte, old, new Value) (bool, error) {
	cur, err := g.Get(name)
	if err != nil || !cur.Found || !cur.Value.Equal(old) {
		return false, err
	}
	return true, g.Set(name, new)
}

// MSet stages every pair or none, as Memory.MSet stores them: every value
// and every name is checked before the first is staged.
func (g *LockGroup) MSet(names [][]byte, vals []Value) error {
	for _, v := range vals {
		if err := g.m.checkValue(v); err != nil {
			return err
		}
	}
	for _, name := range names {
		if _, err := g.ref(name, true); err != nil {
			return err
		}
	}
	for i, name := range names {
		if err := g.Set(name, vals[i]); err != nil {
			return err
		}
	}
	return nil
}
