package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testVars keeps test files small: shm allocates the whole file at creation.
const testVars = 2048

// testServer is a Server serving on 127.0.0.1:0 for one test.
type testServer struct {
	*Server
	addr   string
	served chan error
	once   sync.Once
}

// startServer builds a Server from cfg (a file in t.TempDir() and a silent
// logger unless given) and serves it on 127.0.0.1:0. Cleanup shuts it down
// and checks that Serve returned ErrServerClosed.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.File == "" {
		cfg.File = filepath.Join(t.TempDir(), "dsm.mem")
	}
	if cfg.Vars == 0 {
		cfg.Vars = testVars
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{Server: s, addr: l.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- s.Serve(l) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down (once) and checks how Serve ended.
func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	ts.once.Do(func() { ts.stopOnce(t) })
}

func (ts *testServer) stopOnce(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-ts.served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Serve did not return after Shutdown")
	}
}

// rawClient speaks bytes to a server and reads raw replies.
type rawClient struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

// encode writes args as a RESP multibulk command.
func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (r *rawClient) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// do sends one command and returns its raw reply.
func (r *rawClient) do(args ...string) string {
	r.t.Helper()
	r.send(encode(args...))
	return r.reply()
}

func (r *rawClient) reply() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := readReply(r.br)
	if err != nil {
		r.t.Fatalf("read reply: %v (got %q)", err, s)
	}
	return s
}

// readN reads exactly n bytes (seed protocol replies).
func (r *rawClient) readN(n int) string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		r.t.Fatalf("read %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

// closed waits until the server closes the connection, skipping anything
// it sends first, and reports what it sent.
func (r *rawClient) closed(within time.Duration) (string, bool) {
	r.c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), false
	}
	return string(b), true
}

// readReply reads one RESP2 or RESP3 reply and returns its raw bytes.
func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return line, fmt.Errorf("malformed reply line %q", line)
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return line, nil
	case '$', '=', '!':
		return readBulkBody(br, line, n)
	case '*', '%', '~', '>':
		if line[0] == '%' {
			n *= 2
		}
		return readElements(br, line, n)
	}
	return line, fmt.Errorf("unknown reply type %q", line)
}

func readBulkBody(br *bufio.Reader, line string, n int) (string, error) {
	if n < 0 {
		return line, nil
	}
	body := make([]byte, n+2)
	_, err := io.ReadFull(br, body)
	return line + string(body), err
}

func readElements(br *bufio.Reader, line string, n int) (string, error) {
	out := line
	for i := 0; i < n; i++ {
		r, err := readReply(br)
		out += r
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// newRedis returns a go-redis client with its default options (so that the
// handshake is the one every go-redis user sends) and the given protocol.
func newRedis(t testing.TB, addr string, proto int, password string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: proto, Password: password,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 5*time.Second, what, cond)
}

// waitWithin polls cond for up to d.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// lockedLog is a log destination safe for concurrent use: a server's
// logger, or a dsmd child's stderr read while the test looks at it.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bulk and friends build expected raw replies.
func bulk(s string) string     { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
func integer(n int64) string   { return fmt.Sprintf(":%d\r\n", n) }
func simple(s string) string   { return "+" + s + "\r\n" }
func errReply(s string) string { return "-" + s + "\r\n" }

const null2 = "$-1\r\n"

// scrapeMetrics serves ts's metrics on a fresh listener (ServeMetrics ends
// when ts shuts down) and returns the body of one GET /metrics.
func (ts *testServer) scrapeMetrics(t testing.TB) string {
	t.Helper()
	return scrape(t, ts.serveMetrics(t))
}

// serveMetrics serves ts's metrics and pprof on a new loopback listener and
// returns its address.
func (ts *testServer) serveMetrics(t testing.TB) string {
	t.Helper()
	l := newListener(t)
	go ts.ServeMetrics(l)
	return l.Addr().String()
}

// scrape returns the body of one GET /metrics from addr.
func scrape(t testing.TB, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, %v", res.StatusCode, err)
	}
	return string(body)
}
