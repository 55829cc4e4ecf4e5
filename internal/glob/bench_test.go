package glob

import (
	"strings"
	"testing"
)

// benchPatterns are patterns against names of the longest default length
// (120 bytes) and of the longest any file allows (4096): Redis' "long nested
// loops" regression pattern, a long literal run after a star (the
// worst case of trying each start), a 1 MiB character class, and the
// everyday prefix.
var benchPatterns = []struct{ name, pattern, s string }{
	{"nested/120", strings.Repeat("a*", 60) + "b", strings.Repeat("a", 120)},
	{"nested/4096", strings.Repeat("*a", 2047) + "b", strings.Repeat("a", 4096)},
	{"run/120", "*" + strings.Repeat("a", 60) + "b*", strings.Repeat("a", 120)},
	{"run/4096", "*" + strings.Repeat("a", 2048) + "b*", strings.Repeat("a", 4096)},
	{"class1MiB/120", "*[" + strings.Repeat("a", 1<<20) + "]b", strings.Repeat("a", 120)},
	{"prefix/16", "user:*", "user:12345678901"},
}

// BenchmarkMatch matches one name per operation with a pattern compiled
// once, as a scan does.
func BenchmarkMatch(b *testing.B) {
	for _, bp := range benchPatterns {
		b.Run(bp.name, func(b *testing.B) {
			p, err := Compile([]byte(bp.pattern), false, len(bp.s))
			if err != nil {
				b.Fatal(err)
			}
			s := []byte(bp.s)
			for b.Loop() {
				p.Match(s)
			}
		})
	}
}

// BenchmarkCompile compiles the 1 MiB class, which a scan pays once.
func BenchmarkCompile(b *testing.B) {
	pattern := []byte("*[" + strings.Repeat("a", 1<<20) + "]b")
	for b.Loop() {
		Compile(pattern, false, 120)
	}
}
