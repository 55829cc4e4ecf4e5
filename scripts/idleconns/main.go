// Command idleconns opens many idle RESP connections to a server, for
// scripts/bench to measure what an idle connection costs the server.
//
// Usage:
//
//	idleconns -addr 127.0.0.1:6379 -n 2000
//
// It opens n connections, sends PING on each and reads the +PONG (so that
// the server has set the connection up completely), prints "ready", and
// holds them open until its standard input ends. Then it closes them and
// exits.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("idleconns", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "server `HOST:PORT`")
	n := fs.Int("n", 2000, "connections to open")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("-n must be at least 1, not %d", *n)
	}
	conns := make([]net.Conn, 0, *n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range *n {
		c, err := ping(*addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// ping opens one connection and completes a PING on it.
func ping(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		c.Close()
		return nil, fmt.Errorf("PING answered %q: %v", line, err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
