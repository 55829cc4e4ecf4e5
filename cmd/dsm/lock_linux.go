package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/shm"
)

// lockedLocal runs commands through a lock group of the file; each command
// commits at once.
type lockedLocal struct {
	l *local
	g *shm.LockGroup
}

// lockLocal locks spec's names in the file that st (local mode) maps.
func lockLocal(ctx context.Context, st store, spec lockSpec) (heldStore, error) {
	l, ok := st.(*local)
	if !ok {
		return nil, fmt.Errorf("lock: unsupported store %T", st)
	}
	// -wait 0 (a negative Wait) tries once: a group tries every lock before
	// it looks at its context, which has then already ended.
	ctx, cancel := context.WithTimeout(ctx, max(spec.opts.Wait, 0))
	defer cancel()
	g, err := l.m.Lock(ctx, bytesOf(spec.names), !spec.opts.Read, true)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, &client.Error{Op: "lock", Name: strings.Join(spec.names, " "), Kind: client.ErrLockTimeout}
	}
	if err != nil {
		return nil, localErr("lock", strings.Join(spec.names, " "), err)
	}
	return &lockedLocal{l: l, g: g}, nil
}

// commit makes a command's staged writes visible.
func (h *lockedLocal) commit(op, name string, err error) error {
	if err == nil {
		err = h.g.Commit()
	}
	return localErr(op, name, err)
}

func (h *lockedLocal) Get(_ context.Context, name string) (string, uint64, error) {
	it, err := h.g.Get([]byte(name))
	if err == nil && !it.Found {
		err = shm.ErrNotFound
	}
	if err != nil {
		return "", 0, localErr("get", name, err)
	}
	return it.Value.String(), it.Version, nil
}

func (h *lockedLocal) Set(_ context.Context, name, value string) error {
	return h.commit("set", name, h.g.Set([]byte(name), shm.ParseValue([]byte(value))))
}

func (h *lockedLocal) Add(_ context.Context, name string, delta int64) (int64, error) {
	n, err := h.g.Add([]byte(name), delta)
	return n, h.commit("add", name, err)
}

func (h *lockedLocal) CAS(_ context.Context, name, old, new string) (bool, error) {
	it, err := h.g.Get([]byte(name))
	if err != nil || !it.Found || !it.Value.Equal(shm.ParseValue([]byte(old))) {
		return false, localErr("cas", name, err)
	}
	return true, h.commit("cas", name, h.g.Set([]byte(name), shm.ParseValue([]byte(new))))
}

func (h *lockedLocal) MGet(_ context.Context, names ...string) ([]client.Item, error) {
	items := make([]client.Item, len(names))
	for i, n := range names {
		it, err := h.g.Get([]byte(n))
		if err != nil {
			return nil, localErr("mget", n, err)
		}
		items[i] = client.Item{Name: n, Found: it.Found}
		if it.Found {
			items[i].Value = it.Value.String()
		}
	}
	return items, nil
}

func (h *lockedLocal) MSet(_ context.Context, nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if err := h.g.Set([]byte(nameValues[i]), shm.ParseValue([]byte(nameValues[i+1]))); err != nil {
			h.abandon()
			return localErr("mset", nameValues[i], err)
		}
	}
	return h.commit("mset", "", nil)
}

// abandon drops staged writes after a failed command. A group commits or
// discards only as a whole, so a failed multi-variable write ends the
// session's locks: the caller stops at the first failure anyway.
func (h *lockedLocal) abandon() { h.g.Unlock() }

func (h *lockedLocal) Del(_ context.Context, names ...string) (int64, error) {
	var n int64
	for _, name := range names {
		it, err := h.g.Get([]byte(name))
		if err == nil && it.Found {
			err = h.g.Delete([]byte(name))
			n++
		}
		if err != nil {
			h.abandon()
			return n, localErr("del", name, err)
		}
	}
	return n, h.commit("del", "", nil)
}

func (h *lockedLocal) List(context.Context, string) ([]string, error) {
	return nil, errWhileLocked("list")
}

func (h *lockedLocal) Status(context.Context) (*status, error) {
	return nil, errWhileLocked("info")
}

func (h *lockedLocal) Where() string { return h.l.Where() }

func (h *lockedLocal) Unlock(context.Context) error {
	h.g.Unlock()
	return nil
}

func (h *lockedLocal) Close() error { return h.Unlock(context.Background()) }
