package shm_test

import (
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		in    string
		isInt bool
		n     int64
	}{
		{"42", true, 42},
		{"-7", true, -7},
		{"0", true, 0},
		{"9223372036854775807", true, 1<<63 - 1},
		{"-9223372036854775808", true, -1 << 63},
		{"9223372036854775808", false, 0},
		{"042", false, 0},
		{"+1", false, 0},
		{" 1", false, 0},
		{"1 ", false, 0},
		{"-0", false, 0},
		{"", false, 0},
		{"1e3", false, 0},
		{"0x10", false, 0},
		{"abc", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v := shm.ParseValue([]byte(tt.in))
			if v.IsInt() != tt.isInt {
				t.Fatalf("IsInt = %v, want %v", v.IsInt(), tt.isInt)
			}
			if v.String() != tt.in {
				t.Errorf("String = %q, want %q", v.String(), tt.in)
			}
			n, ok := v.Int()
			if ok != tt.isInt || (ok && n != tt.n) {
				t.Errorf("Int = %d, %v; want %d, %v", n, ok, tt.n, tt.isInt)
			}
			if !v.Valid() {
				t.Error("not Valid")
			}
		})
	}
}

func TestValueEqual(t *testing.T) {
	tests := []struct {
		a, b shm.Value
		want bool
	}{
		{shm.Int(5), shm.Int(5), true},
		{shm.Int(5), shm.Bytes([]byte("5")), true},
		{shm.Bytes([]byte("-5")), shm.Int(-5), true},
		{shm.Int(5), shm.Bytes([]byte("05")), false},
		{shm.Int(5), shm.Int(6), false},
		{shm.Bytes([]byte("a")), shm.Bytes([]byte("a")), true},
		{shm.Bytes(nil), shm.Bytes([]byte{}), true},
		{shm.Value{}, shm.Value{}, true},
		{shm.Value{}, shm.Bytes(nil), false},
		{shm.Value{}, shm.Int(0), false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%#v.Equal(%#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Equal(tt.a); got != tt.want {
			t.Errorf("Equal is not symmetric for %#v, %#v", tt.a, tt.b)
		}
	}
	if (shm.Value{}).Valid() {
		t.Error("the zero Value is Valid")
	}
	if got := string(shm.Int(-12).AppendText([]byte("n="))); got != "n=-12" {
		t.Errorf("AppendText = %q", got)
	}
}

// TestParseInt: the integers Redis takes, and nothing else.
func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "-1": -1, "42": 42, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := shm.ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("shm.ParseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1e3", "99999999999999999999"} {
		if _, ok := shm.ParseInt([]byte(s)); ok {
			t.Errorf("shm.ParseInt(%q) accepted", s)
		}
	}
}
