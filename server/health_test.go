package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// get returns the status and body of one GET of path from addr.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// TestHealthAndReady: the metrics listener answers /healthz while the
// process lives and /readyz while the server serves and ReadyCheck agrees
// (503 with its reason when not); pprof is there only with Config.Pprof.
func TestHealthAndReady(t *testing.T) {
	var notReady atomic.Pointer[error]
	ts := startServer(t, Config{ReadyCheck: func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}})
	addr := ts.serveMetrics(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, addr, path); code != http.StatusOK || body != "ok\n" {
			t.Errorf("GET %s: %d %q", path, code, body)
		}
	}
	noLeader := errors.New("no leader known")
	notReady.Store(&noLeader)
	if code, body := get(t, addr, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no leader known") {
		t.Errorf("GET /readyz with ReadyCheck failing: %d %q", code, body)
	}
	if code, _ := get(t, addr, "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz with ReadyCheck failing: %d", code)
	}
	if code, _ := get(t, addr, "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ without Pprof: %d, want 404", code)
	}

	withPprof := startServer(t, Config{Pprof: true})
	if code, body := get(t, withPprof.serveMetrics(t), "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ with Pprof: %d", code)
	}
}

// TestNotReadyWhileClosing: a server that has begun to shut down is not
// ready.
func TestNotReadyWhileClosing(t *testing.T) {
	ts := startServer(t, Config{})
	if err := ts.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	ts.closing.Store(true)
	defer ts.closing.Store(false)
	if err := ts.Ready(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Ready while closing: %v", err)
	}
}

// TestLockMetrics: LOCK's wait for locks another client holds, and each
// hold until UNLOCK, are observed in the lock histograms by mode.
func TestLockMetrics(t *testing.T) {
	ts := startServer(t, Config{})
	holder, waiter := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	if got := holder.do("LOCK", "WRITE", "a"); got != okReply {
		t.Fatalf("LOCK: %q", got)
	}
	waiter.send(encode("LOCK", "READ", "WAIT", "5000", "a"))
	time.Sleep(100 * time.Millisecond)
	holder.do("UNLOCK")
	if got := waiter.reply(); got != okReply {
		t.Fatalf("waiting LOCK: %q", got)
	}
	waiter.do("UNLOCK")
	body := ts.scrapeMetrics(t)
	for _, want := range []string{
		`dsm_lock_wait_seconds_count{mode="write"} 1`, `dsm_lock_wait_seconds_count{mode="read"} 1`,
		`dsm_lock_hold_seconds_count{mode="write"} 1`, `dsm_lock_hold_seconds_count{mode="read"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The reader waited for the writer's hold: both at least 100 ms.
	for _, name := range []string{`dsm_lock_wait_seconds_sum{mode="read"}`, `dsm_lock_hold_seconds_sum{mode="write"}`} {
		if v := metricValue(t, body, name); v < 0.1 {
			t.Errorf("%s = %v, want at least 0.1", name, v)
		}
	}
}

// metricValue is the value of the sample name in a scrape.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return 0
}
