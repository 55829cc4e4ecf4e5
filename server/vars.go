package server

import (
	"context"
	"errors"

	"github.com/dsm-dev/dsm/shm"
)

// varStore is what a variable command (GET, SET, INCR...) reads and writes
// through: the memory itself (memVars), or the variables a lock group holds
// (heldVars): the connection's own (LOCK) or the one EXEC takes, whose
// writes the caller commits. Each command has one handler over it
// (varHandler); the connection picks the store before it runs.
//
// Reads find nothing, without an error, for a name that is missing or that
// no variable can have, as in Redis.
type varStore interface {
	// AppendText appends name's value, as text, to dst.
	AppendText(dst, name []byte) ([]byte, bool, error)
	Get(name []byte) (shm.Item, error)
	Exists(name []byte) (bool, error)
	MGet(names [][]byte) ([]shm.Item, error)
	// Set stores v unconditionally, SetWith under o's conditions.
	Set(name []byte, v shm.Value) error
	SetWith(name []byte, v shm.Value, o shm.SetOptions) (old shm.Item, stored bool, err error)
	// MSet stores every pair (name, value as text, name...) or none.
	MSet(pairs [][]byte) error
	// MSetNX stores the pairs as MSet, all or none, only if no name has a
	// value, and reports whether it stored them.
	MSetNX(pairs [][]byte) (bool, error)
	Add(name []byte, delta int64) (int64, error)
	// CompareAndSwap reports false for a variable without a value.
	CompareAndSwap(name []byte, old, new shm.Value) (bool, error)
	// Delete removes the variables that have a value and counts them.
	Delete(names [][]byte) (int, error)
	// Update changes one variable by what it holds, atomically, and
	// returns what it held.
	Update(name []byte, f update) (shm.Item, error)
	// UpdateAll changes several different variables by what they hold,
	// all at once.
	UpdateAll(names [][]byte, f updates) error
	// UpdateVersion is Update that also returns the version the variable
	// has after it (given by the change, or its current one if f wrote
	// nothing; 0 if it has no value), for the versioned writes.
	UpdateVersion(name []byte, f update) (old shm.Item, version uint64, err error)
}

// varHandler runs a variable command through v.
type varHandler func(c *conn, v varStore, args [][]byte)

// memVars is the memory as a varStore: each call is one shm operation.
// It holds only a pointer, so making one allocates nothing.
type memVars struct{ m *shm.Memory }

func (v memVars) AppendText(dst, name []byte) ([]byte, bool, error) {
	dst, _, err := v.m.AppendText(dst, name)
	if absent(err) {
		return dst, false, nil
	}
	return dst, err == nil, err
}

func (v memVars) Get(name []byte) (shm.Item, error) {
	val, ver, err := v.m.Get(name)
	if absent(err) {
		return shm.Item{}, nil
	}
	return shm.Item{Value: val, Version: ver, Found: err == nil}, err
}

// Exists is shm's Exists, a name no variable can have being missing; a
// damaged value or a closed memory fails it.
func (v memVars) Exists(name []byte) (bool, error) {
	ok, err := v.m.Exists(name)
	if absent(err) {
		return false, nil
	}
	return ok, err
}

func (v memVars) MGet(names [][]byte) ([]shm.Item, error) { return v.m.MGet(names) }

func (v memVars) Set(name []byte, val shm.Value) error {
	_, err := v.m.Set(name, val)
	return err
}

func (v memVars) SetWith(name []byte, val shm.Value, o shm.SetOptions) (shm.Item, bool, error) {
	return v.m.SetWith(name, val, o)
}

// MSet keeps the slices for shm on the stack for the usual small MSET
// (redis-benchmark's has 10 pairs); append moves larger ones to the heap.
func (v memVars) MSet(pairs [][]byte) error {
	var nameBuf [16][]byte
	var valBuf [16]shm.Value
	names, vals := nameBuf[:0], valBuf[:0]
	for i := 0; i+1 < len(pairs); i += 2 {
		names = append(names, pairs[i])
		vals = append(vals, shm.ParseValue(pairs[i+1]))
	}
	return v.m.MSet(names, vals)
}

