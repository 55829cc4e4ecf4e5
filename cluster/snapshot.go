package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/dsm-dev/dsm/internal/planted"
	"github.com/dsm-dev/dsm/shm"
	"github.com/hashicorp/raft"
)

// SnapshotVersion is the snapshot format this node writes and the newest it
// installs.
//
// Format 1, every integer a uvarint unless said otherwise:
//
//	magic "DSMSNAP\n", version byte
//	applied index
//	capacities: vars, name max, value max, group max; hash seed
//	count, then per variable: name length, name, version,
//	    kind byte (1 integer: zigzag varint; 2 bytes: length, bytes)
//	CRC-32C of everything before it, 4 bytes little-endian
//
// The reserved variables are not listed: the applied index has its field.
//
// Format 2 adds the lock table (LockTable.appendTo) after the variables,
// as a length and its bytes. A node installs format 1 with no locks.
const SnapshotVersion = 2

const snapMagic = "DSMSNAP\n"

const (
	kindInt   = 1
	kindBytes = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapVar is one variable of a snapshot.
type snapVar struct {
	name    []byte
	value   shm.Value
	version uint64
}

// snapshot is a consistent copy of a file's variables.
type snapshot struct {
	applied uint64
	limits  shm.Limits
	seed    uint64 // the file's hash seed: its layout
	vars    []snapVar
	locks   []byte // the lock table, encoded (LockTable.encode); nil for none
}

// lockTable decodes the snapshot's lock table.
func (s *snapshot) lockTable(now time.Time) (*LockTable, error) {
	if len(s.locks) == 0 {
		t := newLockTable()
		t.at = s.applied
		return t, nil
	}
	d := decoder{b: s.locks}
	t := decodeLockTable(&d, now)
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: malformed lock table", ErrBadSnapshot)
	}
	return t, nil
}

// takeSnapshot copies m's variables. The caller is the only writer of m
// and does not write meanwhile, so the copy is consistent.
func takeSnapshot(m *shm.Memory, applied uint64) (*snapshot, error) {
	s := &snapshot{applied: applied, limits: m.Limits(), seed: m.Seed()}
	names, err := liveNames(m)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		v, ver, err := m.Get(n)
		if err != nil {
			return nil, fmt.Errorf("snapshot %q: %w", n, err)
		}
		if v.IsInt() {
			v = shm.Int(mustInt(v))
		} else {
			v = shm.Bytes(v.AppendText(nil))
		}
		s.vars = append(s.vars, snapVar{name: n, value: v, version: ver})
	}
	return s, nil
}

func mustInt(v shm.Value) int64 { n, _ := v.Int(); return n }

