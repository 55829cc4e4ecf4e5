package shm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// openFile opens cfg.Path, creating it first if it does not exist. A new
// file is built under a temporary name and linked into place in one step, so
// that nobody ever opens a half-written file.
func openFile(cfg Config) (*os.File, meta, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(cfg.Path, os.O_RDWR, 0)
		if err == nil {
			m, err := readMeta(f)
			if err != nil {
				f.Close()
				return nil, m, fmt.Errorf("open %s: %w", cfg.Path, err)
			}
			return f, m, nil
		}
		if !errors.Is(err, os.ErrNotExist) || attempt > 2 {
			return nil, meta{}, fmt.Errorf("open %s: %w", cfg.Path, err)
		}
		if err := createFile(cfg); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, meta{}, fmt.Errorf("create %s: %w", cfg.Path, err)
		}
	}
}

// readMeta reads both meta pages with pread (never through a mapping, so a
// short file cannot raise SIGBUS) and returns the newer valid one.
func readMeta(f *os.File) (meta, error) { return readMetaUpTo(f, formatVersion) }

// readMetaUpTo is readMeta for a program that reads formats up to newest.
func readMetaUpTo(f *os.File, newest uint32) (meta, error) {
	st, err := f.Stat()
	if err != nil {
		return meta{}, err
	}
	size := st.Size()
	if size < 2*pageSize {
		head := make([]byte, min(size, int64(len(magic))))
		if _, err := f.ReadAt(head, 0); err != nil && err != io.EOF {
			return meta{}, err
		}
		if len(head) > 0 && string(head) != magic[:len(head)] {
			return meta{}, ErrNotDSM
		}
		return meta{}, fmt.Errorf("%w: %d bytes, the header alone needs %d", ErrTruncated, size, 2*pageSize)
	}
	buf := make([]byte, 2*pageSize)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return meta{}, err
	}
	a, errA := decodeMeta(buf[:pageSize], newest)
	b, errB := decodeMeta(buf[pageSize:], newest)
	var m meta
	switch {
	case errA == nil && errB == nil:
		m = a
		if b.txid > a.txid {
			m, m.page = b, 1
		}
	case errA == nil:
		m = a
	case errB == nil:
		m, m.page = b, 1
	case errors.Is(errA, ErrNotDSM) && errors.Is(errB, ErrNotDSM):
		return meta{}, ErrNotDSM
	case errors.Is(errA, ErrVersion):
		return meta{}, errA
	case errors.Is(errB, ErrVersion):
		return meta{}, errB
	case errors.Is(errA, ErrNotDSM):
		return meta{}, errB
	default:
		return meta{}, errA
	}
	if uint64(size) < m.fileSize {
		return m, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, size, m.fileSize)
	}
	return m, nil
}

func createFile(cfg Config) error {
	m := meta{
		version: formatPlain, txid: 1,
		vars: uint32(cfg.Vars), nameMax: uint32(cfg.NameMax), valueMax: uint32(cfg.ValueMax),
		procs: uint32(cfg.Procs), lanes: uint32(cfg.Lanes), groupMax: uint32(cfg.GroupMax),
	}
	if cfg.Format == 2 {
		m = newMeta2(&cfg)
	}
	m.created = time.Now().UnixNano()
	m.seed = cfg.Seed
	if m.seed == 0 {
		var seed [8]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return err
		}
		m.seed = binary.LittleEndian.Uint64(seed[:])
	}
	m.derive()
	dir := filepath.Dir(cfg.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(cfg.Path)+".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := initFile(tmp, m, cfg); err != nil {
		return err
	}
	// link fails if another process created the file meanwhile; then we
	// use theirs.
	return os.Link(tmp.Name(), cfg.Path)
}

// initFile sizes the file with real blocks (fallocate, so that a full disk
// is found now and not as SIGBUS later), writes both meta pages and the free
// list, and syncs.
func initFile(f *os.File, m meta, cfg Config) error {
	if err := setOwnership(f, cfg); err != nil {
		return err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(m.fileSize)); err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("allocate %d bytes: %w", m.fileSize, err)
		}
		if err := f.Truncate(int64(m.fileSize)); err != nil {
			return err
		}
	}
	page := make([]byte, pageSize)
	m.encode(page)
	if _, err := f.WriteAt(page, 0); err != nil {
		return err
	}
	if _, err := f.WriteAt(page, pageSize); err != nil {
		return err
	}
	if err := writeFreeList(f, m); err != nil {
		return err
	}
	if m.version == formatCompact {
		if err := writeHeap(f, m); err != nil {
			return err
		}
	}
	return f.Sync()
}

// writeFreeList links every slot into the free list, in order.
func writeFreeList(f *os.File, m meta) error {
	var w [4]byte
	binary.LittleEndian.PutUint32(w[:], 1)
	if _, err := f.WriteAt(w[:], controlPage*pageSize+ctlFreeHead); err != nil {
		return err
	}
	const batch = 4096
	buf := make([]byte, batch*uint64(m.slotSize))
	for first := uint32(0); first < m.vars; first += batch {
		n := min(batch, m.vars-first)
		clear(buf)
		for i := uint32(0); i < n; i++ {
			next := first + i + 2
			if first+i+1 == m.vars {
				next = 0
			}
			binary.LittleEndian.PutUint32(buf[uint64(i)*uint64(m.slotSize)+slotNextFree:], next)
		}
		off := int64(m.slotsOff) + int64(first)*int64(m.slotSize)
		if _, err := f.WriteAt(buf[:uint64(n)*uint64(m.slotSize)], off); err != nil {
			return err
		}
	}
	return nil
}

func setOwnership(f *os.File, cfg Config) error {
	mode := cfg.Mode
	if cfg.FileGroup != "" {
		g, err := user.LookupGroup(cfg.FileGroup)
		if err != nil {
			return fmt.Errorf("%w: group %q: %v", ErrConfig, cfg.FileGroup, err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := f.Chown(-1, gid); err != nil {
			return err
		}
		if cfg.Mode == 0 {
			mode = 0o660
		}
	}
	if mode == 0 {
		mode = 0o600
	}
	return f.Chmod(mode)
}
