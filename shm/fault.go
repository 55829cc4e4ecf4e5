package shm

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Storage faults. The mapping stays valid only while the file under it
// keeps its size: if another process truncates it, the kernel drops the
// pages past the new end, and an access to them raises SIGBUS, which Go
// turns into a fatal error unless the goroutine has called
// debug.SetPanicOnFault(true). A long-lived owner of the file (dsmd)
// therefore checks the file at every flush and now and then (FileError),
// runs its goroutines with panic-on-fault, and turns a recovered fault into
// an error with FaultError; after either it must stop using the Memory
// (not even Close it: that touches the mapping) and exit.

// FileError reports whether the file under the mapping is still whole: it
// returns an error wrapping ErrTruncated if the file is now shorter than the
// mapping, or ErrFileGone if it was deleted or its path now names another
// file (a new process would open that one: the two would no longer share
// memory). It costs one fstat and one stat. Flushes (Sync, SyncBarrier)
// call it after each msync, so that a flush that succeeded on a truncated
// file still fails.
func (m *Memory) FileError() error {
	var st unix.Stat_t
	if err := unix.Fstat(int(m.f.Fd()), &st); err != nil {
		return fmt.Errorf("%w: fstat %s: %v", ErrFault, m.path, err)
	}
	if uint64(st.Size) < m.meta.fileSize {
		return fmt.Errorf("%w: %s is %d bytes, the mapping needs %d: another process truncated it", ErrTruncated, m.path, st.Size, m.meta.fileSize)
	}
	if st.Nlink == 0 {
		return fmt.Errorf("%w: %s was deleted while open", ErrFileGone, m.path)
	}
	var ps unix.Stat_t
	if err := unix.Stat(m.path, &ps); err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%w: %s was removed while open", ErrFileGone, m.path)
		}
		return nil // unreadable path (permissions): not proof of a fault
	}
	if ps.Dev != st.Dev || ps.Ino != st.Ino {
		return fmt.Errorf("%w: %s now names another file", ErrFileGone, m.path)
	}
	return nil
}

// FaultError turns r, a value recovered from a panic in a goroutine that
// runs with debug.SetPanicOnFault(true), into an error wrapping ErrFault if
// it is a memory fault inside this Memory's mapping; for anything else it
// returns nil, and the caller should panic again with r. The error says
// what FileError finds, when it finds something.
func (m *Memory) FaultError(r any) error {
	re, ok := r.(runtime.Error)
	if !ok {
		return nil
	}
	fa, ok := re.(interface{ Addr() uintptr })
	if !ok {
		return nil
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.mem)))
	addr := fa.Addr()
	if addr < base || addr >= base+uintptr(len(m.mem)) {
		return nil
	}
	if err := m.FileError(); err != nil {
		return fmt.Errorf("%w at offset %d: %w", ErrFault, addr-base, err)
	}
	return fmt.Errorf("%w at offset %d of %s: its storage failed", ErrFault, addr-base, m.path)
}
