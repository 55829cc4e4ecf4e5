package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ChannelPrefix starts the daemon's channel of every variable: the changes
// of x are published on "__dsm__:x", with the payload "VERSION VALUE",
// "VERSION" alone when x was deleted, or "VERSION!ERROR" when the daemon
// found x's value damaged in its file.
const ChannelPrefix = "__dsm__:"

// Change is one change of a variable, as a subscription delivers it.
type Change struct {
	// Name is the variable's name.
	Name string
	// Value is its new value as text (integers in decimal); empty when
	// Deleted.
	Value string
	// Version is its version after the change; it rises on every change.
	Version uint64
	// Deleted reports that the change deleted the variable.
	Deleted bool
	// Damage, if not empty, is the daemon's error naming the damage it
	// found in the variable's value instead of a value (dsm check names
	// it too); Value is then empty and Deleted false.
	Damage string
}

// ParseChange reads a change from a message of the daemon: the channel
// ("__dsm__:NAME") and the payload ("VERSION VALUE", "VERSION" or
// "VERSION!ERROR").
func ParseChange(channel, payload string) (Change, error) {
	name, ok := strings.CutPrefix(channel, ChannelPrefix)
	if !ok {
		return Change{}, fmt.Errorf("%w: channel %q is not a variable's", ErrInvalid, channel)
	}
	end := strings.IndexAny(payload, " !")
	if end < 0 {
		end = len(payload)
	}
	ver, err := strconv.ParseUint(payload[:end], 10, 64)
	if err != nil {
		return Change{}, fmt.Errorf("%w: payload %q has no version", ErrInvalid, payload)
	}
	ch := Change{Name: name, Version: ver}
	switch {
	case end == len(payload):
		ch.Deleted = true
	case payload[end] == '!':
		ch.Damage = payload[end+1:]
	default:
		ch.Value = payload[end+1:]
	}
	return ch, nil
}

// Subscription delivers changes. It owns a connection of its own to the
// node that was in use when it began (go-redis PubSub underneath, which
// reconnects to that node and subscribes again if the connection breaks;
// changes made while it was broken are not delivered). It does not move to
// another node: when its node is gone, Next fails with ErrUnreachable, and
// a new Subscribe finds a node that answers.
// It must be closed with Close. Next is for one goroutine at a time.
type Subscription struct {
	ps *redis.PubSub
}

// Subscribe delivers the changes of the named variables. It returns once
// the daemon confirmed every subscription, so every change after that is
// delivered.
func (c *Client) Subscribe(ctx context.Context, names ...string) (*Subscription, error) {
	return c.subscribe(ctx, "subscribe", names, (*redis.Client).Subscribe)
}

// PSubscribe delivers the changes of every variable whose name matches one
// of the glob patterns (* ? [abc]).
func (c *Client) PSubscribe(ctx context.Context, patterns ...string) (*Subscription, error) {
	return c.subscribe(ctx, "psubscribe", patterns, (*redis.Client).PSubscribe)
}

func (c *Client) subscribe(ctx context.Context, op string, names []string,
	open func(*redis.Client, context.Context, ...string) *redis.PubSub) (*Subscription, error) {
	if len(names) == 0 {
		return nil, &Error{Op: op, Kind: ErrInvalid, Err: fmt.Errorf("no variable named")}
	}
	channels := make([]string, len(names))
	for i, n := range names {
		channels[i] = ChannelPrefix + n
	}
	var ps *redis.PubSub
	// Subscribing twice is harmless, so it is repeated as a read is.
	err := c.read(ctx, op, strings.Join(names, " "), func(r *redis.Client) error {
		ps = open(r, ctx, channels...)
		if err := confirm(ctx, ps, len(channels)); err != nil {
			ps.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Subscription{ps: ps}, nil
}

// confirm waits for the daemon to confirm n subscriptions on ps.
func confirm(ctx context.Context, ps *redis.PubSub, n int) error {
	for confirmed := 0; confirmed < n; {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Subscription); ok {
			confirmed++
		}
	}
	return nil
}

// Next waits for the next change, until ctx ends.
func (s *Subscription) Next(ctx context.Context) (Change, error) {
	for {
		msg, err := s.ps.ReceiveMessage(ctx)
		if err != nil {
			return Change{}, wrapErr("subscription", "", err)
		}
		if ch, err := ParseChange(msg.Channel, msg.Payload); err == nil {
			return ch, nil
		}
	}
}

// Close ends the subscription and closes its connection.
func (s *Subscription) Close() error {
	return s.ps.Close()
}
