package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustPrefixes(t testing.TB, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestClassify is the access rules' table.
func TestClassify(t *testing.T) {
	allow := mustPrefixes(t, "10.213.1.0/24", "2001:db8::/32")
	cases := []struct {
		password string
		allow    []netip.Prefix
		ip       string
		want     access
		deny     string
	}{
		{"", nil, "127.0.0.1", accessTrusted, ""},
		{"", nil, "::1", accessTrusted, ""},
		{"", nil, "10.213.1.5", accessDenied, msgProtected},
		{"pw", nil, "10.213.1.5", accessPassword, ""},
		{"", allow, "10.213.1.5", accessTrusted, ""},
		{"", allow, "::ffff:10.213.1.5", accessTrusted, ""},
		{"", allow, "2001:db8::1", accessTrusted, ""},
		{"", allow, "10.213.2.5", accessDenied, msgNotAllowed},
		{"pw", allow, "10.213.2.5", accessDenied, msgNotAllowed},
		{"pw", allow, "127.0.0.1", accessTrusted, ""},
	}
	for _, c := range cases {
		s := &Server{cfg: settings{Config: Config{Password: c.password, Allow: c.allow}}}
		got, deny := s.classify(&net.TCPAddr{IP: net.ParseIP(c.ip), Port: 1})
		if got != c.want || deny.msg != c.deny {
			t.Errorf("password %q allow %v, client %s: got %v %q, want %v %q", c.password, c.allow, c.ip, got, deny, c.want, c.deny)
		}
	}
}

// TestProtectedModeRefuses: with neither password nor allow-list, a
// non-loopback RESP client reads the DENIED explanation and is closed.
func TestProtectedModeRefuses(t *testing.T) {
	ts := startServer(t, Config{})
	c, done := pipeFrom(ts.Server, "198.51.100.9")
	defer c.Close()
	go c.Write([]byte(encode("PING")))
	got, _ := io.ReadAll(c)
	<-done
	line := string(got)
	if !strings.HasPrefix(line, "-DENIED ") || !strings.HasSuffix(line, "\r\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("protected mode reply = %q", line)
	}
	for _, hint := range []string{"protected mode", "-password", "-allow", "loopback"} {
		if !strings.Contains(line, hint) {
			t.Errorf("protected mode reply does not mention %q", hint)
		}
	}
}

// TestAuth covers NOAUTH, WRONGPASS and the ways to authenticate.
func TestAuth(t *testing.T) {
	ts := startServer(t, Config{Password: "s3cret"})
	rc := dialRaw(t, ts.addr)
	steps := []step{
		st(errReply(msgNoAuth), "PING"),
		st(errReply(msgNoAuth), "GET", "x"),
		st(errReply(msgNoAuth), "CLIENT", "SETNAME", "x"),
		st(errReply("ERR unknown command 'foo', with args beginning with: "), "foo"),
		st(arity("get"), "get"),
		st(errReply(msgHelloNoAuth), "HELLO", "3"),
		st(errReply(msgWrongPass), "HELLO", "3", "AUTH", "default", "wrong"),
		st(errReply(msgWrongPass), "AUTH", "wrong"),
		st(errReply(msgWrongPass), "AUTH", "default", "wrong"),
		st(errReply(msgWrongPass), "AUTH", "alice", "s3cret"),
		st(errReply(msgNoAuth), "PING"),
		st(okReply, "AUTH", "s3cret"),
		st(simple("PONG"), "PING"),
		st(okReply, "AUTH", "default", "s3cret"),
	}
	for _, s := range steps {
		if got := rc.do(s.args...); got != s.want {
			t.Errorf("%q: got %q, want %q", s.args, got, s.want)
		}
	}
	rc = dialRaw(t, ts.addr)
	if got := rc.do("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n1"); !strings.HasPrefix(got, "%7\r\n") {
		t.Errorf("HELLO 3 AUTH = %q", got)
	}
	if got := rc.do("CLIENT", "GETNAME"); got != bulk("n1") {
		t.Errorf("name after HELLO SETNAME = %q", got)
	}
	if got := rc.do("QUIT"); got != okReply {
		t.Errorf("QUIT = %q", got)
	}
	rc = dialRaw(t, ts.addr)
	if got := rc.do("QUIT"); got != okReply {
		t.Errorf("QUIT before AUTH = %q", got)
	}
}

// TestAuthGoRedis: go-redis authenticates inside HELLO; a wrong password
// is WRONGPASS.
func TestAuthGoRedis(t *testing.T) {
	ts := startServer(t, Config{Password: "s3cret"})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		if err := newRedis(t, ts.addr, proto, "s3cret").Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Errorf("RESP%d with the password: %v", proto, err)
		}
		err := newRedis(t, ts.addr, proto, "wrong").Ping(ctx).Err()
		if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("RESP%d with a wrong password: %v", proto, err)
		}
		if err := newRedis(t, ts.addr, proto, "").Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
			t.Errorf("RESP%d without a password: %v", proto, err)
		}
	}
}

