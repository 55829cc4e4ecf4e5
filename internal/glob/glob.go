// Package glob matches names against Redis' glob patterns, for the
// daemon's KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET and for the dsm
// command's local mode.
//
// The rules are those of Redis' stringmatch: '*' any run of bytes, '?' any
// byte, '[abc]', '[^abc]' and '[a-z]' classes (a range may be written
// backwards; an unterminated class ends with the pattern), '\' escapes the
// next byte, inside a class too.
//
// A pattern is compiled once: every element other than '*' (a '?', a class,
// an escaped or plain byte) becomes an atom, the set of the 256 bytes it
// accepts, and the runs of '*' cut the atoms into segments. An atom matches
// exactly one byte of a name, so a pattern of n atoms needs names of at
// least n bytes; Compile refuses one that needs more than a bound the caller
// gives (the longest name there can be) before it allocates for it.
// Matching costs one bit test per atom tried, however many bytes the
// pattern spells a class with, and never the exponential time of a
// recursive matcher: the head and tail are compared in place, and each
// middle segment is found at its leftmost place, by trying each place for
// a short segment and with shift-and (a word operation per 64 atoms and
// byte) for a long one; at worst about (64 + atoms/64) x len(name).
package glob

import "errors"

// ErrTooLong is returned by Compile for a pattern with more atoms (elements
// other than '*') than the longest name has bytes: it can match no name.
var ErrTooLong = errors.New("pattern needs more bytes than the longest name has")

// Pattern is a compiled pattern. It is read-only, so safe for concurrent use.
type Pattern struct {
	head []set     // the atoms before the first '*' (all of them if there is none)
	mid  []segment // the segments between two runs of '*'
	tail []set     // the atoms after the last '*'
	star bool      // the pattern has a '*'
	min  int       // the count of atoms: the shortest name that can match
}

// Compile compiles pattern, with nocase folding ASCII letters as Redis'
// CONFIG GET does. It returns ErrTooLong if the pattern has more than
// maxLen atoms, having read at most as many.
func Compile(pattern []byte, nocase bool, maxLen int) (*Pattern, error) {
	var atoms []set
	var cuts []int // where a run of '*' falls between atoms
	for i := 0; i < len(pattern); {
		if pattern[i] == '*' {
			for i < len(pattern) && pattern[i] == '*' {
				i++
			}
			cuts = append(cuts, len(atoms))
			continue
		}
		if len(atoms) == maxLen {
			return nil, ErrTooLong
		}
		a, n := parseAtom(pattern[i:], nocase)
		atoms = append(atoms, a)
		i += n
	}
	return split(atoms, cuts), nil
}

// split cuts the atoms into head, middle segments and tail.
func split(atoms []set, cuts []int) *Pattern {
	p := &Pattern{min: len(atoms), star: len(cuts) > 0}
	if !p.star {
		p.head = atoms
		return p
	}
	p.head, p.tail = atoms[:cuts[0]], atoms[cuts[len(cuts)-1]:]
	for k := 1; k < len(cuts); k++ {
		p.mid = append(p.mid, newSegment(atoms[cuts[k-1]:cuts[k]]))
	}
	return p
}

// Match reports whether name matches the pattern. The head must match the
// start of name and the tail its end; each middle segment is then taken at
// its leftmost place after the one before, which is as good as any later
// place, since the '*' after it absorbs what the segment skipped.
func (p *Pattern) Match(name []byte) bool {
	if !p.star {
		return len(name) == p.min && matchAt(p.head, name)
	}
	if len(name) < p.min || !matchAt(p.head, name) || !matchAt(p.tail, name[len(name)-len(p.tail):]) {
		return false
	}
	rest := name[len(p.head) : len(name)-len(p.tail)]
	for _, seg := range p.mid {
		i := seg.find(rest)
		if i < 0 {
			return false
		}
		rest = rest[i+len(seg.atoms):]
	}
	return true
}

// Atoms returns the pattern's count of atoms: each matches one byte of a
// name, so at most Atoms bit tests are made per byte of a name.
func (p *Pattern) Atoms() int { return p.min }

// Match reports whether s matches pattern: a one-off Compile and Match.
func Match(pattern, s []byte, nocase bool) bool {
	p, err := Compile(pattern, nocase, len(s))
	return err == nil && p.Match(s)
}

// matchAt reports whether the atoms match the start of s, which is at least
// as long.
func matchAt(atoms []set, s []byte) bool {
	for i := range atoms {
		if !atoms[i].has(s[i]) {
			return false
		}
	}
	return true
}

// segment is a run of atoms between two runs of '*'. A long one also
// carries shift-and tables, so that finding it costs a word operation per
// 64 atoms and name byte instead of a bit test per atom.
type segment struct {
	atoms []set
	words int      // 64-bit words per byte in masks; 0 for a short segment
	masks []uint64 // per byte value: bit j set if atom j accepts it
}

