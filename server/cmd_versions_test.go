package server

import (
	"testing"
)

// TestVersionedWrites: SETVER, INCRVER and CASVER on a single host answer
// the versions their writes gave, and errors in shm's words.
func TestVersionedWrites(t *testing.T) {
	ts := startServer(t, Config{})
	r := dialRaw(t, ts.addr)
	arr := func(parts ...string) string {
		s := "*" + itoa(len(parts)) + "\r\n"
		for _, p := range parts {
			s += p
		}
		return s
	}
	null := "$-1\r\n"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"SETVER", "x", "5"}, arr(integer(1), integer(1), integer(0), null)},
		{[]string{"SETVER", "x", "6", "NX"}, arr(integer(0), integer(1), integer(1), bulk("5"))},
		{[]string{"SETVER", "x", "7", "XX"}, arr(integer(1), integer(2), integer(1), bulk("5"))},
		{[]string{"INCRVER", "x", "3"}, arr(integer(10), integer(3))},
		{[]string{"INCRVER", "new", "-2"}, arr(integer(-2), integer(1))},
		{[]string{"SETVER", "nope", "1", "XX"}, arr(integer(0), integer(0), integer(0), null)},
		{[]string{"CASVER", "x", "VALUE", "9", "1"}, arr(integer(0), integer(3))},
		{[]string{"CASVER", "x", "VALUE", "10", "1"}, arr(integer(1), integer(4))},
		{[]string{"CASVER", "x", "VERSION", "4", "text"}, arr(integer(1), integer(5))},
		{[]string{"CASVER", "missing", "VALUE", "1", "2"}, "-ERR shm: no such variable\r\n"},
		{[]string{"INCRVER", "x", "1"}, "-ERR shm: value is not an integer\r\n"},
		{[]string{"SETVER", "x", "1", "GET"}, "-ERR syntax error\r\n"},
		{[]string{"CASVER", "x", "BOTH", "1", "2"}, "-ERR syntax error\r\n"},
	} {
		if got := r.do(tt.args...); got != tt.want {
			t.Errorf("%v = %q, want %q", tt.args, got, tt.want)
		}
	}
	if got, want := r.do("GETVER", "x"), arr(bulk("text"), integer(5)); got != want {
		t.Errorf("GETVER x = %q, want %q", got, want)
	}
}