// TestPreAuthLimits: before AUTH a command may have at most 10 arguments of
// 16 KiB; after AUTH the normal limits apply.
func TestPreAuthLimits(t *testing.T) {
	ts := startServer(t, Config{Password: "pw"})
	big := strings.Repeat("x", 20<<10)
	cases := map[string]string{
		encode("AUTH", "pw", "a", "b", "c", "d", "e", "f", "g", "h", "i"): "-ERR Protocol error: unauthenticated multibulk length\r\n",
		encode("AUTH", big): "-ERR Protocol error: unauthenticated bulk length\r\n",
	}
	for in, want := range cases {
		rc := dialRaw(t, ts.addr)
		rc.send(in)
		if got, closed := rc.closed(5 * time.Second); got != want || !closed {
			t.Errorf("pre-auth %.40q: got %q closed=%v, want %q", in, got, closed, want)
		}
	}
	rc := dialRaw(t, ts.addr)
	rc.do("AUTH", "pw")
	args := []string{"MSET"}
	for i := 0; i < 10; i++ {
		args = append(args, "k", big[:100])
	}
	if got := rc.do(args...); got != okReply {
		t.Errorf("21 arguments after AUTH: %q", got)
	}
	if got := rc.do("ECHO", big); got != bulk(big) {
		t.Errorf("20 KiB argument after AUTH: %.60q", got)
	}
}

// TestAuthTimeout: a client that does not authenticate in time is closed;
// one that did stays.
func TestAuthTimeout(t *testing.T) {
	ts := startServer(t, Config{Password: "pw", AuthTimeout: 300 * time.Millisecond})
	idle := dialRaw(t, ts.addr)
	authed := dialRaw(t, ts.addr)
	authed.do("AUTH", "pw")
	if _, closed := idle.closed(5 * time.Second); !closed {
		t.Fatalf("unauthenticated client still open")
	}
	time.Sleep(400 * time.Millisecond)
	if got := authed.do("PING"); got != simple("PONG") {
		t.Errorf("authenticated client after the auth timeout: %q", got)
	}
}

// TestMaxClients: the RESP client past MaxClients is told so once it sends
// its first command, and closed; once a client leaves, a new one is
// admitted.
func TestMaxClients(t *testing.T) {
	ts := startServer(t, Config{MaxClients: 2})
	a, b := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	a.do("PING")
	b.do("PING")
	c := dialRaw(t, ts.addr)
	c.send(encode("PING"))
	if got, closed := c.closed(5 * time.Second); got != errReply(msgMaxClients) || !closed {
		t.Fatalf("third client: %q closed=%v", got, closed)
	}
	a.do("QUIT")
	waitFor(t, "the server to drop the client that quit", func() bool { return ts.clientCount() <= 1 })
	if got := dialRaw(t, ts.addr).do("PING"); got != simple("PONG") {
		t.Errorf("client after one left: %q", got)
	}
}

