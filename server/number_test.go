package server

import "testing"

func TestParseUint(t *testing.T) {
	if u, ok := parseUint([]byte("0018446744073709551615")); !ok || u != 1<<64-1 {
		t.Errorf("parseUint max = %d, %v", u, ok)
	}
	if _, ok := parseUint([]byte("18446744073709551616")); ok {
		t.Errorf("parseUint overflow accepted")
	}
}
