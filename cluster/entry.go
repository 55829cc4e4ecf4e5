package cluster

import (
	"encoding/binary"
	"fmt"
)

// EntryVersion is the log entry format this node writes and the newest it
// applies.
//
// Format 1: one byte, the version; then the number of arguments as a
// uvarint; then each argument as a uvarint length and its bytes. The
// arguments are the command as the server received it, name first
// ("SET", "k", "v", "NX").
const EntryVersion = 1

// maxArgs bounds the argument count a decoder accepts before allocating.
const maxArgs = 1 << 20

// EncodeEntry encodes a command's arguments as a log entry.
func EncodeEntry(args [][]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, a := range args {
		n += binary.MaxVarintLen64 + len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, EntryVersion)
	b = binary.AppendUvarint(b, uint64(len(args)))
	for _, a := range args {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// DecodeEntry decodes a log entry. An entry of a newer format fails with
// ErrEntryVersion, a damaged one with ErrBadEntry. The arguments alias b.
func DecodeEntry(b []byte) ([][]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadEntry)
	}
	switch v := b[0]; {
	case v > EntryVersion:
		return nil, fmt.Errorf("%w: format %d, this node knows up to %d", ErrEntryVersion, v, EntryVersion)
	case v == 0:
		return nil, fmt.Errorf("%w: format 0", ErrBadEntry)
	}
	b = b[1:]
	argc, n := uvarint(b)
	if n <= 0 || argc == 0 || argc > maxArgs || argc > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad argument count", ErrBadEntry)
	}
	b = b[n:]
	args := make([][]byte, 0, argc)
	for range argc {
		l, n := uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad argument length", ErrBadEntry)
		}
		args = append(args, b[n:n+int(l):n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadEntry, len(b))
	}
	return args, nil
}

// uvarint is binary.Uvarint that also refuses a number written in more
// bytes than it needs (a last byte of zero): every entry then has one
// encoding, so no two byte strings in the log stand for the same command.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, 0
	}
	return v, n
}
