package main

import (
	"net"
	"sync"
)

// serveConns serves each connection on a goroutine of its own, on Go's net
// package: a read that finds nothing parks the goroutine in the runtime's
// netpoller until the socket is readable.
func serveConns(addr string, ready func(string), stop <-chan struct{}) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		conns   = map[net.Conn]bool{} // open connections, until closing
		closing bool
		served  sync.WaitGroup
		stopped = make(chan struct{})
	)
	go func() {
		select {
		case <-stop:
		case <-stopped:
		}
		l.Close()
		mu.Lock()
		closing = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	defer func() {
		close(stopped)
		served.Wait()
	}()
	ready(l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-stop:
				return nil
			default:
				return err
			}
		}
		mu.Lock()
		if closing {
			mu.Unlock()
			c.Close()
			continue
		}
		conns[c] = true
		mu.Unlock()
		served.Add(1)
		go func() {
			defer served.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
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
				if len(out) == 0 {
					continue // only part of a command: Write would still make a system call
				}
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		}()
	}
}
