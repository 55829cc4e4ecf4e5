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
	err := c.read(ctx, "get", name, func(r *redis.Client) (err error) {
		v, err = r.Get(ctx, name).Result()
		return err
	})
	return v, err
}

// Set stores value in the variable name, creating it if needed. A value
// that is a canonical decimal integer ("42", "-7") is stored as an integer.
func (c *Client) Set(ctx context.Context, name, value string) error {
	return c.write(ctx, "set", name, func(r *redis.Client) error {
		return r.Set(ctx, name, value, 0).Err()
	})
}

// Add adds delta to the integer variable name (created at 0 if missing) and
// returns the new value. It fails with ErrNotInteger if the value is not an
// integer and with ErrOverflow if the sum does not fit in 64 bits.
func (c *Client) Add(ctx context.Context, name string, delta int64) (int64, error) {
	var n int64
	err := c.write(ctx, "add", name, func(r *redis.Client) (err error) {
		n, err = r.IncrBy(ctx, name, delta).Result()
		return err
	})
	return n, err
}

// CAS sets the variable name to new if its value is old (compared as text,
// so "5" matches the integer 5), and reports whether it did. It is the
// daemon's command CAS key expected new.
func (c *Client) CAS(ctx context.Context, name, old, new string) (bool, error) {
	var ok bool
	err := c.write(ctx, "cas", name, func(r *redis.Client) (err error) {
		ok, err = cas(ctx, r, name, old, new)
		return err
	})
	return ok, err
}

// MGet returns the variables names, in order, read at one instant. Missing
// variables come back with Found false.
func (c *Client) MGet(ctx context.Context, names ...string) ([]Item, error) {
	if err := checkNames("mget", names); err != nil {
		return nil, err
	}
	var items []Item
	err := c.read(ctx, "mget", "", func(r *redis.Client) (err error) {
		items, err = mget(ctx, r, names)
		return err
	})
	return items, err
}

// MSet stores several variables at once, all or none: nameValues alternates
// names and values ("a", "1", "b", "2").
func (c *Client) MSet(ctx context.Context, nameValues ...string) error {
	if err := checkPairs(nameValues); err != nil {
		return err
	}
	return c.write(ctx, "mset", "", func(r *redis.Client) error {
		return mset(ctx, r, nameValues)
	})
}

// Del deletes the variables names and returns how many existed.
func (c *Client) Del(ctx context.Context, names ...string) (int64, error) {
	if err := checkNames("del", names); err != nil {
		return 0, err
	}
	var n int64
	err := c.write(ctx, "del", "", func(r *redis.Client) (err error) {
		n, err = r.Del(ctx, names...).Result()
		return err
	})
	return n, err
}

// The bodies of the commands that Client and Locked share, over a pooled
// client or the one connection that holds the locks. They return
// go-redis' errors as they are, for the caller to classify and name.

// doer is go-redis' Do, which its Client and Conn have and Cmdable lacks.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

func cas(ctx context.Context, r doer, name, old, new string) (bool, error) {
	n, err := r.Do(ctx, "CAS", name, old, new).Int64()
	return n == 1, err
}

func checkNames(op string, names []string) error {
	if len(names) == 0 {
		return &Error{Op: op, Kind: ErrInvalid, Err: fmt.Errorf("no names")}
	}
	return nil
}

func checkPairs(nameValues []string) error {
	if len(nameValues) == 0 || len(nameValues)%2 != 0 {
		return &Error{Op: "mset", Kind: ErrInvalid, Err: fmt.Errorf("want name value pairs, got %d arguments", len(nameValues))}
	}
	return nil
}

// mget runs MGET on r and turns the reply into items.
func mget(ctx context.Context, r redis.Cmdable, names []string) ([]Item, error) {
	vals, err := r.MGet(ctx, names...).Result()
	if err != nil {
		return nil, err
	}
	if len(vals) != len(names) {
		return nil, fmt.Errorf("daemon returned %d values for %d names", len(vals), len(names))
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
	args := make([]any, len(nameValues))
	for i, s := range nameValues {
		args[i] = s
	}
	return r.MSet(ctx, args...).Err()
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
	var walked *redis.Client // the node's pool that the cursor belongs to
	for {
		var keys []string
		err := c.read(ctx, "list", pattern, func(r *redis.Client) (err error) {
			// A cursor means nothing to another node: the walk starts
			// over there.
			if r != walked {
				walked, cursor, names = r, 0, nil
			}
			keys, cursor, err = r.Scan(ctx, cursor, pattern, scanCount).Result()
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
// It is the escape hatch for commands this package has no method for. As
// the Client cannot tell whether the command writes, it repeats it only
// when it was certainly not applied.
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, &Error{Op: "do", Kind: ErrInvalid, Err: fmt.Errorf("no command")}
	}
	var v any
	err := c.write(ctx, fmt.Sprint(args[0]), "", func(r *redis.Client) (err error) {
		v, err = r.Do(ctx, args...).Result()
		if err == redis.Nil {
			return nil
		}
		return err
	})
	return v, err
}
