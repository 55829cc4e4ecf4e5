package server

import (
	"strings"
	"testing"
)

// TestKeyspaceNotificationsMatchRedis: notify-keyspace-events' letters
// read back, refuse and select as Redis 7's do, and the commands whose
// Redis events dsm's two ("set", "del") name alike notify the same
// channels with the same messages, in the same order, for channel and
// pattern subscribers.
func TestKeyspaceNotificationsMatchRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	both := func(args ...string) {
		t.Helper()
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
	for _, flags := range []string{"", "KEA", "AKE", "Kg", "E$", "Ag", "An", "g$lshzxetdn", "KEAm", "Km", "xyz", "K E", "KEg$"} {
		both("CONFIG", "SET", "notify-keyspace-events", flags)
		both("CONFIG", "GET", "notify-keyspace-events")
	}
	subT, subO := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range [][]string{{"PSUBSCRIBE", "__key*@0__:*"}, {"SUBSCRIBE", "__keyevent@0__:del", "__keyspace@0__:b"}} {
		if want, got := subT.do(args...), subO.do(args...); got != want {
			t.Fatalf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
		for range len(args) - 2 {
			if want, got := subT.reply(), subO.reply(); got != want {
				t.Fatalf("%q:\n dsm   %q\n redis %q", args, got, want)
			}
		}
	}
	// Each step's commands, then a write of the marker that closes what
	// they notified (under KEA): both sides are read up to it. The marker
	// exists from the start, so that it never takes the slot of a
	// variable just deleted: shm's feed reports each slot's latest state,
	// and a slot reused before the feed looked loses its deletion.
	both("SET", "marker", "start")
	for range 2 { // the pattern's keyspace and keyevent messages
		if want, got := subT.reply(), subO.reply(); got != want {
			t.Fatalf("the marker's first events:\n dsm   %q\n redis %q", got, want)
		}
	}
	for i, step := range [][][]string{
		{{"SET", "a", "1"}}, {{"SET", "b", "x"}}, {{"MSET", "c", "3", "d", "4"}}, {{"DEL", "a", "zz"}}, {{"GETDEL", "b"}},
		{{"SETNX", "e", "5"}}, {{"GETSET", "e", "6"}}, {{"SET", "c", "7", "GET"}}, {{"DEL", "c", "d", "e"}},
		{{"CONFIG", "SET", "notify-keyspace-events", "Kg"}, {"SET", "f", "1"}}, {{"DEL", "f"}},
		{{"CONFIG", "SET", "notify-keyspace-events", "E$"}, {"SET", "g", "1"}}, {{"DEL", "g"}},
	} {
		for _, args := range step {
			both(args...)
		}
		if step[0][0] == "CONFIG" {
			continue // the next step's events close this one's
		}
		both("CONFIG", "SET", "notify-keyspace-events", "KEA")
		marker := "marker" + itoa(i)
		both("SET", "marker", marker)
		var want, got []string
		for _, side := range []struct {
			sub *rawClient
			out *[]string
		}{{subT, &want}, {subO, &got}} {
			for n := 0; n < 100; n++ {
				msg := side.sub.reply()
				*side.out = append(*side.out, msg)
				if strings.Contains(msg, "__keyevent@0__:set") && strings.HasSuffix(msg, "\r\nmarker\r\n") {
					break
				}
			}
		}
		if strings.Join(got, "") != strings.Join(want, "") {
			t.Errorf("%q notified:\n dsm   %q\n redis %q", step, got, want)
		}
	}
	// Only the memory speaks there (Redis lets any client publish).
	for _, ch := range []string{"__keyspace@0__:a", "__keyevent@0__:set"} {
		if got := ours.do("PUBLISH", ch, "forged"); !strings.HasPrefix(got, "-ERR channel") {
			t.Errorf("PUBLISH %s = %q, want it refused", ch, got)
		}
	}
}
