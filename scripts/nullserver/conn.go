package main

import "net"

// serveConns serves each connection on a goroutine of its own, on Go's net
// package: a read that finds nothing parks the goroutine in the runtime's
// netpoller until the socket is readable.
func serveConns(addr string, ready func(string)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	ready(l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			s := newSession()
			for {
				n, err := c.Read(s.space())
				if err != nil {
					return
				}
				out, err := s.received(n)
				if err != nil {
					return
				}
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		}()
	}
}
