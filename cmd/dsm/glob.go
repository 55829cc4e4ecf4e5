package main

// globMatch reports whether name matches pattern in Redis' glob syntax
// (the one KEYS and SCAN MATCH use), so that local mode lists what the
// daemon would: * matches any run of bytes, ? one byte, [abc] [a-z] [^a]
// one byte of a set, and \x the byte x itself. Unlike path.Match, * also
// matches '/'.
//
// Every token but * consumes exactly one byte, so backtracking to the last
// * alone is enough, and the match takes O(len(pattern)*len(name)) steps
// whatever the pattern (no exponential blow-up on "*a*a*a*b").
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	starP, starN := -1, 0 // where to resume after the last *
	for n < len(name) {
		if p < len(pattern) {
			if pattern[p] == '*' {
				p++
				starP, starN = p, n
				continue
			}
			if next, ok := matchOne(pattern, p, name[n]); ok {
				p, n = next, n+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last * swallow one more byte and try again from there.
		starN++
		p, n = starP, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches the one-byte token at pattern[p] against c and returns
// the index after the token.
func matchOne(pattern string, p int, c byte) (int, bool) {
	switch pattern[p] {
	case '?':
		return p + 1, true
	case '[':
		return matchClass(pattern, p+1, c)
	case '\\':
		if p+1 < len(pattern) {
			return p + 2, pattern[p+1] == c
		}
	}
	return p + 1, pattern[p] == c
}

// matchClass matches c against the set that starts at pattern[p], just
// after '[', and returns the index after the closing ']' (or the end, for an
// unclosed set, as Redis treats it).
func matchClass(pattern string, p int, c byte) (int, bool) {
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	match := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			match = match || pattern[p+1] == c
			p += 2
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			match = match || (lo <= c && c <= hi)
			p += 3
		default:
			match = match || pattern[p] == c
			p++
		}
	}
	if p < len(pattern) {
		p++ // the ']'
	}
	return p, match != negate
}
