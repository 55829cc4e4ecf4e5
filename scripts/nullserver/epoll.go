package main

import (
	"fmt"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// listenRaw makes a listening TCP socket on addr outside Go's netpoller and
// returns it with the address bound. It is blocking; accepted sockets are
// too unless the caller asks otherwise.
func listenRaw(addr string) (int, string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return -1, "", fmt.Errorf("listen %q: want an IPv4 HOST:PORT", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err == nil {
		if err = unix.Bind(fd, sa); err == nil {
			err = unix.Listen(fd, 1024)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("listen %s: %w", addr, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	in4 := bound.(*unix.SockaddrInet4)
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)).String(), nil
}

// serveEpoll serves every connection from one thread: epoll_wait says which
// sockets are readable, each gets one read, and its replies one write.
func serveEpoll(addr string, ready func(string), stop <-chan struct{}) error {
	runtime.LockOSThread()
	ln, bound, err := listenRaw(addr)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(ep)
	stopFD, release, err := stopEvent(stop)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, stopFD, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stopFD)}); err != nil {
		return err
	}
	if err := unix.SetNonblock(ln, true); err != nil {
		return err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ln, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ln)}); err != nil {
		return err
	}
	ready(bound)
	sessions := map[int32]*session{}
	drop := func(fd int32) {
		delete(sessions, fd)
		unix.Close(int(fd)) // leaves the epoll set with its last descriptor
	}
	defer func() {
		for fd := range sessions {
			drop(fd)
		}
	}()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == stopFD {
				return nil
			}
			if int(ev.Fd) == ln {
				for {
					c, _, err := unix.Accept4(ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break // EAGAIN: no more waiting; anything else: the client's loss
					}
					unix.SetsockoptInt(c, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, c, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c)}); err != nil {
						unix.Close(c)
						continue
					}
					sessions[int32(c)] = newSession()
				}
				continue
			}
			s := sessions[ev.Fd]
			r, err := unix.Read(int(ev.Fd), s.space())
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil || r == 0 {
				drop(ev.Fd)
				continue
			}
			out, err := s.received(r)
			if err != nil || writeAll(int(ev.Fd), out) != nil {
				drop(ev.Fd)
			}
		}
	}
}

// writeAll writes b to a non-blocking socket, waiting in poll when its
// buffer is full. The replies of a benchmark's batch fit in the buffer,
// so the loop does not wait here in a measurement.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EAGAIN:
			if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1); err != nil && err != unix.EINTR {
				return err
			}
		case err == unix.EINTR:
		case err != nil:
			return err
		default:
			b = b[n:]
		}
	}
	return nil
}
