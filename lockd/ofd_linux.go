//go:build linux

package lockd

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Byte-range locks on open file descriptions (OFD locks) belong to one open
// of the file, not to a process, and the kernel drops them when the last
// descriptor of that open is closed, including at process death. That makes
// them the liveness signal of an attachment: a held byte means a live owner.

func ofdLock(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

func ofdUnlock(f *os.File, off int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: off, Len: 1}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// ofdHeld reports whether an open of the file other than f holds off.
func ofdHeld(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// LockByte takes an exclusive OFD lock on one byte of f without waiting. It
// reports false if another open of the file holds it. The lock lasts until
// f (and every duplicate of it) is closed.
func LockByte(f *os.File, off int64) (bool, error) { return ofdLock(f, off) }
