package server

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/resp"
	"github.com/dsm-dev/dsm/shm"
)

// channelPrefix starts the channel of every variable: the changes of x are
// published on "__dsm__:x".
const channelPrefix = "__dsm__:"

// pushOverhead is what one pending message costs besides its strings,
// counted against Config.OutputLimit.
const pushOverhead = 64

// hub fans the memory's changes out to the subscribers. While anybody
// subscribes, one goroutine reads shm's change feed (which reports the
// changes of every process, without polling, and rescans when its ring
// overflowed) and offers each change to the subscribers whose channels or
// patterns match. Nobody subscribing, no feed is open, so writers pay
// nothing for it.
//
// Lock order: hub.mu, then subscriber.mu.
type hub struct {
	s *Server

	mu       sync.Mutex // guards the fields below
	channels map[string]map[*subscriber]bool
	patterns map[string]map[*subscriber]bool
	globs    map[string]*glob.Pattern // each key of patterns, compiled
	count    int                      // subscriptions, channels and patterns, of every connection
	run      *feedRun                 // the feed reader, nil while count is 0
	taps     map[*tap]bool            // in-process observers of every change (observe.go), counted in count
	gone     map[string]struct{}      // variables whose deletion was notified (keyspace.go)

	peak atomic.Int64 // the most bytes pending for one subscriber at once, the message that crossed the limit included (tests read it)
}

// feedRun is one life of the feed reader.
type feedRun struct{ cancel context.CancelFunc }

func newHub(s *Server) *hub {
	return &hub{
		s: s, channels: map[string]map[*subscriber]bool{},
		patterns: map[string]map[*subscriber]bool{}, globs: map[string]*glob.Pattern{},
		gone: map[string]struct{}{},
	}
}

// index returns the map of channels or of patterns.
func (h *hub) index(pattern bool) map[string]map[*subscriber]bool {
	if pattern {
		return h.patterns
	}
	return h.channels
}

// add subscribes sub to a channel, or to a pattern when g is the pattern
// compiled, and returns sub's count of subscriptions. It starts the feed
// reader if none runs, and returns only once the feed is open, so every
// change after the reply is delivered.
func (h *hub) add(sub *subscriber, name string, g *glob.Pattern) (int, error) {
	pattern := g != nil
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.startLocked(); err != nil {
		return 0, err
	}
	if !sub.add(name, pattern) {
		return sub.count(), nil
	}
	idx := h.index(pattern)
	if idx[name] == nil {
		idx[name] = map[*subscriber]bool{}
		if pattern {
			h.globs[name] = g
		}
	}
	idx[name][sub] = true
	h.count++
	return sub.count(), nil
}

// remove unsubscribes sub and returns its count of subscriptions left. The
// feed reader stops with the last subscription.
func (h *hub) remove(sub *subscriber, name string, pattern bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.remove(name, pattern) {
		idx := h.index(pattern)
		delete(idx[name], sub)
		if len(idx[name]) == 0 {
			delete(idx, name)
			delete(h.globs, name)
		}
		h.count--
	}
	if h.count == 0 && h.run != nil {
		h.run.cancel()
		h.run = nil
	}
	return sub.count()
}

// startLocked starts the feed reader unless it runs.
func (h *hub) startLocked() error {
	if h.run != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(h.s.live.ctx)
	run := &feedRun{cancel: cancel}
	ready := make(chan error, 1)
	if !h.s.goFunc(func() { h.read(ctx, run, ready) }) {
		cancel()
		return errShuttingDown
	}
	if err := <-ready; err != nil {
		cancel()
		return err
	}
	h.run = run
	return nil
}

// read is the feed reader: it opens the feed, says so on ready, and fans
// out what the feed reports until ctx ends.
func (h *hub) read(ctx context.Context, run *feedRun, ready chan<- error) {
	guardFaults()
	defer h.s.recoverFault()
	f, err := h.s.mem.Feed()
	ready <- err
	if err != nil {
		return
	}
	defer f.Close()
	for {
		changes, err := f.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.s.log.Error("change feed failed; subscribers get no more changes until they subscribe again", "err", err)
				h.forget(run)
			}
			return
		}
		h.fanOut(run, changes)
	}
}

