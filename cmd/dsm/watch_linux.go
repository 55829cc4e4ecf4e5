package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/shm"
)

// localWatch reads shm's change feed of the file, which reports the
// changes of every process, without polling and without a daemon.
type localWatch struct {
	m        *shm.Memory
	feed     *shm.Feed
	names    map[string]bool
	patterns []*glob.Pattern
	queue    []client.Change
}

func watchLocal(path string, names []string) (*localWatch, error) {
	l, err := openLocal(path, false)
	if err != nil {
		return nil, err
	}
	plain, patterns := splitPatterns(names)
	w := &localWatch{m: l.m, names: map[string]bool{}}
	for _, n := range plain {
		w.names[n] = true
	}
	// Compiled once, as the daemon compiles PSUBSCRIBE's patterns, and
	// refused with its wording when they can match no name.
	nameMax := l.m.Limits().NameMax
	for _, p := range patterns {
		g, err := glob.Compile([]byte(p), false, nameMax)
		if err != nil {
			l.Close()
			return nil, &client.Error{Op: "watch", Kind: client.ErrInvalid, Err: fmt.Errorf(
				"pattern can match no name: it has more than %d elements other than '*', and names are at most %d bytes", nameMax, nameMax)}
		}
		w.patterns = append(w.patterns, g)
	}
	if w.feed, err = l.m.Feed(); err != nil {
		l.Close()
		return nil, localErr("watch", path, err)
	}
	return w, nil
}

func (w *localWatch) wants(name string) bool {
	if w.names[name] {
		return true
	}
	for _, p := range w.patterns {
		if p.Match([]byte(name)) {
			return true
		}
	}
	return false
}

func (w *localWatch) Next(ctx context.Context) (client.Change, error) {
	for len(w.queue) == 0 {
		changes, err := w.feed.Next(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return client.Change{}, err
			}
			return client.Change{}, localErr("watch", "", err)
		}
		for _, ch := range changes {
			if name := string(ch.Name); w.wants(name) {
				c := client.Change{Name: name, Version: ch.Item.Version}
				switch {
				case ch.Err != nil:
					c.Damage = ch.Err.Error()
				case ch.Item.Found:
					c.Value = ch.Item.Value.String()
				default:
					c.Deleted = true
				}
				w.queue = append(w.queue, c)
			}
		}
	}
	ch := w.queue[0]
	w.queue = w.queue[1:]
	return ch, nil
}

func (w *localWatch) Close() error {
	w.feed.Close()
	return w.m.Close()
}
