package server

import (
	"strconv"
	"strings"
	"testing"
)

// TestPublishRefusesMemoryChannels: only the memory speaks on its change
// channels and on Redis' keyspace channels.
func TestPublishRefusesMemoryChannels(t *testing.T) {
	c := dialRaw(t, startServer(t, Config{}).addr)
	for _, ch := range []string{"__dsm__:x", "__keyspace@0__:x", "__keyevent@0__:set"} {
		if got := c.do("PUBLISH", ch, "forged"); !strings.HasPrefix(got, "-ERR channel '"+ch+"' carries the memory's changes") {
			t.Errorf("PUBLISH %s = %q, want a refusal", ch, got)
		}
	}
}

// TestPublishDeliversEvery: PUBLISHed messages are not coalesced as
// changes are: a burst arrives whole, in order.
func TestPublishDeliversEvery(t *testing.T) {
	ts := startServer(t, Config{})
	sub := dialRaw(t, ts.addr)
	sub.do("SUBSCRIBE", "bus")
	pub := dialRaw(t, ts.addr)
	const n = 200
	var burst strings.Builder
	for i := range n {
		burst.WriteString(encode("PUBLISH", "bus", strconv.Itoa(i)))
	}
	pub.send(burst.String())
	for i := range n {
		if got, want := sub.reply(), pushArray(false, "message", "bus", strconv.Itoa(i)); got != want {
			t.Fatalf("message %d = %q, want %q", i, got, want)
		}
	}
}