// forget drops a feed reader that ended by itself, so the next
// subscription starts a new one.
func (h *hub) forget(run *feedRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run == run {
		h.run = nil
	}
}

// fanOut offers each change to the subscribers of its channel and of the
// patterns that match it. A reader that was stopped delivers nothing.
func (h *hub) fanOut(run *feedRun, changes []shm.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run != run {
		return
	}
	h.tapLocked(changes)
	var name []byte // the channel's bytes; one buffer for all changes
	notify := h.s.notify.Load()
	for _, ch := range changes {
		if notify != 0 {
			h.notifyLocked(notify, ch)
		}
		name = append(append(name[:0], channelPrefix...), ch.Name...)
		// The channel and payload strings are made only for a change that
		// some subscriber gets.
		var channel, payload string
		if subs := h.channels[string(name)]; len(subs) > 0 {
			channel, payload = string(name), changePayload(ch)
			for sub := range subs {
				sub.offer("", channel, payload)
			}
		}
		for pat, subs := range h.patterns {
			if !h.globs[pat].Match(name) {
				continue
			}
			if payload == "" {
				channel, payload = string(name), changePayload(ch)
			}
			for sub := range subs {
				sub.offer(pat, channel, payload)
			}
		}
	}
}

// changePayload is a change as its message carries it: the version, a
// space and the value in text (integers in decimal) when the variable has a
// value; the version, "!" and the error when its value is damaged (shm's
// ErrDamaged, naming the slot); the version alone when it was deleted.
func changePayload(ch shm.Change) string {
	it := ch.Item
	b := strconv.AppendUint(nil, it.Version, 10)
	switch {
	case ch.Err != nil:
		b = append(append(b, '!'), ch.Err.Error()...)
	case it.Found:
		b = append(b, ' ')
		b = it.Value.AppendText(b)
	}
	return string(b)
}

// subscriber is one subscribed connection's side of the hub: its
// subscriptions, the messages pending for it (at most one per channel and
// pattern: a newer change replaces an older one that was not sent yet, so a
// slow reader may miss intermediate values but always gets the latest), and
// the goroutine that writes them to the socket.
//
// The pusher writes whole messages with one Write each, and the connection's
// goroutine writes whole replies; net.Conn (and tls.Conn) keep concurrent
// Writes whole. While the connection changes its subscriptions it pauses
// the pusher, so that a confirmation is on the wire before any message of
// the new channel and no message follows an unsubscription's confirmation.
type subscriber struct {
	c     *conn
	nc    net.Conn // the connection's transport
	limit int      // Config.OutputLimit: pending bytes allowed
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{} // closed when the pusher ends

	writeMu sync.Mutex // held by the pusher while it writes

	mu       sync.Mutex // guards the fields below
	channels map[string]bool
	patterns map[string]bool
	armed    bool // the pusher may write
	monitor  bool // the connection is in MONITOR mode: its lines go out too
	resp3    bool
	pending  []pushMsg
	index    map[pushKey]int // position in pending
	bytes    int             // pending and in flight
	cut      bool            // the limit was exceeded: the connection is being closed
}

type pushKey struct{ pattern, channel string }

// pushMsg is a message waiting to be written; pattern is empty for a
// message of a channel subscription, and both pattern and channel for a
// MONITOR line (monitor.go), whose payload is sent as a status reply.
type pushMsg struct{ pattern, channel, payload string }

func (m pushMsg) monitorLine() bool { return m.pattern == "" && m.channel == "" }

func (m pushMsg) size() int { return len(m.pattern) + len(m.channel) + len(m.payload) + pushOverhead }

func (sub *subscriber) add(name string, pattern bool) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	set := sub.set(pattern)
	if set[name] {
		return false
	}
	set[name] = true
	sub.counted()
	return true
}

