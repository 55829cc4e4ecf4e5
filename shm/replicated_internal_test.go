package shm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReplicatedRefusedByFormat1 marks a file replicated and reads its
// header as a program that knows only format 1 (today's dsm before this
// change) reads it: both meta pages must refuse it with ErrVersion, or
// that program would open the other page and write around the log.
func TestReplicatedRefusedByFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsm.mem")
	m := openInternal(t, Config{Path: path, Vars: 16, Exclusive: true})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := readMetaUpTo(f, formatPlain); err != nil {
		t.Fatalf("format 1 reader, before the mark: %v", err)
	}
	if err := m.MarkReplicated(); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkReplicated(); err != nil {
		t.Fatalf("second mark: %v", err)
	}
	_, err = readMetaUpTo(f, formatPlain)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("format 1 reader, after the mark: %v, want ErrVersion", err)
	}
	t.Logf("format 1 reader: %v", err)
	for p := int64(0); p < 2; p++ {
		page := make([]byte, pageSize)
		if _, err := f.ReadAt(page, p*pageSize); err != nil {
			t.Fatal(err)
		}
		if _, err := decodeMeta(page, formatPlain); !errors.Is(err, ErrVersion) {
			t.Errorf("meta page %d to a format 1 reader: %v, want ErrVersion", p, err)
		}
		hdr, err := decodeMeta(page, formatVersion)
		if err != nil || hdr.flags&flagReplicated == 0 {
			t.Errorf("meta page %d: %+v, %v; want format 2, replicated", p, hdr, err)
		}
	}
	// An Install keeps the mark: it rewrites the header from the newest page.
	if err := m.Install(t.Context(), image(m)); err != nil {
		t.Fatal(err)
	}
	if _, err := readMetaUpTo(f, formatPlain); !errors.Is(err, ErrVersion) {
		t.Fatalf("after an Install, format 1 reader: %v", err)
	}
	if hdr, err := readMeta(f); err != nil || hdr.version != formatReplicated {
		t.Fatalf("after an Install: %+v, %v", hdr, err)
	}
}

// TestReplicatedFlagWithFormat1IsCorrupt: the flag and the format go
// together; a format 1 page with the flag is damage.
func TestReplicatedFlagWithFormat1IsCorrupt(t *testing.T) {
	m := meta{version: formatPlain, flags: flagReplicated, txid: 1, vars: 4, nameMax: 8, valueMax: 8, procs: 1, lanes: 1, groupMax: 2}
	m.derive()
	page := make([]byte, pageSize)
	m.encode(page)
	if _, err := decodeMeta(page, formatVersion); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("format 1 with the replicated flag: %v, want ErrCorrupt", err)
	}
}

// image is an empty image that fits m.
func image(m *Memory) Image {
	l := m.Limits()
	return Image{Seed: m.Seed(), Capacity: l.Capacity, NameMax: l.NameMax, ValueMax: l.ValueMax, GroupMax: l.GroupMax}
}
