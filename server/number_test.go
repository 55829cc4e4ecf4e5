package server

import "testing"

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "-1": -1, "42": 42, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := parseInt([]byte(s)); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1e3", "99999999999999999999"} {
		if _, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) accepted", s)
		}
	}
	if u, ok := parseUint([]byte("0018446744073709551615")); !ok || u != 1<<64-1 {
		t.Errorf("parseUint max = %d, %v", u, ok)
	}
	if _, ok := parseUint([]byte("18446744073709551616")); ok {
		t.Errorf("parseUint overflow accepted")
	}
}
