package server

import (
	"bufio"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func seedW(n int32) string {
	var b [5]byte
	b[0] = 'W'
	binary.LittleEndian.PutUint32(b[1:], uint32(n))
	return string(b[:])
}

func seedValue(n int32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	return string(b[:])
}

// TestSeedProtocol speaks the seed's protocol as its Python client does:
// "R" reads 4 bytes, "W"+4 bytes reads "OK".
func TestSeedProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.send("R")
	if got := rc.readN(4); got != seedValue(0) {
		t.Errorf("R on a new file = %q, want 0", got)
	}
	rc.send(seedW(20))
	if got := rc.readN(2); got != "OK" {
		t.Errorf("W = %q, want OK", got)
	}
	rc.send("R")
	if got := rc.readN(4); got != seedValue(20) {
		t.Errorf("R after W 20 = %q", got)
	}
	// Pipelined, with blanks between requests as a person typing into nc sends.
	rc.send("R\n" + seedW(-7) + " R\r\n")
	if got := rc.readN(10); got != seedValue(20)+"OK"+seedValue(-7) {
		t.Errorf("pipelined seed = %q", got)
	}
	// The same variable over RESP: an integer.
	resp := dialRaw(t, ts.addr)
	if got := resp.do("GET", "value"); got != bulk("-7") {
		t.Errorf("GET value = %q", got)
	}
}

// TestSeedReadsLow32Bits: R returns the low 32 bits of a larger integer and
// 0 for a value that is not an integer.
func TestSeedReadsLow32Bits(t *testing.T) {
	ts := startServer(t, Config{})
	resp := dialRaw(t, ts.addr)
	for _, c := range []struct {
		set  string
		want int32
	}{
		{"4294967297", 1}, {"-1", -1}, {"2147483648", -2147483648}, {"text", 0}, {"", 0},
	} {
		resp.do("SET", "value", c.set)
		seed := dialRaw(t, ts.addr)
		seed.send("R")
		if got := seed.readN(4); got != seedValue(c.want) {
			t.Errorf("value %q: R = %x, want %d", c.set, got, c.want)
		}
	}
}

// TestSeedBadByteCloses: a byte that is no request closes the connection
// after the replies to the requests before it.
func TestSeedBadByteCloses(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.send("RX")
	got, closed := rc.closed(5 * time.Second)
	if got != seedValue(0) || !closed {
		t.Errorf("RX: got %q closed=%v, want 4 bytes and a close", got, closed)
	}
}

// TestSeedDeniedWithPasswordOnly: a client outside loopback and the
// allow-list may use RESP with AUTH, but not the seed protocol, whose
// connection ends with no byte a seed client could take for a value.
func TestSeedDeniedWithPasswordOnly(t *testing.T) {
	ts := startServer(t, Config{Password: "pw"})
	c, done := pipeFrom(ts.Server, "192.0.2.7")
	defer c.Close()
	if got, err := seedRead(c); !endedWithoutValue(got, err) {
		t.Errorf("seed from a remote network read %q, %v; want the connection to end with no byte", got, err)
	}
	<-done
	c, done = pipeFrom(ts.Server, "192.0.2.7")
	defer c.Close()
	br := bufio.NewReader(c)
	go c.Write([]byte(encode("AUTH", "pw") + encode("PING") + encode("QUIT")))
	for _, want := range []string{okReply, simple("PONG"), okReply} {
		if got, err := readReply(br); got != want {
			t.Errorf("RESP with AUTH from a remote network: %q, %v; want %q", got, err, want)
		}
	}
	<-done
}

// TestSeedInAllowedNetwork: the allow-list admits the seed protocol (with
// a password, only under SeedOpen).
func TestSeedInAllowedNetwork(t *testing.T) {
	ts := startServer(t, Config{Password: "pw", SeedOpen: true, Allow: mustPrefixes(t, "192.0.2.0/24")})
	c, done := pipeFrom(ts.Server, "192.0.2.7")
	go c.Write([]byte(seedW(5) + "R"))
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "OK"+seedValue(5) {
		t.Errorf("seed from an allowed network: %q, %v", buf, err)
	}
	c.Close()
	<-done
}

// TestSeedNeedsSeedOpenWithPassword: with a password the seed protocol,
// which has no AUTH, is refused to every client, loopback included: R reads
// no byte and W changes nothing. SeedOpen serves it to loopback and allowed
// networks, but still not to a client admitted by the password alone.
func TestSeedNeedsSeedOpenWithPassword(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Config{Password: "pw", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if got, err := seedRead(dialRaw(t, ts.addr).c); !endedWithoutValue(got, err) {
		t.Errorf("seed R on loopback with a password read %q, %v; want the connection to end with no byte", got, err)
	}
	w := dialRaw(t, ts.addr)
	w.send(seedW(7))
	if got, closed := w.closed(5 * time.Second); got != "" || !closed {
		t.Errorf("seed W on loopback with a password: got %q closed=%v", got, closed)
	}
	rc := dialRaw(t, ts.addr)
	rc.do("AUTH", "pw")
	if got := rc.do("GET", "value"); got != null2 {
		t.Errorf("value after a refused W = %q, want none", got)
	}
	if want := "reason=seed_with_password_needs_seed_open proto=seed"; !strings.Contains(logs.String(), want) {
		t.Errorf("log has no %s:\n%s", want, logs)
	}

	open := startServer(t, Config{Password: "pw", SeedOpen: true})
	sc := dialRaw(t, open.addr)
	sc.send(seedW(7) + "R")
	if got := sc.readN(6); got != "OK"+seedValue(7) {
		t.Errorf("seed on loopback with SeedOpen = %q", got)
	}
	c, done := pipeFrom(open.Server, "192.0.2.7")
	defer c.Close()
	if got, err := seedRead(c); !endedWithoutValue(got, err) {
		t.Errorf("seed with SeedOpen from a network admitted by the password alone read %q, %v", got, err)
	}
	<-done
}

var _ net.Conn = addrConn{}

// TestSeedOutputLimit: seed replies go through the connection's one reply
// buffer, so OutputLimit bounds them as it bounds RESP replies: a
// pipelined batch of reads whose answers exceed it closes the connection,
// with nothing sent, and is counted; others are not disturbed.
func TestSeedOutputLimit(t *testing.T) {
	ts := startServer(t, Config{OutputLimit: 16})
	rc := dialRaw(t, ts.addr)
	rc.send(strings.Repeat("R", 100)) // 400 bytes of replies
	got, closed := rc.closed(5 * time.Second)
	if !closed {
		t.Fatalf("seed client over its output limit still open")
	}
	if len(got) > 16 {
		t.Errorf("%d bytes sent past a limit of 16", len(got))
	}
	waitFor(t, "the disconnection to be counted", func() bool { return ts.stats.outputLimit.Load() > 0 })
	other := dialRaw(t, ts.addr)
	other.send("R")
	if got := other.readN(4); got != seedValue(0) {
		t.Errorf("other seed client: R = %q", got)
	}
}