// TestTimeouts: a half-sent request is cut after RequestTimeout, and an
// idle client after IdleTimeout; a busy one stays.
func TestTimeouts(t *testing.T) {
	ts := startServer(t, Config{RequestTimeout: 300 * time.Millisecond, IdleTimeout: 600 * time.Millisecond})
	half := dialRaw(t, ts.addr)
	half.send("*2\r\n$3\r\nGET\r\n$1")
	idle := dialRaw(t, ts.addr)
	busy := dialRaw(t, ts.addr)
	start := time.Now()
	if _, closed := half.closed(5 * time.Second); !closed {
		t.Errorf("half-sent request still open")
	}
	for time.Since(start) < 900*time.Millisecond {
		if got := busy.do("PING"); got != simple("PONG") {
			t.Fatalf("busy client: %q", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, closed := idle.closed(5 * time.Second); !closed {
		t.Errorf("idle client still open")
	}
}

// seedRead does what the seed's client does for R: it sends "R" and reads
// 4 bytes. It returns the bytes it read and the read's error.
func seedRead(c net.Conn) ([]byte, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go c.Write([]byte("R")) // a pipe's write waits for the server to read
	buf := make([]byte, 4)
	n, err := io.ReadFull(c, buf)
	return buf[:n], err
}

// endedWithoutValue reports whether a seed read ended with no byte, by the
// end of the stream or a reset.
func endedWithoutValue(got []byte, err error) bool {
	return len(got) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

// TestRefusedSeedClientReadsNoValue: a seed client that the access rules
// refuse reads no byte (the seed's client would print "-DEN" as the value
// 1313162285), while a RESP client from the same address is told why; both
// refusals are logged with the reason and the address.
func TestRefusedSeedClientReadsNoValue(t *testing.T) {
	cases := []struct {
		name, client, reason, deny string
		cfg                        Config
	}{
		{"protected mode", "198.51.100.9", "protected_mode", msgProtected, Config{}},
		{"allow-list", "198.51.100.9", "not_in_allow_list", msgNotAllowed, Config{Allow: mustPrefixes(t, "192.0.2.0/24")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &lockedLog{}
			tc.cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			ts := startServer(t, tc.cfg)
			c, done := pipeFrom(ts.Server, tc.client)
			got, err := seedRead(c)
			c.Close()
			<-done
			if !endedWithoutValue(got, err) {
				t.Errorf("seed client read %q, %v; want the connection to end with no byte", got, err)
			}
			want := `msg="client refused" addr=` + tc.client + ":40000 reason=" + tc.reason + " proto=seed"
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log has no %s:\n%s", want, logs)
			}
			c, done = pipeFrom(ts.Server, tc.client)
			go c.Write([]byte(encode("PING")))
			line, _ := io.ReadAll(c)
			c.Close()
			<-done
			if string(line) != errReply(tc.deny) {
				t.Errorf("RESP client read %q, want the DENIED explanation", line)
			}
		})
	}
}

// TestRefusedSilentClientClosed: a refused client that sends nothing is
// closed without a word after refuseWait, since it may be a seed client
// whose user has not typed yet.
func TestRefusedSilentClientClosed(t *testing.T) {
	ts := startServer(t, Config{})
	c, done := pipeFrom(ts.Server, "198.51.100.9")
	defer c.Close()
	got, err := io.ReadAll(c)
	<-done
	if len(got) != 0 || err != nil {
		t.Errorf("silent refused client read %q, %v; want a close without a word", got, err)
	}
}

// TestRefusalsWaitingBounded: at most refuseSlots refused clients wait for
// their first bytes; past them a refused client is closed at once without
// a word, so refused clients cannot hold the places of admitted ones.
func TestRefusalsWaitingBounded(t *testing.T) {
	ts := startServer(t, Config{MaxClients: refuseSlots + 2})
	for i := 0; i < refuseSlots; i++ {
		c, _ := pipeFrom(ts.Server, "198.51.100.9")
		defer c.Close()
	}
	waitFor(t, "the silent refused clients to wait", func() bool { return len(ts.refusing) == refuseSlots })
	c, done := pipeFrom(ts.Server, "198.51.100.9")
	defer c.Close()
	go c.Write([]byte(encode("PING")))
	if got, err := io.ReadAll(c); len(got) != 0 || err != nil {
		t.Errorf("refused client past the waiting ones read %q, %v; want a close without a word", got, err)
	}
	<-done
	if got := dialRaw(t, ts.addr).do("PING"); got != simple("PONG") {
		t.Errorf("loopback client while refused ones wait: %q", got)
	}
}

// TestMaxClientsRefusal: a seed client past MaxClients reads no byte (the
// seed's client would print "-ERR" as the value 1381123373), while a RESP
// client past it is told; both refusals are logged and counted in the
// metrics with the reason.
func TestMaxClientsRefusal(t *testing.T) {
	logs := &lockedLog{}
	ts := startServer(t, Config{MaxClients: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	dialRaw(t, ts.addr).do("PING")
	seed := dialRaw(t, ts.addr)
	if got, err := seedRead(seed.c); !endedWithoutValue(got, err) {
		t.Errorf("seed client past MaxClients read %q, %v; want the connection to end with no byte", got, err)
	}
	c := dialRaw(t, ts.addr)
	c.send(encode("PING"))
	if got, closed := c.closed(5 * time.Second); got != errReply(msgMaxClients) || !closed {
		t.Errorf("RESP client past MaxClients: %q closed=%v", got, closed)
	}
	for _, proto := range []string{"seed", "resp"} {
		want := `msg="client refused" addr=` + seed.c.LocalAddr().String()
		if proto == "resp" {
			want = `msg="client refused" addr=` + c.c.LocalAddr().String()
		}
		want += " reason=max_clients proto=" + proto
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %s:\n%s", want, logs)
		}
	}
	if want := `dsm_connections_rejected_total{reason="max_clients"} 2`; !strings.Contains(ts.scrapeMetrics(t), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestMaxClientsWaitingBounded: clients past MaxClients wait for their
// first bytes in the refuseSlots places that refused clients share, one
// goroutine each; one past them is closed at once without a word and
// leaves nothing running, and Shutdown does not wait out the silent ones.
func TestMaxClientsWaitingBounded(t *testing.T) {
	ts := startServer(t, Config{MaxClients: 1})
	dialRaw(t, ts.addr).do("PING")
	base := ts.goroutines.Load()
	for i := 0; i < refuseSlots; i++ {
		dialRaw(t, ts.addr)
	}
	waitFor(t, "the silent clients past MaxClients to wait", func() bool { return len(ts.refusing) == refuseSlots })
	c := dialRaw(t, ts.addr)
	c.send(encode("PING"))
	if got, closed := c.closed(refuseWait / 2); got != "" || !closed {
		t.Errorf("client past the waiting ones read %q (closed=%v); want a close without a word at once", got, closed)
	}
	if n := ts.goroutines.Load() - base; n != refuseSlots {
		t.Errorf("%d goroutines for %d waiting refused clients", n, refuseSlots)
	}
	start := time.Now()
	ts.stop(t)
	if d := time.Since(start); d >= refuseWait {
		t.Errorf("Shutdown took %v: it waited for silent refused clients", d)
	}
}
