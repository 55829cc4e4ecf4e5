package server

import "strconv"

// parseUint parses decimal digits (leading zeros allowed, no sign) into a
// uint64, as Redis parses a SCAN cursor.
func parseUint(b []byte) (uint64, bool) {
	u, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	return u, true
}

func appendUint(dst []byte, u uint64) []byte { return strconv.AppendUint(dst, u, 10) }

func itoa(n int) string { return strconv.Itoa(n) }
