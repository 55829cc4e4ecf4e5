package server

import (
	"bytes"
	"slices"

	"github.com/dsm-dev/dsm/internal/glob"
)

// PUBLISH and PUBSUB: a message bus on any channel, beside the memory's
// change channels. The channels only the memory speaks on are refused to
// PUBLISH: dsm's own (__dsm__:NAME) and Redis' keyspace notifications
// (__keyspace@DB__:NAME, __keyevent@DB__:EVENT), so that a subscriber can
// trust that a message there is a change.

// memoryChannel reports whether only the memory publishes on channel.
func memoryChannel(channel []byte) bool {
	for _, p := range []string{channelPrefix, "__keyspace@", "__keyevent@"} {
		if bytes.HasPrefix(channel, []byte(p)) {
			return true
		}
	}
	return false
}

// cmdPublish delivers a message to the channel's subscribers and to those
// of the patterns that match it, and answers how many received it.
func cmdPublish(c *conn, args [][]byte) {
	if memoryChannel(args[1]) {
		c.fail("ERR channel '" + clip(args[1]) + "' carries the memory's changes: only the memory publishes there")
		return
	}
	c.wr.Int(int64(c.s.live.hub.publish(string(args[1]), string(args[2]))))
}

// publish offers a message as Redis does: to the channel's subscribers,
// then to each pattern subscription that matches; it returns how many
// subscriptions received it.
func (h *hub) publish(channel, payload string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.publishLocked(channel, payload)
}

// publishLocked is publish with h.mu held.
func (h *hub) publishLocked(channel, payload string) int {
	n := 0
	for sub := range h.channels[channel] {
		sub.deliver("", channel, payload)
		n++
	}
	for pat, subs := range h.patterns {
		if !h.globs[pat].Match([]byte(channel)) {
			continue
		}
		for sub := range subs {
			sub.deliver(pat, channel, payload)
			n++
		}
	}
	return n
}

// pubsubChannels: PUBSUB CHANNELS [pattern] lists the channels that have
// a subscriber, those matching pattern if given, in name order.
func pubsubChannels(c *conn, args [][]byte) {
	if len(args) > 3 { // Redis' own check and wording: its arity is -2
		c.fail("ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.")
		return
	}
	var match *glob.Pattern
	if len(args) > 2 {
		var err error
		if match, err = glob.Compile(args[2], false, len(args[2])); err != nil {
			c.fail("ERR " + err.Error())
			return
		}
	}
	h := c.s.live.hub
	h.mu.Lock()
	var names []string
	for name := range h.channels {
		if match == nil || match.Match([]byte(name)) {
			names = append(names, name)
		}
	}
	h.mu.Unlock()
	slices.Sort(names)
	c.wr.Array(len(names))
	for _, name := range names {
		c.wr.BulkString(name)
	}
}

// pubsubNumSub: PUBSUB NUMSUB [channel...] answers each channel and its
// number of subscribers.
func pubsubNumSub(c *conn, args [][]byte) {
	h := c.s.live.hub
	counts := make([]int, len(args)-2)
	h.mu.Lock()
	for i, name := range args[2:] {
		counts[i] = len(h.channels[string(name)])
	}
	h.mu.Unlock()
	c.wr.Array(2 * len(counts))
	for i, name := range args[2:] {
		c.wr.Bulk(name)
		c.wr.Int(int64(counts[i]))
	}
}

// pubsubNumPat answers how many distinct patterns are subscribed to.
func pubsubNumPat(c *conn, args [][]byte) {
	h := c.s.live.hub
	h.mu.Lock()
	n := len(h.patterns)
	h.mu.Unlock()
	c.wr.Int(int64(n))
}

func pubsubCommand() *command {
	return container(
		&command{name: "pubsub", arity: -2, category: "pubsub", since: "2.8.0", summary: "Inspects the message bus: channels, subscribers, patterns."},
		&command{name: "channels", arity: -2, flags: flagMulti, since: "2.8.0", summary: "Lists the channels that have subscribers, matching a pattern if given.", args: []arg{argPattern("pattern").opt()}, run: pubsubChannels},
		&command{name: "numsub", arity: -2, flags: flagMulti, since: "2.8.0", summary: "Returns the number of subscribers of each channel.", args: []arg{argStr("channel").opt().many()}, run: pubsubNumSub},
		&command{name: "numpat", arity: 2, flags: flagMulti, since: "2.8.0", summary: "Returns the number of patterns subscribed to.", run: pubsubNumPat},
		&command{name: "help", arity: 2, since: "6.2.0", summary: "Lists the PUBSUB subcommands.", run: cmdHelp},
	)
}
