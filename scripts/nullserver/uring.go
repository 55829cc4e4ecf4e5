package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parts of the io_uring interface (linux/io_uring.h) the loop uses.
// golang.org/x/sys has the system call numbers but not these.
const (
	setupSingleIssuer = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	setupDeferTaskrun = 1 << 13 // IORING_SETUP_DEFER_TASKRUN: completions run when the loop asks
	featSingleMmap    = 1 << 0  // IORING_FEAT_SINGLE_MMAP
	offSQRing         = 0       // IORING_OFF_SQ_RING
	offSQEs           = 0x10000000
	enterGetEvents    = 1 << 0 // IORING_ENTER_GETEVENTS
	sqeIOLink         = 1 << 2 // IOSQE_IO_LINK: the next entry starts once this one succeeded
	sqeSkipSuccess    = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: no completion unless it fails
	opPollAdd         = 6
	opAccept          = 13
	opSend            = 26
	opRecv            = 27
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// sqe is struct io_uring_sqe, with the fields the loop sets.
type sqe struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, opFlags  uint32
	userData      uint64
	bufIndex      uint16
	personality   uint16
	spliceFDIn    int32
	addr3, pad    uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is one io_uring instance used from one thread.
type ring struct {
	fd       int
	sqHead   *uint32 // written by the kernel
	sqTail   *uint32
	sqMask   uint32
	sqArray  []uint32
	sqes     []sqe
	cqHead   *uint32
	cqTail   *uint32 // written by the kernel
	cqMask   uint32
	cqes     []cqe
	queued   uint32 // entries filled since the last submit
	mappings [][]byte
}

func newRing(entries uint32) (*ring, error) {
	p := uringParams{flags: setupSingleIssuer | setupDeferTaskrun}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w (single issuer and deferred task running need Linux 6.1)", errno)
	}
	r := &ring{fd: int(fd)}
	if p.features&featSingleMmap == 0 {
		r.close()
		return nil, fmt.Errorf("io_uring: the kernel maps the two rings apart (before Linux 5.4)")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	rings, err := unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring rings: %w", err)
	}
	r.mappings = append(r.mappings, rings)
	sqes, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring entries: %w", err)
	}
	r.mappings = append(r.mappings, sqes)
	base := unsafe.Pointer(&rings[0])
	at := func(off uint32) unsafe.Pointer { return unsafe.Add(base, off) }
	r.sqHead, r.sqTail = (*uint32)(at(p.sqOff.head)), (*uint32)(at(p.sqOff.tail))
	r.sqMask = *(*uint32)(at(p.sqOff.ringMask))
	r.sqArray = unsafe.Slice((*uint32)(at(p.sqOff.array)), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries)
	r.cqHead, r.cqTail = (*uint32)(at(p.cqOff.head)), (*uint32)(at(p.cqOff.tail))
	r.cqMask = *(*uint32)(at(p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*cqe)(at(p.cqOff.cqes)), p.cqEntries)
	return r, nil
}

func (r *ring) close() {
	for _, m := range r.mappings {
		unix.Munmap(m)
	}
	unix.Close(r.fd)
}

// next returns a cleared entry to fill; the kernel sees it at the next
// enter (the ring has no kernel polling thread, so the entry may be filled
// after the tail moves). When the queue is full it submits what is queued
// first; if the kernel takes none of it, the entry would overwrite one it
// has not read, so that is an error.
func (r *ring) next() (*sqe, error) {
	tail := *r.sqTail // only this thread writes it
	full := func() bool { return tail-atomic.LoadUint32(r.sqHead) == uint32(len(r.sqes)) }
	if full() {
		if err := r.enter(0); err != nil {
			return nil, err
		}
		if full() {
			return nil, fmt.Errorf("io_uring: the submission queue stays full")
		}
	}
	i := tail & r.sqMask
	r.sqArray[i] = i
	e := &r.sqes[i]
	*e = sqe{}
	atomic.StoreUint32(r.sqTail, tail+1)
	r.queued++
	return e, nil
}

