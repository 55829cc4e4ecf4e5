package client

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Item is one variable in the result of MGet.
type Item struct {
	// Name is the variable's name.
	Name string
	// Value is the variable's value as text (integers in decimal); empty
	// when Found is false.
	Value string
	// Found reports whether the variable exists.
	Found bool
}

// scanCount is the COUNT hint List gives each SCAN step.
const scanCount = 1000

// Get returns the value of the variable name, as text (integers in
// decimal). It fails with ErrNotFound if there is no such variable.
func (c *Client) Get(ctx context.Context, name string) (string, error) {
	var v string
	err := c.read(ctx, "get", name, func() (err error) {
		v, err = c.rdb.Get(ctx, name).Result()
		return err
	})
	return v, err
}

// Set stores value in the variable name, creating it if needed. A value
// that is a canonical decimal integer ("42", "-7") is stored as an integer.
func (c *Client) Set(ctx context.Context, name, value string) error {
	return wrapErr("set", name, c.rdb.Set(ctx, name, value, 0).Err())
}

// Add adds delta to the integer variable name (created at 0 if missing) and
// returns the new value. It fails with ErrNotInteger if the value is not an
// integer and with ErrOverflow if the sum does not fit in 64 bits.
func (c *Client) Add(ctx context.Context, name string, delta int64) (int64, error) {
	n, err := c.rdb.IncrBy(ctx, name, delta).Result()
	return n, wrapErr("add", name, err)
}

// CAS sets the variable name to new if its value is old (compared as text,
// so "5" matches the integer 5), and reports whether it did. It is the
// daemon's command CAS key expected new.
func (c *Client) CAS(ctx context.Context, name, old, new string) (bool, error) {
	return cas(ctx, c.rdb, name, old, new)
}

// MGet returns the variables names, in order, read at one instant. Missing
// variables come back with Found false.
func (c *Client) MGet(ctx context.Context, names ...string) ([]Item, error) {
	return mget(ctx, c.rdb, names, func(do func() error) error { return c.read(ctx, "mget", "", do) })
}

// MSet stores several variables at once, all or none: nameValues alternates
// names and values ("a", "1", "b", "2").
func (c *Client) MSet(ctx context.Context, nameValues ...string) error {
	return mset(ctx, c.rdb, nameValues)
}

// Del deletes the variables names and returns how many existed.
func (c *Client) Del(ctx context.Context, names ...string) (int64, error) {
	return del(ctx, c.rdb, names)
}

// The bodies of the commands that Client and Locked share, over a pooled
// client or the one connection that holds the locks.

// doer is go-redis' Do, which its Client and Conn have and Cmdable lacks.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

func cas(ctx context.Context, r doer, name, old, new string) (bool, error) {
	n, err := r.Do(ctx, "CAS", name, old, new).Int64()
	return n == 1, wrapErr("cas", name, err)
}

// mget checks names, runs MGET on r through wrap (which may retry it and
// names its errors) and turns the reply into items.
func mget(ctx context.Context, r redis.Cmdable, names []string, wrap func(func() error) error) ([]Item, error) {
	if len(names) == 0 {
		return nil, &Error{Op: "mget", Kind: ErrInvalid, Err: fmt.Errorf("no names")}
	}
	var vals []any
	err := wrap(func() (err error) {
		vals, err = r.MGet(ctx, names...).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(vals) != len(names) {
		return nil, &Error{Op: "mget", Err: fmt.Errorf("daemon returned %d values for %d names", len(vals), len(names))}
	}
	items := make([]Item, len(names))
	for i, v := range vals {
		items[i] = Item{Name: names[i]}
		items[i].Value, items[i].Found = text(v)
	}
	return items, nil
}

// text renders one element of an array reply as a value.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	default:
		return fmt.Sprint(v), true
	}
}

func mset(ctx context.Context, r redis.Cmdable, nameValues []string) error {
	if len(nameValues) == 0 || len(nameValues)%2 != 0 {
		return &Error{Op: "mset", Kind: ErrInvalid, Err: fmt.Errorf("want name value pairs, got %d arguments", len(nameValues))}
	}
	args := make([]any, len(nameValues))
	for i, s := range nameValues {
		args[i] = s
	}
	return wrapErr("mset", "", r.MSet(ctx, args...).Err())
}

func del(ctx context.Context, r redis.Cmdable, names []string) (int64, error) {
	if len(names) == 0 {
		return 0, &Error{Op: "del", Kind: ErrInvalid, Err: fmt.Errorf("no names")}
	}
	n, err := r.Del(ctx, names...).Result()
	return n, wrapErr("del", "", err)
}

// List returns the names of the variables that match the glob pattern
// (Redis' syntax: *, ?, [abc], \x; empty means every name), sorted. It walks
// the daemon with SCAN, so it does not block other clients; a variable
// created or deleted during the walk may or may not be listed.
func (c *Client) List(ctx context.Context, pattern string) ([]string, error) {
	if pattern == "" {
		pattern = "*"
	}
	var names []string
	var cursor uint64
	for {
		var keys []string
		err := c.read(ctx, "list", pattern, func() (err error) {
			keys, cursor, err = c.rdb.Scan(ctx, cursor, pattern, scanCount).Result()
			return err
		})
		if err != nil {
			return nil, err
		}
		names = append(names, keys...)
		if cursor == 0 {
			break
		}
	}
	// SCAN may return a name twice when the table changes under it.
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Do sends any command to the daemon and returns its reply as go-redis
// decodes it (string, int64, []any, map[any]any, nil for a null reply...).
// It is the escape hatch for commands this package has no method for.
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, &Error{Op: "do", Kind: ErrInvalid, Err: fmt.Errorf("no command")}
	}
	v, err := c.rdb.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, nil
	}
	return v, wrapErr(fmt.Sprint(args[0]), "", err)
}
