//go:build linux

package lockd

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futexWait sleeps while *addr == val, for at most d. It uses the shared
// (not FUTEX_PRIVATE) operations because the word lives in a file mapping
// that other processes map too. Every return is a hint: the caller re-checks
// its condition, so EINTR, EAGAIN, ETIMEDOUT and spurious wake-ups are all
// treated alike.
func futexWait(addr *uint32, val uint32, d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes every sleeper on addr, in any process.
func futexWake(addr *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp,
		uintptr(1<<31-1), 0, 0, 0)
}

// Futex operations (linux/futex.h). The private variants are deliberately
// not used: the words are shared between processes.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)