// enter submits the queued entries and waits until at least wait
// completions are ready.
func (r *ring) enter(wait uint32) error {
	flags := uintptr(0)
	if wait > 0 {
		flags = enterGetEvents
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(r.queued), uintptr(wait), flags, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
		r.queued -= uint32(n)
		return nil
	}
}

// A connection's operations, in the low byte of user data; the socket is
// in the bytes above it.
const (
	tagAccept = iota
	tagRecv
	tagSend
	tagStop
)

// serveUring serves every connection from one thread through io_uring:
// each connection always has one receive in the ring, or a send linked to
// the receive after it, and the loop makes one system call per turn to
// submit what it queued and wait for what completed.
func serveUring(addr string, ready func(string), stop <-chan struct{}) error {
	runtime.LockOSThread()
	r, err := newRing(4096)
	if err != nil {
		return err
	}
	defer r.close()
	ln, bound, err := listenRaw(addr)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	stopFD, release, err := stopEvent(stop)
	if err != nil {
		return err
	}
	defer release()
	sessions := map[int32]*session{}
	defer func() {
		// The ring is closed after these (deferred earlier): what it
		// still holds of them is cancelled with it.
		for fd := range sessions {
			unix.Close(int(fd))
		}
	}()
	accept := func() error {
		e, err := r.next()
		if err != nil {
			return err
		}
		e.opcode, e.fd, e.userData = opAccept, int32(ln), tagAccept
		e.opFlags = unix.SOCK_CLOEXEC // accept4's flags, as the epoll loop's
		return nil
	}
	recv := func(fd int32, s *session) error {
		e, err := r.next()
		if err != nil {
			return err
		}
		buf := s.space()
		e.opcode, e.fd = opRecv, fd
		e.addr, e.len = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))
		e.userData = uint64(fd)<<8 | tagRecv
		return nil
	}
	send := func(fd int32, out []byte) error {
		e, err := r.next()
		if err != nil {
			return err
		}
		e.opcode, e.fd, e.flags = opSend, fd, sqeIOLink|sqeSkipSuccess
		e.addr, e.len = uint64(uintptr(unsafe.Pointer(&out[0]))), uint32(len(out))
		e.opFlags = unix.MSG_WAITALL | unix.MSG_NOSIGNAL
		e.userData = uint64(fd)<<8 | tagSend
		return nil
	}
	e, err := r.next()
	if err != nil {
		return err
	}
	e.opcode, e.fd, e.opFlags, e.userData = opPollAdd, int32(stopFD), unix.POLLIN, tagStop
	if err := accept(); err != nil {
		return err
	}
	ready(bound)
	for {
		if err := r.enter(1); err != nil {
			return err
		}
		head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			c := r.cqes[head&r.cqMask]
			fd := int32(c.userData >> 8)
			switch c.userData & 0xff {
			case tagStop:
				return nil
			case tagAccept:
				if c.res == -int32(unix.EBADF) || c.res == -int32(unix.EINVAL) {
					return fmt.Errorf("accept: %w", unix.Errno(-c.res))
				}
				if c.res >= 0 {
					unix.SetsockoptInt(int(c.res), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					s := newSession()
					sessions[c.res] = s
					if err := recv(c.res, s); err != nil {
						return err
					}
				}
				if err := accept(); err != nil {
					return err
				}
			case tagRecv:
				s := sessions[fd]
				var out []byte
				err := unix.Errno(0)
				if c.res > 0 {
					var perr error
					if out, perr = s.received(int(c.res)); perr != nil {
						err = unix.EPROTO
					}
				}
				if c.res <= 0 || err != 0 {
					// The end of input, a failed send (its linked receive
					// is cancelled) or a protocol error: nothing of this
					// socket is in the ring any more.
					delete(sessions, fd)
					unix.Close(int(fd))
					continue
				}
				if len(out) > 0 {
					if err := send(fd, out); err != nil {
						return err
					}
				}
				if err := recv(fd, s); err != nil {
					return err
				}
			}
			// A send completes only when it failed; the receive linked
			// to it then completes cancelled and closes the socket.
		}
		atomic.StoreUint32(r.cqHead, head)
	}
}
