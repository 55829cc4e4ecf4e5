package glob

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// refMatch is the matcher this package had before patterns were compiled
// (a star-backtracking loop that parses each element again on every try),
// kept as the reference the compiled one must agree with.
func refMatch(pattern, s []byte, nocase bool) bool {
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
			if n, ok := refOne(pattern[p:], s[i], nocase); ok {
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

func refOne(pattern []byte, ch byte, nocase bool) (int, bool) {
	switch pattern[0] {
	case '?':
		return 1, true
	case '[':
		return refClass(pattern, ch, nocase)
	case '\\':
		if len(pattern) >= 2 {
			return 2, refEqual(pattern[1], ch, nocase)
		}
	}
	return 1, refEqual(pattern[0], ch, nocase)
}

func refClass(pattern []byte, ch byte, nocase bool) (int, bool) {
	i := 1
	negate := i < len(pattern) && pattern[i] == '^'
	if negate {
		i++
	}
	match := false
	for i < len(pattern) && pattern[i] != ']' {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			match = match || refEqual(pattern[i+1], ch, nocase)
			i += 2
		case i+2 < len(pattern) && pattern[i+1] == '-':
			match = match || refRange(pattern[i], pattern[i+2], ch, nocase)
			i += 3
		default:
			match = match || refEqual(pattern[i], ch, nocase)
			i++
		}
	}
	if i < len(pattern) {
		i++
	}
	return i, match != negate
}

func refRange(lo, hi, ch byte, nocase bool) bool {
	if lo > hi {
		lo, hi = hi, lo
	}
	if nocase {
		lo, hi, ch = lower(lo), lower(hi), lower(ch)
	}
	return lo <= ch && ch <= hi
}

func refEqual(a, b byte, nocase bool) bool {
	return a == b || nocase && lower(a) == lower(b)
}

// TestMatchAgreesWithReference: on many small random patterns and names,
// built from the bytes that mean something to a glob, the compiled matcher
// answers as the reference does, with and without nocase.
func TestMatchAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const patternBytes, nameBytes = `ab*?[]^-\AZz`, `abABz-]\^*?[`
	gen := func(alphabet string, n int) []byte {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for range 200000 {
		pattern, s, nocase := gen(patternBytes, 8), gen(nameBytes, 8), rng.IntN(2) == 0
		if got, want := Match(pattern, s, nocase), refMatch(pattern, s, nocase); got != want {
			t.Fatalf("Match(%q, %q, %v) = %v, the reference says %v", pattern, s, nocase, got, want)
		}
	}
	// Longer ones over two letters, so that long segments match in part
	// and often: the leftmost place of each must be found.
	for range 5000 {
		pattern, s := gen("aab*?", 60), gen("aaab", 200)
		if got, want := Match(pattern, s, false), refMatch(pattern, s, false); got != want {
			t.Fatalf("Match(%q, %q) = %v, the reference says %v", pattern, s, got, want)
		}
	}
}

// TestLongSegmentsAgreeWithReference: patterns whose segments between
// stars are longer than shortSegment (found by shift-and) answer as the
// reference does, on names made to match them and on those names with a
// few bytes changed.
func TestLongSegmentsAgreeWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const atoms = "aaab?"
	for range 3000 {
		var pattern, name []byte
		for k := range 1 + rng.IntN(3) {
			if k > 0 || rng.IntN(2) == 0 {
				pattern = append(pattern, '*')
				for range rng.IntN(20) {
					name = append(name, "ab"[rng.IntN(2)])
				}
			}
			for range shortSegment - 10 + rng.IntN(150) {
				a := atoms[rng.IntN(len(atoms))]
				pattern = append(pattern, a)
				if a == '?' {
					a = "ab"[rng.IntN(2)]
				}
				name = append(name, a)
			}
		}
		if rng.IntN(2) == 0 {
			pattern = append(pattern, '*')
		}
		for range rng.IntN(4) {
			name[rng.IntN(len(name))] = "ab"[rng.IntN(2)]
		}
		if got, want := Match(pattern, name, false), refMatch(pattern, name, false); got != want {
			t.Fatalf("Match(%q, %q) = %v, the reference says %v", pattern, name, got, want)
		}
	}
}

// TestAtomsAgreeWithReference: every one-element pattern (classes with
// ranges, escapes and negation, over letters and the bytes around them)
// accepts exactly the bytes the reference accepts, all 256 of them.
func TestAtomsAgreeWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const classBytes = "@AMZ[\\]^_`amz{-\x00\xff"
	for range 5000 {
		b := make([]byte, 1+rng.IntN(6))
		for i := range b {
			b[i] = classBytes[rng.IntN(len(classBytes))]
		}
		pattern := append([]byte("["), b...)
		if rng.IntN(3) == 0 {
			pattern = []byte{b[0]} // a plain byte, or an escape of the next
			if b[0] == '\\' && len(b) > 1 {
				pattern = b[:2]
			}
		}
		for _, nocase := range []bool{false, true} {
			p, err := Compile(pattern, nocase, len(pattern))
			if err != nil {
				t.Fatalf("Compile(%q): %v", pattern, err)
			}
			for c := range 256 {
				s := []byte{byte(c)}
				if got, want := p.Match(s), refMatch(pattern, s, nocase); got != want {
					t.Fatalf("Match(%q, %q, %v) = %v, the reference says %v", pattern, s, nocase, got, want)
				}
			}
		}
	}
}

// FuzzMatch compares the compiled matcher with the reference.
func FuzzMatch(f *testing.F) {
	f.Add([]byte("*a*b*c*"), []byte("xxaxxbxxcxx"), false)
	f.Add([]byte(`a[\]]`), []byte("a]"), false)
	f.Add([]byte("a[B-C]"), []byte("ab"), true)
	f.Add([]byte("[^a-"), []byte("-"), false)
	f.Fuzz(func(t *testing.T, pattern, s []byte, nocase bool) {
		if len(pattern) > 64 || len(s) > 64 {
			return
		}
		if got, want := Match(pattern, s, nocase), refMatch(pattern, s, nocase); got != want {
			t.Fatalf("Match(%q, %q, %v) = %v, the reference says %v", pattern, s, nocase, got, want)
		}
	})
}

// TestCompileTooLong: a pattern with more atoms than the bound is refused,
// runs of '*' count for nothing, and a long class is one atom.
func TestCompileTooLong(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		maxLen  int
		err     error
	}{
		{strings.Repeat("?", 1<<20), 120, ErrTooLong},
		{strings.Repeat("a", 121), 120, ErrTooLong},
		{strings.Repeat("a", 120), 120, nil},
		{strings.Repeat("*a", 120) + "*", 120, nil},
		{strings.Repeat("*", 1<<20), 0, nil},
		{"[" + strings.Repeat("a-z", 1<<18) + "]", 1, nil},
		{`\*`, 1, nil},
		{`\*\*`, 1, ErrTooLong},
	} {
		if _, err := Compile([]byte(tc.pattern), false, tc.maxLen); !errors.Is(err, tc.err) {
			t.Errorf("Compile(%.20q... (%d bytes), %d) = %v, want %v", tc.pattern, len(tc.pattern), tc.maxLen, err, tc.err)
		}
	}
}
