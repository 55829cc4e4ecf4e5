package shm

// A Handle is a variable resolved once, for hot paths: its operations skip
// the name lookup. If the variable is deleted, the handle resolves the name
// again on its next call. A Handle is safe for concurrent use.
type Handle struct {
	m      *Memory
	name   []byte
	create bool
	r      ref
}

// Handle resolves name. With create, a missing variable is created (with no
// value, so Get reports ErrNotFound until it is set); without, a missing
// variable is ErrNotFound.
func (m *Memory) Handle(name []byte, create bool) (*Handle, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	r, found, err := m.resolve(name, create)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	return &Handle{m: m, name: append([]byte(nil), name...), create: create, r: r}, nil
}

// Name is the handle's variable name.
func (h *Handle) Name() []byte { return h.name }

// Get returns the value and version, or ErrNotFound.
func (h *Handle) Get() (Value, uint64, error) {
	if h.m.closed.Load() {
		return Value{}, 0, ErrClosed
	}
	if it, ok := h.m.read(h.r); ok {
		if !it.Found {
			return Value{}, 0, ErrNotFound
		}
		return it.Value, it.Version, nil
	}
	return h.m.Get(h.name)
}

// update runs fn on the resolved slot, falling back to the name when the
// variable was deleted.
func (h *Handle) update(fn func(Item) (Value, bool, error)) (Item, error) {
	if h.m.closed.Load() {
		return Item{}, ErrClosed
	}
	if it, ok, err := h.m.updateRef(h.r, fn); ok {
		return it, err
	}
	return h.m.update(h.name, h.create, fn)
}

// Set stores v and returns the new version.
func (h *Handle) Set(v Value) (uint64, error) {
	if err := h.m.checkValue(v); err != nil {
		return 0, err
	}
	it, err := h.update(func(Item) (Value, bool, error) { return v, true, nil })
	return it.Version, err
}

// Add is Memory.Add on the handle's variable.
func (h *Handle) Add(delta int64) (int64, uint64, error) {
	var sum int64
	it, err := h.update(func(cur Item) (Value, bool, error) {
		var err error
		sum, err = addTo(cur, delta)
		return Int(sum), err == nil, err
	})
	return sum, it.Version, err
}

// CompareAndSwap is Memory.CompareAndSwap on the handle's variable.
func (h *Handle) CompareAndSwap(old, new Value) (bool, uint64, error) {
	if err := h.m.checkValue(new); err != nil {
		return false, 0, err
	}
	swapped := false
	it, err := h.update(func(cur Item) (Value, bool, error) {
		if !cur.Found {
			return Value{}, false, ErrNotFound
		}
		swapped = cur.Value.Equal(old)
		return new, swapped, nil
	})
	return swapped, it.Version, err
}
