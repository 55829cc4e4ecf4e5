package webview_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/webview"
)

// site is a dsmd (a server.Server in the test process) with its web view,
// both on loopback ports that stay the same across a restart.
type site struct {
	t       testing.TB
	cfg     server.Config
	vcfg    webview.Config
	addr    string // RESP
	webAddr string
	srv     *server.Server
	done    chan struct{}
}

// startSite serves a new file (1024 variables unless cfg says) with its
// web view; it is stopped when the test ends.
func startSite(t testing.TB, cfg server.Config, vcfg webview.Config) *site {
	t.Helper()
	if cfg.File == "" {
		cfg.File = filepath.Join(t.TempDir(), "dsm.mem")
	}
	if cfg.Vars == 0 {
		cfg.Vars = 1024
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	vcfg.Logger = cfg.Logger
	s := &site{t: t, cfg: cfg, vcfg: vcfg, addr: "127.0.0.1:0", webAddr: "127.0.0.1:0"}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *site) start() error {
	l, err := listenRetry(s.addr)
	if err != nil {
		return err
	}
	wl, err := listenRetry(s.webAddr)
	if err != nil {
		l.Close()
		return err
	}
	srv, err := server.New(s.cfg)
	if err != nil {
		l.Close()
		wl.Close()
		return err
	}
	s.addr, s.webAddr, s.srv = l.Addr().String(), wl.Addr().String(), srv
	s.done = make(chan struct{})
	v := webview.New(srv, s.vcfg)
	go func() {
		defer close(s.done)
		go v.Serve(wl)
		srv.Serve(l)
	}()
	return nil
}

// listenRetry retries for a moment: right after a stop the port may still
// be held.
func listenRetry(addr string) (net.Listener, error) {
	var err error
	for range 100 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// stop shuts dsmd down (its web view with it); stopping twice does nothing.
func (s *site) stop() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	<-s.done
	s.srv = nil
}

// restart starts dsmd again on the same addresses and file.
func (s *site) restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) url() string { return "http://" + s.webAddr + "/" }

// redisCLI runs redis-cli against the site and returns its output.
func (s *site) redisCLI(args ...string) string {
	s.t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		ci.NeedOrSkip(s.t, "redis-cli is not installed (Debian: redis-tools)")
	}
	host, port, _ := net.SplitHostPort(s.addr)
	all := append([]string{"-h", host, "-p", port}, args...)
	if s.cfg.Password != "" {
		all = append([]string{"--no-auth-warning", "-a", s.cfg.Password}, all...)
	}
	out, err := exec.Command(path, all...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// rawClient is a RESP connection that a test drives line by line.
type rawClient struct {
	nc net.Conn
	br *bufio.Reader
}

func (s *site) dial(t testing.TB) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{nc: nc, br: bufio.NewReader(nc)}
}

// send writes an inline command.
func (c *rawClient) send(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(c.nc, line+"\r\n"); err != nil {
		t.Fatal(err)
	}
}

// line reads one reply line.
func (c *rawClient) line(t testing.TB) string {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(l, "\r\n")
}

// chromium finds Debian's chromium: a skip outside CI when it is missing,
// a failure in CI (.ci/run installs it).
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	ci.NeedOrSkip(t, "chromium is not installed (Debian: apt-get install chromium)")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile and no
// network of its own, and returns a tab's context; it ends with the test.
func newBrowser(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser actions, failing the test with what was being done.
func do(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript expression in the page until it is truthy.
func waitFor(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		// A navigation (a form posted, a reload) ends the poll's JavaScript
		// context: poll again in the new page.
		if err == nil || !strings.Contains(err.Error(), "context") && !strings.Contains(err.Error(), "navigated") || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, text)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// cellOf is the JavaScript expression of a variable's cell's text.
func cellOf(name, class string) string {
	return fmt.Sprintf(`(document.querySelector('#vars tr[data-name=%s] td.%s') || {}).textContent`, jsString(name), class)
}

// screenshot writes a screenshot of the page to the test's temporary
// directory, or to $DSM_SCREENSHOTS/name when that is set (docs/ keeps
// the one the README shows), and returns its path.
func screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("DSM_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// get fetches a path of the web view without a browser.
func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}