// liveNames lists m's variables that have a value, reserved ones left out.
func liveNames(m *shm.Memory) ([][]byte, error) {
	var names [][]byte
	var cursor uint64
	for {
		next, err := m.Scan(cursor, func(name []byte, _ uint64) bool {
			if !Reserved(name) {
				names = append(names, bytes.Clone(name))
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if next == 0 {
			return names, nil
		}
		cursor = next
	}
}

// Persist writes the snapshot to sink and closes it, or cancels it on error.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	if err := s.encode(w); err != nil {
		sink.Cancel()
		return err
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return err
	}
	failpoint(FailSnapshotTake)
	return sink.Close()
}

// Release does nothing: the copy is garbage once Persist is done.
func (s *snapshot) Release() {}

// encode writes s in the current format.
func (s *snapshot) encode(w io.Writer) error {
	b := append([]byte(snapMagic), SnapshotVersion)
	b = binary.AppendUvarint(b, s.applied)
	for _, c := range []int{s.limits.Capacity, s.limits.NameMax, s.limits.ValueMax, s.limits.GroupMax} {
		b = binary.AppendUvarint(b, uint64(c))
	}
	b = binary.AppendUvarint(b, s.seed)
	b = binary.AppendUvarint(b, uint64(len(s.vars)))
	for _, v := range s.vars {
		b = binary.AppendUvarint(b, uint64(len(v.name)))
		b = append(b, v.name...)
		b = binary.AppendUvarint(b, v.version)
		if n, ok := v.value.Int(); ok && v.value.IsInt() {
			b = append(b, kindInt)
			b = binary.AppendVarint(b, n)
		} else {
			b = append(b, kindBytes)
			text := v.value.AppendText(nil)
			b = binary.AppendUvarint(b, uint64(len(text)))
			b = append(b, text...)
		}
	}
	b = appendLen(b, s.locks)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	_, err := w.Write(b)
	return err
}

// readSnapshot reads and checks a snapshot.
func readSnapshot(r io.Reader) (*snapshot, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(b)
}

// decodeSnapshot checks b's magic, version and checksum, then decodes it.
func decodeSnapshot(b []byte) (*snapshot, error) {
	if len(b) < len(snapMagic)+1+4 || string(b[:len(snapMagic)]) != snapMagic {
		return nil, fmt.Errorf("%w: not a dsm snapshot", ErrBadSnapshot)
	}
	if v := b[len(snapMagic)]; v > SnapshotVersion {
		return nil, fmt.Errorf("%w: snapshot format %d, this node knows up to %d", ErrEntryVersion, v, SnapshotVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	version := b[len(snapMagic)]
	d := decoder{b: body[len(snapMagic)+1:]}
	s := &snapshot{applied: d.uvarint()}
	s.limits.Capacity, s.limits.NameMax = int(d.uvarint()), int(d.uvarint())
	s.limits.ValueMax, s.limits.GroupMax = int(d.uvarint()), int(d.uvarint())
	s.seed = d.uvarint()
	count := d.uvarint()
	if count > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d variables in %d bytes", ErrBadSnapshot, count, len(d.b))
	}
	for range count {
		v := snapVar{name: d.bytes(), version: d.uvarint()}
		switch d.byte() {
		case kindInt:
			v.value = shm.Int(d.varint())
		case kindBytes:
			v.value = shm.Bytes(d.bytes())
		default:
			d.fail()
		}
		s.vars = append(s.vars, v)
	}
	if version >= 2 {
		s.locks = bytes.Clone(d.bytes())
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: malformed body", ErrBadSnapshot)
	}
	return s, nil
}

// decoder reads a snapshot body; after the first error every read is zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errors.New("malformed"), nil }

func (d *decoder) uvarint() uint64 {
	n, k := uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) varint() int64 {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// installSnapshot installs s into m in place, as one shm.Install: the
// file then holds exactly s's variables, each with s's value and version
// (so versions match the leader's, which WATCH and EXEC compare), plus
// AppliedName set to s's applied index, at its next version (a reserved
// variable: its version is the node's own). Variables the snapshot lacks
// are deleted. There is no size limit beyond the file's capacity. A local
// reader sees each variable, and any MGet, all old or all new. A crash in
// the middle leaves the file marked, and the next shm.Open reports
// shm.ErrInstallIncomplete: the node must open it with
// shm.Config.AllowIncomplete and install its snapshot again.
func installSnapshot(m *shm.Memory, s *snapshot) error {
	img := shm.Image{Seed: s.seed, Capacity: s.limits.Capacity, NameMax: s.limits.NameMax,
		ValueMax: s.limits.ValueMax, GroupMax: s.limits.GroupMax, Vars: make([]shm.ImageVar, 0, len(s.vars)+1)}
	for _, v := range s.vars {
		if Reserved(v.name) {
			return fmt.Errorf("%w: holds reserved %q", ErrBadSnapshot, v.name)
		}
		img.Vars = append(img.Vars, shm.ImageVar{Name: v.name, Value: v.value, Version: v.version})
	}
	_, ver, err := m.Get([]byte(AppliedName))
	if err != nil && !errors.Is(err, shm.ErrNotFound) {
		return err
	}
	img.Vars = append(img.Vars, shm.ImageVar{Name: []byte(AppliedName), Value: shm.Int(int64(s.applied)), Version: ver + 1})
	failpoint(FailSnapshotInstall)
	if planted.On(planted.InstallByRename) {
		return installByRename(m, img)
	}
	if err := m.Install(bgctx, img); err != nil {
		if errors.Is(err, shm.ErrImage) {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		return err
	}
	return nil
}