func (v memVars) Add(name []byte, delta int64) (int64, error) {
	n, _, err := v.m.Add(name, delta)
	return n, err
}

func (v memVars) CompareAndSwap(name []byte, old, new shm.Value) (bool, error) {
	ok, _, err := v.m.CompareAndSwap(name, old, new)
	if errors.Is(err, shm.ErrNotFound) {
		return false, nil
	}
	return ok, err
}

func (v memVars) Delete(names [][]byte) (int, error) { return v.m.Delete(names...) }

// heldVars is the variables a lock group holds, as a varStore: reads see
// the group's staged writes, writes are staged in it. A name it does not
// hold fails with the name (readLockedError), so that the reply can say
// which variable.
type heldVars struct {
	g       *shm.LockGroup
	nameMax int // the file's longest name
}

func (s *Server) heldVars(g *shm.LockGroup) *heldVars { return &heldVars{g: g, nameMax: s.nameMax} }

// possible reports whether some variable could have this name.
func (v *heldVars) possible(name []byte) bool {
	return len(name) > 0 && len(name) <= v.nameMax
}

// fail words an error of an operation on name: ErrNotHeld for a name no
// variable can have is the name's own error, and for another name means
// that the group holds it for reading only (the callers route through a
// group only the names it holds).
func (v *heldVars) fail(name []byte, err error) error {
	switch {
	case err == nil || !errors.Is(err, shm.ErrNotHeld):
		return err
	case len(name) == 0:
		return shm.ErrEmptyName
	case len(name) > v.nameMax:
		return shm.ErrNameTooLong
	}
	return &readLockedError{name: name}
}

func (v *heldVars) AppendText(dst, name []byte) ([]byte, bool, error) {
	it, err := v.Get(name)
	if err != nil || !it.Found {
		return dst, false, err
	}
	return it.Value.AppendText(dst), true, nil
}

func (v *heldVars) Get(name []byte) (shm.Item, error) {
	if !v.possible(name) {
		return shm.Item{}, nil
	}
	it, err := v.g.Get(name)
	return it, v.fail(name, err)
}

func (v *heldVars) Exists(name []byte) (bool, error) {
	it, err := v.Get(name)
	return it.Found, err
}

