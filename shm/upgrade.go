package shm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/dsm-dev/dsm/internal/durable"
)

// UpgradeSuffix is what Upgrade appends to the path of the format-1 copy
// it keeps.
const UpgradeSuffix = ".format1"

// Upgrade rewrites the format-1 file at path in format 2 (doc.go,
// "Upgrading format 1"): the same variables with the same values and
// versions, the same hash seed and capacities (the slot count rounded up
// to a power of two), replicated if the file was. It keeps the old file as
// path+UpgradeSuffix and returns that path; a file already in format 2 is
// left alone and kept is empty; a missing one is an error (no file is
// created).
//
// No daemon may serve the file (ErrLocked) and no other process may have
// it open (ErrBusy): Upgrade holds every lock of the file while it copies
// it, checks again that it is alone, and only then puts the new file in
// place. A crash before the rename leaves the file as it was (and a stray
// path+".new", which the next Upgrade replaces); after it, the new file.
// Last it marks the old file, which only its own descriptor still
// reaches, replicated: a process that attached in between sends its
// writes to a daemon instead of writing into a file nobody reads.
func Upgrade(ctx context.Context, path string) (kept string, err error) {
	// Open would create a missing file: there is nothing to upgrade.
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	m, err := Open(Config{Path: path, Exclusive: true})
	if err != nil {
		return "", err
	}
	defer m.Close()
	if m.compact {
		return "", nil
	}
	if err := m.alone(); err != nil {
		return "", err
	}
	if !m.enter() {
		return "", ErrClosed
	}
	defer m.life.RUnlock()
	if err := m.lockWhole(ctx); err != nil {
		return "", err
	}
	defer m.unlockWhole(m.meta.vars)
	if err := m.alone(); err != nil {
		return "", err
	}
	img, err := m.imageLocked()
	if err != nil {
		return "", fmt.Errorf("upgrade %s: %w", path, err)
	}
	next := path + ".new"
	if err := m.writeUpgraded(ctx, next, img); err != nil {
		os.Remove(next)
		return "", fmt.Errorf("upgrade %s: %w", path, err)
	}
	kept = path + UpgradeSuffix
	if err := copyFile(m.f, kept); err != nil {
		os.Remove(next)
		return "", fmt.Errorf("upgrade %s: keep a copy: %w", path, err)
	}
	if err := os.Rename(next, path); err != nil {
		return "", fmt.Errorf("upgrade %s: %w", path, err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		return kept, fmt.Errorf("upgrade %s: %w", path, err)
	}
	return kept, m.markSuperseded()
}

// alone returns ErrBusy if another process is attached to the file.
func (m *Memory) alone() error {
	if n := len(m.proc.Procs()); n > 1 {
		return fmt.Errorf("%w: %d attached besides this one: stop them first", ErrBusy, n-1)
	}
	return nil
}

// writeUpgraded creates the format-2 file at path holding img, made for
// m's capacities and seed, replicated if m's file is, and syncs it.
func (m *Memory) writeUpgraded(ctx context.Context, path string, img Image) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	mt := &m.meta
	st, err := m.f.Stat()
	if err != nil {
		return err
	}
	cfg := Config{Path: path, Format: 2, Seed: mt.seed, Exclusive: true, Mode: st.Mode().Perm(),
		Vars: int(mt.vars), NameMax: int(mt.nameMax), ValueMax: int(mt.valueMax),
		Procs: int(mt.procs), Lanes: int(mt.lanes), GroupMax: int(mt.groupMax),
		ValueArea: upgradeArea(img)}
	n, err := Open(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(path, -1, int(sys.Gid)); err != nil {
			return err
		}
	}
	img.Capacity = int(n.meta.vars)
	if err := n.Install(ctx, img); err != nil {
		return err
	}
	if m.Replicated() {
		if err := n.MarkReplicated(); err != nil {
			return err
		}
	}
	return n.Sync()
}

// upgradeArea is the value area an upgrade of img makes: room for each
// value and long name twice over (a variable may own two blocks), and
// as much again for what comes after; at least the default.
func upgradeArea(img Image) int {
	var need uint64
	for _, v := range img.Vars {
		if v.Value.kind == kindBytes && len(v.Value.b) > inlineMax {
			need += 2 << blockClass(uint64(len(v.Value.b)))
		}
		if len(v.Name) > slot2Min-slot2Name {
			need += 1 << blockClass(uint64(len(v.Name)))
		}
	}
	return int(min(2*need, 1<<maxArenaClass))
}

// markSuperseded writes both of the file's meta pages as a replicated
// file's (header version 2, flagReplicated), so that every process that
// maps it sends its writes to a daemon (see Replicated) rather than write
// a file that has been replaced. Only Upgrade calls it, on the old file.
func (m *Memory) markSuperseded() error {
	cur, err := readMeta(m.f)
	if err != nil {
		return err
	}
	return m.writeMarked(cur)
}

// copyFile copies f's content to a new file at path, with f's mode, and
// syncs it.
func copyFile(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, 0, st.Size())); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
