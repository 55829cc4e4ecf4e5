package server

import "strconv"

// parseInt parses a canonical decimal int64 as Redis' string2ll does: an
// optional '-', no '+', no leading zeros, no spaces, no "-0".
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	d := b
	if neg {
		d = b[1:]
	}
	if len(d) == 0 || d[0] == '0' && (len(d) > 1 || neg) {
		return 0, false
	}
	u, ok := parseDigits(d)
	switch {
	case !ok, neg && u > 1<<63, !neg && u > 1<<63-1:
		return 0, false
	case neg:
		return -int64(u-1) - 1, true
	}
	return int64(u), true
}

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