// shortSegment is the longest segment found by trying each place in turn:
// a try costs at most that many bit tests, and the places tried before a
// find are bytes the search never looks at again.
const shortSegment = 64

func newSegment(atoms []set) segment {
	g := segment{atoms: atoms}
	if len(atoms) <= shortSegment {
		return g
	}
	g.words = (len(atoms) + 63) / 64
	g.masks = make([]uint64, 256*g.words)
	for j := range atoms {
		for c := range 256 {
			if atoms[j].has(byte(c)) {
				g.masks[c*g.words+j/64] |= 1 << (j % 64)
			}
		}
	}
	return g
}

// find returns where the segment first matches in s, or -1.
func (g *segment) find(s []byte) int {
	if g.words == 0 {
		for i := 0; i+len(g.atoms) <= len(s); i++ {
			if matchAt(g.atoms, s[i:]) {
				return i
			}
		}
		return -1
	}
	return g.shiftAnd(s)
}

// shiftAnd is find for a long segment: bit j of the state says that the
// first j+1 atoms match the bytes just read, so a match of the whole
// segment ends where the last atom's bit comes up.
func (g *segment) shiftAnd(s []byte) int {
	var buf [64]uint64 // segments of up to 4096 atoms need no allocation
	var state []uint64
	if g.words <= len(buf) {
		state = buf[:g.words]
	} else {
		state = make([]uint64, g.words)
	}
	last := uint64(1) << ((len(g.atoms) - 1) % 64)
	for i, c := range s {
		m := g.masks[int(c)*g.words:][:g.words]
		carry := uint64(1) // a match may start at every byte
		for k := range state {
			next := state[k] >> 63
			state[k] = (state[k]<<1 | carry) & m[k]
			carry = next
		}
		if state[g.words-1]&last != 0 {
			return i + 1 - len(g.atoms)
		}
	}
	return -1
}

// parseAtom parses the element at the start of pattern, which is not '*',
// and returns its set and length.
func parseAtom(pattern []byte, nocase bool) (set, int) {
	var a set
	switch {
	case pattern[0] == '?':
		a.addRange(0, 255)
		return a, 1
	case pattern[0] == '[':
		return parseClass(pattern, nocase)
	case pattern[0] == '\\' && len(pattern) >= 2:
		a.add(pattern[1], pattern[1], nocase)
		return a, 2
	}
	a.add(pattern[0], pattern[0], nocase)
	return a, 1
}

// parseClass parses "[...]" at the start of pattern. An unterminated class
// ends with the pattern, as in Redis.
func parseClass(pattern []byte, nocase bool) (set, int) {
	var a set
	i := 1
	negate := i < len(pattern) && pattern[i] == '^'
	if negate {
		i++
	}
	for i < len(pattern) && pattern[i] != ']' {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			a.add(pattern[i+1], pattern[i+1], nocase)
			i += 2
		case i+2 < len(pattern) && pattern[i+1] == '-':
			lo, hi := pattern[i], pattern[i+2]
			a.add(min(lo, hi), max(lo, hi), nocase)
			i += 3
		default:
			a.add(pattern[i], pattern[i], nocase)
			i++
		}
	}
	if i < len(pattern) {
		i++ // the closing ']'
	}
	if negate {
		for w := range a {
			a[w] = ^a[w]
		}
	}
	return a, i
}

// set is a set of bytes, one bit each.
type set [4]uint64

func (a *set) has(b byte) bool { return a[b>>6]&(1<<(b&63)) != 0 }

// add adds the bytes lo through hi; with nocase, as Redis compares them,
// every byte whose lower case falls between the lower cases of lo and hi.
func (a *set) add(lo, hi byte, nocase bool) {
	if !nocase {
		a.addRange(int(lo), int(hi))
		return
	}
	l, h := int(lower(lo)), int(lower(hi))
	var r set
	r.addRange(l, h)
	r[1] &^= upperCase // an upper-case byte is in by its lower case only
	if from, to := max(l, 'a'), min(h, 'z'); from <= to {
		r.addRange(from-'a'+'A', to-'a'+'A')
	}
	for w := range a {
		a[w] |= r[w]
	}
}

// addRange adds the bytes lo through hi (none if lo > hi).
func (a *set) addRange(lo, hi int) {
	for w := range a {
		from, to := max(lo, w*64), min(hi, w*64+63)
		if from <= to {
			a[w] |= ^uint64(0) >> (63 - (to - from)) << (from - w*64)
		}
	}
}

// upperCase is the bits of 'A' through 'Z' in a set's second word.
const upperCase = (1<<26 - 1) << ('A' - 64)

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
