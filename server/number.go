package server

import "strconv"

// parseUint parses decimal digits (leading zeros allowed) into a uint64, as
// Redis parses a SCAN cursor.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	return parseDigits(b)
}

// parseDigits parses a run of decimal digits, failing on anything else or
// on overflow.
func parseDigits(d []byte) (uint64, bool) {
	var u uint64
	for _, ch := range d {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		digit := uint64(ch - '0')
		if u > (1<<64-1-digit)/10 {
			return 0, false
		}
		u = u*10 + digit
	}
	return u, true
}

func appendUint(dst []byte, u uint64) []byte { return strconv.AppendUint(dst, u, 10) }

func itoa(n int) string { return strconv.Itoa(n) }
