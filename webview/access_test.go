package webview_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/webview"
)

// TestAccessRules: the web view applies the daemon's rules to the HTTP
// client's address: protected mode admits loopback only, an allow-list
// its networks, a password anyone who logs in.
func TestAccessRules(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name   string
		cfg    server.Config
		remote string
		code   int
		body   string
	}{
		{"protected, loopback", server.Config{}, "127.0.0.1:4000", 200, `id="vars"`},
		{"protected, remote", server.Config{}, "192.0.2.7:4000", 403, "protected mode"},
		{"allow-list, inside", server.Config{Allow: allow}, "10.1.2.3:4000", 200, `id="vars"`},
		{"allow-list, outside", server.Config{Allow: allow}, "192.0.2.7:4000", 403, "-allow list"},
		{"password, remote", server.Config{Password: "pw"}, "192.0.2.7:4000", 200, `type="password"`},
		{"password, loopback", server.Config{Password: "pw"}, "127.0.0.1:4000", 200, `type="password"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startSite(t, tt.cfg, webview.Config{})
			h := webview.New(s.srv, webview.Config{}).Handler()
			req := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
			req.RemoteAddr = tt.remote
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("GET / from %s: %d, want %d with %q:\n%.300s", tt.remote, rec.Code, tt.code, tt.body, rec.Body.String())
			}
		})
	}
}

// TestHostNames: without a password, a request that names the host by a
// DNS name other than localhost is refused (DNS rebinding).
func TestHostNames(t *testing.T) {
	s := startSite(t, server.Config{}, webview.Config{})
	h := webview.New(s.srv, webview.Config{}).Handler()
	for host, code := range map[string]int{
		"127.0.0.1:8080": 200, "[::1]:8080": 200, "localhost:8080": 200, "LOCALHOST": 200,
		"attacker.example:8080": http.StatusMisdirectedRequest, "dsm.internal": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host, req.RemoteAddr = host, "127.0.0.1:4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != code {
			t.Errorf("Host %s: %d, want %d", host, rec.Code, code)
		}
	}
}

// TestWriteNeedsJSON: a write must be JSON from the view's own origin, so
// that a form or a script of another site cannot set a variable.
func TestWriteNeedsJSON(t *testing.T) {
	s := startSite(t, server.Config{}, webview.Config{Write: true})
	for _, tt := range []struct {
		ctype, origin string
		code          int
	}{
		{"application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType},
		{"text/plain", "", http.StatusUnsupportedMediaType},
		{"application/json", "http://attacker.example", http.StatusForbidden},
		{"application/json", "http://" + s.webAddr, http.StatusOK},
		{"application/json", "", http.StatusOK},
	} {
		req, _ := http.NewRequest("POST", s.url()+"api/set", strings.NewReader(`{"name":"k","value":"v"}`))
		req.Header.Set("Content-Type", tt.ctype)
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s from %q: %d, want %d", tt.ctype, tt.origin, resp.StatusCode, tt.code)
		}
	}
	req, _ := http.NewRequest("POST", s.url()+"api/set", strings.NewReader(`{"name":"n","value":"`+strings.Repeat("x", 300)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b.String(), "ERR") {
		t.Errorf("a value too long for the file: %d %q, want 422 with the daemon's error", resp.StatusCode, b.String())
	}
}

// TestStreamCoalesces: 20,000 changes of one variable, made as fast as a
// pipelined client can, reach a page as a few "changes" events (at most
// one per interval), the last of them with the final value.
func TestStreamCoalesces(t *testing.T) {
	const interval = 200 * time.Millisecond
	s := startSite(t, server.Config{}, webview.Config{Interval: interval})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url()+"events?match=hot", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan [2]string, 1024)
	go readEvents(resp, events)
	waitEvent(t, events, "vars")

	c := s.dial(t)
	start := time.Now()
	const n = 20000
	var batch strings.Builder
	for i := range n {
		batch.WriteString("SET hot " + itoa(i+1) + "\r\n")
	}
	c.send(t, strings.TrimSuffix(batch.String(), "\r\n"))
	for range n {
		c.line(t)
	}
	sent := 0
	for {
		data := waitEvent(t, events, "changes")
		sent++
		var ups []struct {
			Name, Value string
			Version     uint64
		}
		if err := json.Unmarshal([]byte(data), &ups); err != nil || len(ups) != 1 || ups[0].Name != "hot" {
			t.Fatalf("changes event %q: %v", data, err)
		}
		if ups[0].Value == itoa(n) {
			break
		}
	}
	most := int(time.Since(start)/interval) + 2
	t.Logf("%d changes reached the page as %d events in %v", n, sent, time.Since(start).Round(time.Millisecond))
	if sent > most {
		t.Errorf("%d events, more than one per %v (%d)", sent, interval, most)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// readEvents parses a Server-Sent Events stream into (event, data) pairs.
func readEvents(resp *http.Response, out chan<- [2]string) {
	defer close(out)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out <- [2]string{name, strings.TrimPrefix(line, "data: ")}
		}
	}
}

// waitEvent returns the data of the next event of that name, skipping
// others.
func waitEvent(t *testing.T, events <-chan [2]string, name string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if e[0] == name {
				return e[1]
			}
		case <-timeout:
			t.Fatalf("no %q event within 20 s", name)
		}
	}
}
