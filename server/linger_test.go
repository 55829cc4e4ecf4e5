package server

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// tooBig is a request over the size limit, and garbage the client goes on
// sending after the server has answered it; both together stay within
// lingerBytes.
var tooBig = []string{
	"*1000000\r\n" + strings.Repeat("$0\r\n\r\n", 250000),
	strings.Repeat("$0\r\n\r\n", 1<<20/6),
}

const msgTooBig = "-ERR Protocol error: too big request\r\n"

// TestErrorLineSurvivesInput: a client that goes on sending after a
// protocol error, and reads only once the server has ended the connection,
// still reads the whole error line and then a clean end of stream, over
// TCP and over TLS. A server that closed with the input unread would reset
// the connection, and the reset throws the unread line away.
func TestErrorLineSurvivesInput(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	ts := startServer(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	dials := map[string]func() net.Conn{
		"tcp": func() net.Conn { return dialRaw(t, ts.addr).c },
		"tls": func() net.Conn {
			c, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			if err != nil {
				t.Fatalf("TLS dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	for name, dial := range dials {
		t.Run(name, func(t *testing.T) {
			c := dial()
			sendAll(c, tooBig) // fails once the connection is reset
			waitFor(t, "the server to end the connection", func() bool { return ts.clientCount() == 0 })
			time.Sleep(50 * time.Millisecond) // a reset would have come by now
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			line, err := br.ReadString('\n')
			if line != msgTooBig {
				t.Fatalf("read %q (%v), want %q", line, err, msgTooBig)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
				t.Errorf("after the error line: %q, %v; want a clean end of stream", rest, err)
			}
		})
	}
}

// TestLingerFreesClients: a connection lingering after its error line
// holds no place among MaxClients, and Shutdown does not wait for it.
func TestLingerFreesClients(t *testing.T) {
	ts := startServer(t, Config{MaxClients: 1})
	rc := dialRaw(t, ts.addr)
	// A reply proves the server took the connection: a count of 0 could
	// otherwise mean it has not accepted it yet.
	if got := rc.do("PING"); got != simple("PONG") {
		t.Fatalf("PING: %q", got)
	}
	sendAll(rc.c, tooBig)
	waitFor(t, "the server to end the connection", func() bool { return ts.clientCount() == 0 })
	if got := dialRaw(t, ts.addr).do("PING"); got != simple("PONG") {
		t.Errorf("a second client, with one lingering: %q", got)
	}
	if line, _ := rc.br.ReadString('\n'); line != msgTooBig {
		t.Errorf("lingering client read %q, want %q", line, msgTooBig)
	}
	start := time.Now()
	ts.stop(t)
	if took := time.Since(start); took > lingerTime/2 {
		t.Errorf("Shutdown took %v with a connection lingering", took)
	}
}

// sendAll writes parts to c in 64 KiB pieces until all are sent or a
// write fails.
func sendAll(c net.Conn, parts []string) error {
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for _, p := range parts {
		for len(p) > 0 {
			n := min(len(p), 64<<10)
			if _, err := io.WriteString(c, p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
	}
	return nil
}
