package server

import (
	"math/big"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// INCRBYFLOAT computes as Redis does on x86-64, in a C long double: a
// 64-bit mantissa, rounded to nearest even, which big.Float reproduces.
// Its text is Redis' too: 17 digits after the point, trailing zeros and
// point dropped, so that 10.5 plus 0.1 reads "10.6" as in Redis, where a
// float64 would read 10.59999999999999964.
const longDoublePrec = 64

const (
	msgNotFloat   = "ERR value is not a valid float"
	msgFloatRange = "ERR increment would produce NaN or Infinity"
)

// parseLongDouble reads a float as Redis' string2ld: no spaces, the whole
// text, not NaN.
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) > 5*1024 || b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r' {
		return nil, false
	}
	// big's base 0 also reads what strtold does not: digit separators
	// and binary or octal prefixes.
	s := strings.TrimLeft(string(b), "+-")
	if strings.Contains(s, "_") || len(s) > 1 && s[0] == '0' && strings.ContainsRune("bBoO", rune(s[1])) {
		return nil, false
	}
	f, _, err := big.ParseFloat(string(b), 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, true
}

// formatLongDouble writes f as Redis' ld2string in its human mode.
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// cmdIncrByFloat: INCRBYFLOAT key increment adds to a variable's value
// read as a float (created at 0), stores the sum as text and answers it.
func cmdIncrByFloat(c *conn, v varStore, args [][]byte) {
	incr, ok := parseLongDouble(args[2])
	msg, text := "", ""
	_, err := v.Update(args[1], func(old shm.Item) (shm.Value, bool) {
		sum := new(big.Float).SetPrec(longDoublePrec)
		if old.Found {
			cur, ok := parseLongDouble(old.Value.AppendText(nil))
			if !ok {
				msg = msgNotFloat
				return shm.Value{}, false
			}
			sum.Set(cur)
		}
		switch {
		case !ok:
			msg = msgNotFloat
			return shm.Value{}, false
		case incr.IsInf() || sum.IsInf():
			msg = msgFloatRange
			return shm.Value{}, false
		}
		sum.Add(sum, incr)
		if sum.IsInf() || tooLarge(sum) {
			msg = msgFloatRange
			return shm.Value{}, false
		}
		text = formatLongDouble(sum)
		return shm.ParseValue([]byte(text)), true
	})
	switch {
	case err != nil:
		c.varError(err)
	case msg != "":
		c.fail(msg)
	default:
		c.wr.BulkString(text)
	}
}

// tooLarge reports whether f is beyond a long double's range, where C's
// sum would be infinite.
func tooLarge(f *big.Float) bool { return f.MantExp(nil) > 16384 }
