// Package glob matches names against Redis' glob patterns, for the
// daemon's KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET and for the dsm
// command's local mode.
package glob

// Match reports whether s matches pattern with Redis' glob rules
// (KEYS, SCAN MATCH, CONFIG GET): '*' any run, '?' any byte, '[abc]',
// '[^abc]' and '[a-z]' classes, '\' escapes the next byte. Unlike Redis'
// recursive matcher it backtracks only to the last '*', so it takes
// O(len(pattern)*len(s)) time whatever the pattern.
func Match(pattern, s []byte, nocase bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) && pattern[p] == '*' {
			for p < len(pattern) && pattern[p] == '*' {
				p++
			}
			if p == len(pattern) {
				return true
			}
			starP, starI = p, i
			continue
		}
		if p < len(pattern) {
			if n, ok := matchOne(pattern[p:], s[i], nocase); ok {
				p += n
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches one byte against the pattern element at the start of
// pattern and returns the element's length.
func matchOne(pattern []byte, ch byte, nocase bool) (int, bool) {
	switch pattern[0] {
	case '?':
		return 1, true
	case '[':
		return matchClass(pattern, ch, nocase)
	case '\\':
		if len(pattern) >= 2 {
			return 2, equalByte(pattern[1], ch, nocase)
		}
	}
	return 1, equalByte(pattern[0], ch, nocase)
}

// matchClass matches ch against "[...]" at the start of pattern. An
// unterminated class ends with the pattern, as in Redis.
func matchClass(pattern []byte, ch byte, nocase bool) (int, bool) {
	i := 1
	negate := i < len(pattern) && pattern[i] == '^'
	if negate {
		i++
	}
	match := false
	for i < len(pattern) && pattern[i] != ']' {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			match = match || equalByte(pattern[i+1], ch, nocase)
			i += 2
		case i+2 < len(pattern) && pattern[i+1] == '-':
			match = match || inRange(pattern[i], pattern[i+2], ch, nocase)
			i += 3
		default:
			match = match || equalByte(pattern[i], ch, nocase)
			i++
		}
	}
	if i < len(pattern) {
		i++ // the closing ']'
	}
	return i, match != negate
}

func inRange(lo, hi, ch byte, nocase bool) bool {
	if lo > hi {
		lo, hi = hi, lo
	}
	if nocase {
		lo, hi, ch = lower(lo), lower(hi), lower(ch)
	}
	return lo <= ch && ch <= hi
}

func equalByte(a, b byte, nocase bool) bool {
	return a == b || nocase && lower(a) == lower(b)
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
