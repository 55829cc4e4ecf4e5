package shm

import (
	"bytes"
	"math"
	"strconv"
)

// Value is the content of a variable: a signed 64-bit integer or a byte
// string. The zero Value is no value (a variable that does not exist).
type Value struct {
	b    []byte
	n    int64
	kind uint8
}

// Int returns an integer Value.
func Int(n int64) Value { return Value{n: n, kind: kindInt} }

// Bytes returns a byte-string Value. It does not copy b; b must not change
// while the Value is in use.
func Bytes(b []byte) Value { return Value{b: b, kind: kindBytes} }

// ParseValue applies Redis' rule: text that is the canonical decimal form of
// an int64 ("42", "-7"; not "042", "+1", " 1" or "-0") becomes an integer,
// anything else a byte string.
func ParseValue(b []byte) Value {
	if n, ok := ParseInt(b); ok {
		return Int(n)
	}
	return Bytes(b)
}

// ParseInt accepts exactly the text strconv.AppendInt writes, which is
// what Redis takes for an integer: an optional "-", then "0" alone or
// digits without a leading zero, within int64 ("-0", "+1", "01" and " 1"
// are not integers). It is hand-written because strconv.ParseInt allocates
// an error for every non-number, and every SET of a byte string comes
// through here.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || (digits[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' || u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

// IsInt reports whether v is stored as an integer.
func (v Value) IsInt() bool { return v.kind == kindInt }

// Valid reports whether v holds a value at all.
func (v Value) Valid() bool { return v.kind != kindAbsent }

// Int returns v as an integer: an integer value, or a byte string in
// canonical decimal form. ok is false otherwise.
func (v Value) Int() (n int64, ok bool) {
	switch v.kind {
	case kindInt:
		return v.n, true
	case kindBytes:
		return ParseInt(v.b)
	}
	return 0, false
}

// AppendText appends v's text (an integer in decimal) to dst.
func (v Value) AppendText(dst []byte) []byte {
	if v.kind == kindInt {
		return strconv.AppendInt(dst, v.n, 10)
	}
	return append(dst, v.b...)
}

// String returns v's text.
func (v Value) String() string { return string(v.AppendText(nil)) }

// Equal reports whether v and w have the same text, so that Int(5) equals
// Bytes("5"), as they would in Redis.
func (v Value) Equal(w Value) bool {
	if v.kind == kindInt && w.kind == kindInt {
		return v.n == w.n
	}
	if v.kind == kindAbsent || w.kind == kindAbsent {
		return v.kind == w.kind
	}
	var a, b [20]byte
	return bytes.Equal(v.AppendText(a[:0]), w.AppendText(b[:0]))
}

// size is the bytes v takes in a buffer.
func (v Value) size() int {
	if v.kind == kindBytes {
		return len(v.b)
	}
	return 8
}

// Item is a variable's value and version as read at one instant. Found is
// false if the variable did not exist.
type Item struct {
	Value   Value
	Version uint64
	Found   bool
	err     error // the damage met instead of a value (ErrDamaged), if any
}

// missing is the error of an operation that needs a value and read it: the
// damage met, ErrNotFound if there is no value, else nil.
func (it Item) missing() error {
	switch {
	case it.err != nil:
		return it.err
	case !it.Found:
		return ErrNotFound
	}
	return nil
}
