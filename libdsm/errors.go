package main

/*
#include "dsm.h"
char *dsm__errbuf(size_t *cap);
*/
import "C"

import (
	"context"
	"errors"
	"unsafe"

	"github.com/dsm-dev/dsm/shm"
)

// Errors of the library itself, beside shm's.
var (
	errClosed  = errors.New("libdsm: handle is closed or unknown")
	errBuffer  = errors.New("libdsm: buffer too small")
	errInvalid = errors.New("libdsm: invalid argument")
	errLimit   = errors.New("libdsm: too many open handles of one kind in this process")
	errTimeout = errors.New("libdsm: timed out")
)

// codes maps errors to dsm.h's codes, checked in order with errors.Is.
var codes = []struct {
	err  error
	code C.int
}{
	{shm.ErrNotFound, C.DSM_ENOTFOUND},
	{shm.ErrStale, C.DSM_ENOTFOUND},
	{shm.ErrNotInteger, C.DSM_ENOTINTEGER},
	{shm.ErrOverflow, C.DSM_EOVERFLOW},
	{shm.ErrFull, C.DSM_EFULL},
	{shm.ErrNameTooLong, C.DSM_ENAMETOOLONG},
	{shm.ErrEmptyName, C.DSM_EEMPTYNAME},
	{shm.ErrValueTooLarge, C.DSM_EVALUETOOLARGE},
	{shm.ErrTooMany, C.DSM_ETOOMANY},
	{shm.ErrClosed, C.DSM_ECLOSED},
	{errClosed, C.DSM_ECLOSED},
	{errTimeout, C.DSM_ETIMEOUT},
	{shm.ErrNoLane, C.DSM_ENOLANE},
	{shm.ErrNotHeld, C.DSM_ENOTHELD},
	{shm.ErrReplicated, C.DSM_EREPLICATED},
	{shm.ErrNoDaemon, C.DSM_ENODAEMON},
	{shm.ErrDaemon, C.DSM_EDAEMON},
	{shm.ErrDamaged, C.DSM_EDAMAGED},
	{shm.ErrIndexDamaged, C.DSM_EDAMAGED},
	{shm.ErrFault, C.DSM_EFAULT},
	{shm.ErrFileGone, C.DSM_EFAULT},
	{errBuffer, C.DSM_EBUFFER},
	{errInvalid, C.DSM_EINVAL},
	{shm.ErrConfig, C.DSM_EINVAL},
	{errLimit, C.DSM_ELIMIT},
}

// fail records err as this thread's message (dsm_errmsg) and returns its
// code.
func fail(err error) C.int {
	setMessage(err)
	return code(err)
}

// setMessage copies err's message into the calling thread's buffer. A call
// from C runs on the calling thread from start to end (cgo locks it there),
// so the C thread-local buffer is the caller's.
func setMessage(err error) {
	var n C.size_t
	buf := unsafe.Slice((*byte)(unsafe.Pointer(C.dsm__errbuf(&n))), int(n))
	buf[copy(buf[:len(buf)-1], err.Error())] = 0
}

// code is err's code in dsm.h.
func code(err error) C.int {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return C.DSM_ETIMEOUT
	}
	return C.DSM_EOTHER
}

// openCode is the code of an error from shm.Open: anything but a bad
// configuration is the file's.
func openCode(err error) C.int {
	if c := code(err); c != C.DSM_EOTHER {
		return c
	}
	return C.DSM_EFILE
}