func (sub *subscriber) remove(name string, pattern bool) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	set := sub.set(pattern)
	if !set[name] {
		return false
	}
	delete(set, name)
	sub.counted()
	return true
}

// counted publishes the counts for CLIENT LIST; sub.mu is held.
func (sub *subscriber) counted() {
	sub.c.live.channels.Store(int32(len(sub.channels)))
	sub.c.live.patterns.Store(int32(len(sub.patterns)))
}

func (sub *subscriber) set(pattern bool) map[string]bool {
	if pattern {
		return sub.patterns
	}
	return sub.channels
}

func (sub *subscriber) count() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return len(sub.channels) + len(sub.patterns)
}

// names lists the channels or patterns, sorted.
func (sub *subscriber) names(pattern bool) []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var out []string
	for n := range sub.set(pattern) {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// offer queues a message, replacing a pending one of the same channel and
// pattern. A subscriber whose pending messages would exceed the output
// limit is cut off: its connection is closed.
func (sub *subscriber) offer(pattern, channel, payload string) {
	sub.enqueue(pushMsg{pattern, channel, payload}, true)
}

// deliver queues a PUBLISHed message: unlike a change, it replaces none
// pending, as Redis delivers every message.
func (sub *subscriber) deliver(pattern, channel, payload string) {
	sub.enqueue(pushMsg{pattern, channel, payload}, false)
}

// enqueue queues m, replacing the pending message of its channel and
// pattern if latest is set and there is one.
func (sub *subscriber) enqueue(m pushMsg, latest bool) {
	sub.mu.Lock()
	if sub.cut {
		sub.mu.Unlock()
		return
	}
	pattern, channel, payload := m.pattern, m.channel, m.payload
	k := pushKey{pattern, channel}
	if i, ok := sub.index[k]; ok && latest {
		sub.bytes += len(payload) - len(sub.pending[i].payload)
		sub.pending[i].payload = payload
	} else {
		if latest {
			sub.index[k] = len(sub.pending)
		}
		sub.pending = append(sub.pending, m)
		sub.bytes += m.size()
	}
	if peak := &sub.c.s.live.hub.peak; int64(sub.bytes) > peak.Load() {
		peak.Store(int64(sub.bytes))
	}
	over := sub.bytes > sub.limit
	if over {
		sub.cut = true
		sub.pending, sub.index = nil, nil
	}
	sub.mu.Unlock()
	if over {
		sub.c.s.stats.outputLimit.Add(1)
		sub.c.s.log.Warn("subscriber closed: output buffer limit", "addr", sub.c.remote, "id", sub.c.id, "limit", sub.limit)
		sub.c.raw.Close()
		return
	}
	sub.signal()
}

func (sub *subscriber) signal() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// take hands the pending messages of channels and patterns still
// subscribed to the pusher, unless it is paused. Their bytes stay counted
// until sent.
func (sub *subscriber) take() ([]pushMsg, bool, int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.armed || sub.cut || len(sub.pending) == 0 {
		return nil, false, 0
	}
	batch := sub.pending[:0:0]
	size := 0
	for _, m := range sub.pending {
		size += m.size()
		if m.monitorLine() && sub.monitor || m.pattern == "" && sub.channels[m.channel] || m.pattern != "" && sub.patterns[m.pattern] {
			batch = append(batch, m)
		}
	}
	sub.pending = nil
	clear(sub.index)
	return batch, sub.resp3, size
}

func (sub *subscriber) sent(size int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.bytes -= size
}

// push is the pusher goroutine: it writes pending messages whenever there
// are some and it is not paused, until stopped or a write fails (a client
// that does not read for Config.WriteTimeout), which closes the connection.
func (sub *subscriber) push() {
	defer close(sub.done)
	w := resp.NewWriter(nil, keepOutput) // encodes only: write sends its bytes
	for {
		select {
		case <-sub.wake:
		case <-sub.stop:
			return
		case <-sub.c.s.quit: // the connection's end may have been cut short (a storage fault)
			return
		}
		batch, resp3, size := sub.take()
		if size == 0 {
			continue
		}
		var err error
		if len(batch) > 0 {
			encodeMessages(w, batch, resp3)
			err = sub.write(w.Bytes())
		}
		sub.sent(size)
		w.Reset()
		if err != nil {
			sub.c.raw.Close()
			return
		}
	}
}

// encodeMessages writes the messages as Redis does: "message" or
// "pmessage" arrays in RESP2, pushes in RESP3.
func encodeMessages(w *resp.Writer, batch []pushMsg, resp3 bool) {
	if resp3 {
		w.SetProtocol(3)
	} else {
		w.SetProtocol(2)
	}
	for _, m := range batch {
		if m.monitorLine() {
			w.Simple(m.payload)
			continue
		}
		n := 3
		if m.pattern != "" {
			n = 4
		}
		if resp3 {
			w.Push(n)
		} else {
			w.Array(n)
		}
		if m.pattern != "" {
			w.BulkString("pmessage")
			w.BulkString(m.pattern)
		} else {
			w.BulkString("message")
		}
		w.BulkString(m.channel)
		w.BulkString(m.payload)
	}
}

func (sub *subscriber) write(b []byte) error {
	sub.writeMu.Lock()
	defer sub.writeMu.Unlock()
	if t := sub.c.s.cfg.WriteTimeout; t > 0 {
		sub.nc.SetWriteDeadline(time.Now().Add(t))
	}
	n, err := sub.nc.Write(b)
	sub.c.s.stats.netOut.Add(int64(n))
	return err
}

// pause stops the pusher from starting a write and waits for the one in
// flight.
func (sub *subscriber) pause() {
	sub.mu.Lock()
	sub.armed = false
	sub.mu.Unlock()
	sub.writeMu.Lock()
	//lint:ignore SA2001 taking writeMu is the wait for the write in flight
	sub.writeMu.Unlock()
}

// resume lets the pusher write again, in the connection's protocol.
func (sub *subscriber) resume(resp3 bool) {
	sub.mu.Lock()
	sub.armed, sub.resp3 = true, resp3
	sub.mu.Unlock()
	sub.signal()
}

// subscriber returns the connection's subscriber, starting its pusher on
// first use.
func (c *conn) subscriber() (*subscriber, error) {
	if c.live.sub != nil {
		return c.live.sub, nil
	}
	sub := &subscriber{
		c: c, nc: c.nc, limit: c.s.cfg.OutputLimit,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		channels: map[string]bool{}, patterns: map[string]bool{}, index: map[pushKey]int{},
	}
	if !c.s.goFunc(sub.push) {
		return nil, errShuttingDown
	}
	c.live.sub = sub
	return sub, nil
}

// endSubscriber stops the pusher once the connection has no subscription
// left (or ends), and leaves the hub.
func (c *conn) endSubscriber() {
	sub := c.live.sub
	if sub == nil {
		return
	}
	for _, pattern := range []bool{false, true} {
		for _, n := range sub.names(pattern) {
			c.s.live.hub.remove(sub, n, pattern)
		}
	}
	close(sub.stop)
	<-sub.done
	c.live.sub = nil
}

func cmdSubscribe(c *conn, args [][]byte)  { c.subscribe(args[1:], false) }
func cmdPSubscribe(c *conn, args [][]byte) { c.subscribe(args[1:], true) }

// subscribe adds the channels or patterns and confirms each, then sends the
// confirmations before letting any message of them out. Patterns are
// compiled first: if one can match no channel, none is added.
func (c *conn) subscribe(names [][]byte, pattern bool) {
	var globs []*glob.Pattern
	if pattern {
		var msg string
		if globs, msg = c.compileChannelPatterns(names); msg != "" {
			c.fail(msg)
			return
		}
	}
	sub, err := c.subscriber()
	if err != nil {
		c.fail(msgClosing)
		return
	}
	sub.pause()
	kind := "subscribe"
	if pattern {
		kind = "psubscribe"
	}
	for i, n := range names {
		var g *glob.Pattern
		if pattern {
			g = globs[i]
		}
		count, err := c.s.live.hub.add(sub, string(n), g)
		if err != nil {
			c.fail(msgClosing)
			break
		}
		c.pubsubReply(kind, n, count)
	}
	c.flush()
	sub.resume(c.wr.Protocol() == 3)
}

// compileChannelPatterns compiles PSUBSCRIBE's patterns, or refuses them
// if one has more elements other than '*' than the longest channel has
// bytes: it could match nothing, and the bound caps what the feed reader
// pays to match one change.
func (c *conn) compileChannelPatterns(names [][]byte) ([]*glob.Pattern, string) {
	longest := len(channelPrefix) + c.s.nameMax
	globs := make([]*glob.Pattern, len(names))
	for i, n := range names {
		var err error
		if globs[i], err = glob.Compile(n, false, longest); err != nil {
			return nil, "ERR pattern can match no channel: it has more than " + itoa(longest) +
				" elements other than '*', and channels are at most " + itoa(longest) + " bytes"
		}
	}
	return globs, ""
}

func cmdUnsubscribe(c *conn, args [][]byte)  { c.unsubscribe(args[1:], false) }
func cmdPUnsubscribe(c *conn, args [][]byte) { c.unsubscribe(args[1:], true) }

// unsubscribe removes the channels or patterns named (all of them if none
// is) and confirms each; with none to remove it confirms with a null
// channel, as Redis does.
func (c *conn) unsubscribe(names [][]byte, pattern bool) {
	kind := "unsubscribe"
	if pattern {
		kind = "punsubscribe"
	}
	sub := c.live.sub
	if sub == nil {
		c.unsubscribeIdle(kind, names)
		return
	}
	sub.pause()
	if len(names) == 0 {
		for _, n := range sub.names(pattern) {
			names = append(names, []byte(n))
		}
	}
	count := sub.count()
	for _, n := range names {
		count = c.s.live.hub.remove(sub, string(n), pattern)
		c.pubsubReply(kind, n, count)
	}
	if len(names) == 0 {
		c.pubsubReply(kind, nil, count)
	}
	if count == 0 && !c.monitoring {
		c.endSubscriber()
		return
	}
	c.flush()
	sub.resume(c.wr.Protocol() == 3)
}

// unsubscribeIdle answers an unsubscription of a connection that has no
// subscription.
func (c *conn) unsubscribeIdle(kind string, names [][]byte) {
	if len(names) == 0 {
		c.pubsubReply(kind, nil, 0)
	}
	for _, n := range names {
		c.pubsubReply(kind, n, 0)
	}
}

// pubsubReply writes a confirmation: [kind, name, count], a push in RESP3.
// A nil name is a null.
func (c *conn) pubsubReply(kind string, name []byte, count int) {
	if c.wr.Protocol() == 3 {
		c.wr.Push(3)
	} else {
		c.wr.Array(3)
	}
	c.wr.BulkString(kind)
	if name == nil {
		c.wr.Null()
	} else {
		c.wr.Bulk(name)
	}
	c.wr.Int(int64(count))
}

// subscribedRESP2 reports whether the connection is in RESP2's subscribed
// context, where only the subscription commands, PING and QUIT run.
func (c *conn) subscribedRESP2() bool {
	return c.live.sub != nil && c.wr.Protocol() == 2 && c.live.channels.Load()+c.live.patterns.Load() > 0
}

// pubsubPing answers PING in RESP2's subscribed context: ["pong", message].
func (c *conn) pubsubPing(args [][]byte) {
	c.wr.Array(2)
	c.wr.BulkString("pong")
	if len(args) > 1 {
		c.wr.Bulk(args[1])
	} else {
		c.wr.BulkString("")
	}
}

// pubsubCount reports, for INFO, how many connections subscribe.
func (s *Server) pubsubCount() int {
	n := 0
	for _, c := range s.connsByID() {
		if c.live.channels.Load()+c.live.patterns.Load() > 0 {
			n++
		}
	}
	return n
}

// subscribed reports whether anybody subscribes.
func (h *hub) subscribed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count > 0
}
