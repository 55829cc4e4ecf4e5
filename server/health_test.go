package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
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