func (v *heldVars) MGet(names [][]byte) ([]shm.Item, error) {
	items := make([]shm.Item, len(names))
	for i, name := range names {
		var err error
		if items[i], err = v.Get(name); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func (v *heldVars) Set(name []byte, val shm.Value) error {
	return v.fail(name, v.g.Set(name, val))
}

func (v *heldVars) SetWith(name []byte, val shm.Value, o shm.SetOptions) (shm.Item, bool, error) {
	old, stored, err := v.g.SetWith(name, val, o)
	return old, stored, v.fail(name, err)
}

// MSet names the first variable it cannot write when the group refuses
// them.
func (v *heldVars) MSet(pairs [][]byte) error {
	names := make([][]byte, 0, len(pairs)/2)
	vals := make([]shm.Value, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		names = append(names, pairs[i])
		vals = append(vals, shm.ParseValue(pairs[i+1]))
	}
	err := v.g.MSet(names, vals)
	if !errors.Is(err, shm.ErrNotHeld) {
		return err
	}
	for _, name := range names {
		if !v.g.Holds(name) || !v.g.Write() {
			return v.fail(name, err)
		}
	}
	return err
}

func (v *heldVars) Add(name []byte, delta int64) (int64, error) {
	n, err := v.g.Add(name, delta)
	return n, v.fail(name, err)
}

func (v *heldVars) CompareAndSwap(name []byte, old, new shm.Value) (bool, error) {
	ok, err := v.g.CompareAndSwap(name, old, new)
	return ok, v.fail(name, err)
}

// Delete stages the removal of each variable that has a value.
func (v *heldVars) Delete(names [][]byte) (int, error) {
	n := 0
	for _, name := range names {
		it, err := v.Get(name)
		if err == nil && it.Found {
			err = v.fail(name, v.g.Delete(name))
			n++
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readLockedError is a write to a variable the connection has locked for
// reading only.
type readLockedError struct{ name []byte }

func (e *readLockedError) Error() string {
	return "variable '" + clip(e.name) + "' is locked for reading by this connection: writing it needs LOCK WRITE"
}

// varError answers an error of a varStore.
func (c *conn) varError(err error) {
	var rl *readLockedError
	if errors.As(err, &rl) {
		c.fail("ERR " + rl.Error())
		return
	}
	c.memError(err)
}

// update is a read-modify-write of one variable (APPEND, SETRANGE,
// GETDEL): f gets the variable as it is and returns what to store, or
// write false to leave it. A write of no value (the zero Value) removes the
// variable. Nothing else writes the variable between the read and the
// write.
type update func(old shm.Item) (new shm.Value, write bool)

// Update runs f under a write lock of name alone, so that the change is
// one commit: published and logged as any other write.
func (v memVars) Update(name []byte, f update) (shm.Item, error) {
	g, err := v.m.Lock(context.Background(), [][]byte{name}, true, true)
	if err != nil {
		return shm.Item{}, err
	}
	defer g.Unlock()
	it, err := g.Get(name)
	if err != nil {
		return it, err
	}
	if err := applyUpdate(g, name, it, f); err != nil {
		return it, err
	}
	return it, g.Commit()
}

// Update stages f's change in the group.
func (v *heldVars) Update(name []byte, f update) (shm.Item, error) {
	it, err := v.Get(name)
	if err != nil {
		return it, err
	}
	return it, v.fail(name, applyUpdate(v.g, name, it, f))
}

func applyUpdate(g *shm.LockGroup, name []byte, it shm.Item, f update) error {
	nv, write := f(it)
	switch {
	case !write:
		return nil
	case nv.Valid():
		return g.Set(name, nv)
	case it.Found:
		return g.Delete(name)
	}
	return nil
}

// MSetNX stores every pair (as MSet) only if none of the names has a
// value, under one write lock group of them all, and reports whether it
// stored.
func (v memVars) MSetNX(pairs [][]byte) (bool, error) {
	names := make([][]byte, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		names = append(names, pairs[i])
	}
	g, err := v.m.Lock(context.Background(), names, true, true)
	if err != nil {
		return false, err
	}
	defer g.Unlock()
	stored, err := (&heldVars{g: g, nameMax: v.m.Limits().NameMax}).MSetNX(pairs)
	if !stored || err != nil {
		return false, err
	}
	return true, g.Commit()
}

// MSetNX stages the pairs if none of the names has a value.
func (v *heldVars) MSetNX(pairs [][]byte) (bool, error) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if it, err := v.Get(pairs[i]); err != nil || it.Found {
			return false, err
		}
	}
	return true, v.MSet(pairs)
}

// updates is a read-modify-write of several variables at once (RENAME,
// COPY): f gets each name's variable and returns what to store in each
// (the zero Value removes it), or write false to leave them all.
type updates func(old []shm.Item) (new []shm.Value, write bool)

// UpdateAll runs f under one write lock group of the names (which must
// differ), so that its changes are one commit.
func (v memVars) UpdateAll(names [][]byte, f updates) error {
	g, err := v.m.Lock(context.Background(), names, true, true)
	if err != nil {
		return err
	}
	defer g.Unlock()
	if err := (&heldVars{g: g, nameMax: v.m.Limits().NameMax}).UpdateAll(names, f); err != nil {
		return err
	}
	return g.Commit()
}

// UpdateAll stages f's changes in the group.
func (v *heldVars) UpdateAll(names [][]byte, f updates) error {
	old := make([]shm.Item, len(names))
	for i, name := range names {
		var err error
		if old[i], err = v.Get(name); err != nil {
			return err
		}
	}
	vals, write := f(old)
	if !write {
		return nil
	}
	for i, name := range names {
		var err error
		switch {
		case vals[i].Valid():
			err = v.Set(name, vals[i])
		case old[i].Found:
			err = v.fail(name, v.g.Delete(name))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
