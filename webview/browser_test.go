package webview_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/dsmbin"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/webview"
)

// The tests here drive a real headless Chromium through the page, as a
// person would: they change the memory from outside (redis-cli, a local
// process through the mapping, LOCK on a connection) and wait for the page
// to show it, without reloading it.

// markPage sets a mark in the page's JavaScript state; a reload would
// lose it, so finding it later proves the page was updated in place.
func markPage(t *testing.T, ctx context.Context) {
	t.Helper()
	eval[bool](t, ctx, `window.dsmTestMark = true`)
}

func stillMarked(t *testing.T, ctx context.Context) {
	t.Helper()
	if !eval[bool](t, ctx, `window.dsmTestMark === true`) {
		t.Fatal("the page was reloaded: its mark is gone")
	}
}

// TestPageShowsChanges: a variable changed by redis-cli and then by a
// local process (dsm -file, through the mapping, without the daemon)
// appears on the open page, highlighted, without a reload.
func TestPageShowsChanges(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{})
	bin := t.TempDir()
	if err := dsmbin.Build(bin, dsmbin.Dsm); err != nil {
		t.Fatal(err)
	}
	s.redisCLI("set", "greeting", "hello")
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	waitFor(t, ctx, "the listing", cellOf("greeting", "value")+` === "hello"`)
	markPage(t, ctx)

	s.redisCLI("set", "counter", "41")
	waitFor(t, ctx, "redis-cli's value", cellOf("counter", "value")+` === "41"`)
	if v := eval[string](t, ctx, cellOf("counter", "version")); v != "1" {
		t.Errorf("version shown %q, want 1", v)
	}

	out, err := exec.Command(filepath.Join(bin, "dsm"), "-file", s.cfg.File, "add", "counter", "1").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("dsm -file add: %v: %s", err, out)
	}
	waitFor(t, ctx, "the local process's value", cellOf("counter", "value")+` === "42"`)
	waitFor(t, ctx, "the change highlighted", `document.querySelector('#vars tr[data-name="counter"]').classList.contains("flash")`)
	if v := eval[string](t, ctx, cellOf("counter", "version")); v != "2" {
		t.Errorf("version shown %q, want 2", v)
	}
	if c := eval[string](t, ctx, cellOf("counter", "changed")); !strings.HasSuffix(c, "ago") {
		t.Errorf("time of the last change shown %q, want \"N s ago\"", c)
	}
	s.redisCLI("del", "greeting")
	waitFor(t, ctx, "the deletion", `document.querySelector('#vars tr[data-name="greeting"]').classList.contains("gone")`)
	stillMarked(t, ctx)
	screenshot(t, ctx, "webview-changes.png")
}

// TestPageFilter: the glob filter limits the listing and the changes.
func TestPageFilter(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{})
	s.redisCLI("mset", "job.1", "a", "job.2", "b", "other", "c")
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()+"?match="+url.QueryEscape("job.*")))
	waitFor(t, ctx, "the filtered listing", cellOf("job.2", "value")+` === "b"`)
	s.redisCLI("mset", "job.3", "d", "zzz", "e")
	waitFor(t, ctx, "a new matching variable", cellOf("job.3", "value")+` === "d"`)
	s.redisCLI("set", "job.1", "f") // a later change: zzz's, if it were sent, came before
	waitFor(t, ctx, "a later change", cellOf("job.1", "value")+` === "f"`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#vars tbody tr').length`); n != 3 {
		t.Errorf("%d rows shown, want the 3 job.* variables", n)
	}
	do(t, ctx, "changing the filter",
		chromedp.SetValue("#match", "other"), chromedp.Click("#filter button"))
	waitFor(t, ctx, "the new filter's listing", cellOf("other", "value")+` === "c" && document.querySelectorAll('#vars tbody tr').length === 1`)
}

// TestPageShowsLocks: a client's LOCK appears among the holders with its
// lease, a second client's LOCK on the same variable among the waiters,
// and both go when the locks are released.
func TestPageShowsLocks(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{})
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	markPage(t, ctx)

	holder := s.dial(t)
	holder.send(t, "LOCK WRITE LEASE 60000 account.a account.b")
	if r := holder.line(t); r != "+OK" {
		t.Fatalf("LOCK: %s", r)
	}
	holding := `[...document.querySelectorAll('#locks tbody tr')].some(r => r.cells[1].textContent === "holding" && r.cells[3].textContent === "account.a account.b" && r.cells[5].textContent.startsWith("lease "))`
	waitFor(t, ctx, "the lock holder", holding)

	waiter := s.dial(t)
	waiter.send(t, "LOCK READ WAIT 60000 account.a")
	waiting := `[...document.querySelectorAll('#locks tbody tr')].some(r => r.cells[1].textContent === "waiting" && r.cells[2].textContent === "read" && r.cells[3].textContent === "account.a")`
	waitFor(t, ctx, "the waiter", waiting)
	screenshot(t, ctx, "webview-locks.png")

	holder.send(t, "UNLOCK")
	if r := holder.line(t); r != ":2" {
		t.Fatalf("UNLOCK: %s", r)
	}
	if r := waiter.line(t); r != "+OK" {
		t.Fatalf("the waiter's LOCK: %s", r)
	}
	waitFor(t, ctx, "the waiter holding", `[...document.querySelectorAll('#locks tbody tr')].length === 1 && document.querySelector('#locks tbody tr').cells[1].textContent === "holding"`)
	waiter.nc.Close()
	waitFor(t, ctx, "no lock left", `document.querySelectorAll('#locks tbody tr').length === 0`)
	stillMarked(t, ctx)
}

// TestPageShowsClients: a connected client appears with its address,
// protocol and commands.
func TestPageShowsClients(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{})
	c := s.dial(t)
	c.send(t, "CLIENT SETNAME watcher")
	c.line(t)
	c.send(t, "PING")
	c.line(t)
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	addr := c.nc.LocalAddr().String()
	waitFor(t, ctx, "the client", fmt.Sprintf(
		`[...document.querySelectorAll('#clients tbody tr')].some(r => r.cells[1].textContent === %s && r.cells[2].textContent === "resp2" && r.cells[3].textContent === "2" && r.cells[4].textContent === "ping")`,
		jsString(addr+" (watcher)")))
	c.nc.Close()
	waitFor(t, ctx, "the client gone", `document.querySelectorAll('#clients tbody tr').length === 0`)
}

// TestPageLogin: with a password, the page asks for it first; a wrong one
// is refused, and so is every stream or write without a login.
func TestPageLogin(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{Password: "open sesame"}, webview.Config{Write: true})
	s.redisCLI("set", "secret", "42")

	for _, path := range []string{"events", "api/ping"} {
		if code, _ := get(t, http.DefaultClient, s.url()+path); code != http.StatusUnauthorized {
			t.Errorf("GET /%s without a login: %d, want 401", path, code)
		}
	}
	resp, err := http.Post(s.url()+"api/set", "application/json", strings.NewReader(`{"name":"secret","value":"0"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /api/set without a login: %d, want 401", resp.StatusCode)
	}

	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the login form", `!!document.querySelector('input[type=password]') && !document.querySelector('#vars')`)
	if body := eval[string](t, ctx, `document.body.innerText`); strings.Contains(body, "42") {
		t.Fatalf("the login page shows a value:\n%s", body)
	}
	do(t, ctx, "a wrong password",
		chromedp.SendKeys("#password", "guess"), chromedp.Click("button[type=submit]"))
	waitFor(t, ctx, "the refusal", `location.search.includes("failed") && !document.querySelector('#failed').hidden`)
	screenshot(t, ctx, "webview-login.png")

	do(t, ctx, "the right password",
		chromedp.SendKeys("#password", "open sesame"), chromedp.Click("button[type=submit]"))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	waitFor(t, ctx, "the value", cellOf("secret", "value")+` === "42"`)

	// The session is the browser's: a client without it is still refused.
	jar, _ := cookiejar.New(nil)
	if code, _ := get(t, &http.Client{Jar: jar}, s.url()+"events"); code != http.StatusUnauthorized {
		t.Errorf("GET /events with another client: %d, want 401", code)
	}
}

// TestPageSetsVariable: with -http-write the page sets a variable through
// the daemon; without it the page has no form and the daemon refuses.
func TestPageSetsVariable(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{Write: true})
	s.redisCLI("set", "flag", "off")
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the listing", cellOf("flag", "value")+` === "off"`)
	// Choosing a variable by keyboard fills the form.
	do(t, ctx, "choosing the variable", chromedp.Focus(`#vars tr[data-name="flag"] button`), chromedp.KeyEvent("\r"))
	waitFor(t, ctx, "the form filled", `document.querySelector('#set-name').value === "flag" && document.activeElement.id === "set-value"`)
	do(t, ctx, "setting it", chromedp.SetValue("#set-value", "on"), chromedp.Click("#setform button"))
	waitFor(t, ctx, "the reply", `document.querySelector('#set-result').textContent === "OK"`)
	if got := s.redisCLI("get", "flag"); got != "on" {
		t.Fatalf("GET flag after the page set it: %q", got)
	}
	waitFor(t, ctx, "the new value", cellOf("flag", "value")+` === "on"`)

	ro := startSite(t, server.Config{}, webview.Config{})
	do(t, ctx, "loading the read-only page", chromedp.Navigate(ro.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	if !eval[bool](t, ctx, `document.querySelector('#setform').hidden`) {
		t.Error("a read-only page shows the form")
	}
	resp, err := http.Post(ro.url()+"api/set", "application/json", strings.NewReader(`{"name":"flag","value":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /api/set on a read-only view: %d, want 403", resp.StatusCode)
	}
}

// TestPageSaysDaemonGone: stopping dsmd turns the page's status to "gone"
// at once; starting it again turns it back, and the page is live again.
func TestPageSaysDaemonGone(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{})
	s.redisCLI("set", "x", "1")
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	markPage(t, ctx)

	s.stop()
	waitFor(t, ctx, "the page saying dsmd is gone", `document.body.dataset.status === "gone" && document.querySelector('#status').textContent.startsWith("dsmd is gone")`)
	screenshot(t, ctx, "webview-gone.png")

	s.restart()
	waitFor(t, ctx, "the page saying dsmd is back", `document.body.dataset.status === "live" && document.querySelector('#status').textContent.startsWith("dsmd is back")`)
	s.redisCLI("set", "x", "2")
	waitFor(t, ctx, "a change after the restart", cellOf("x", "value")+` === "2"`)
	stillMarked(t, ctx)
}

// TestPagePhone: on a phone-sized screen the page has no horizontal
// overflow of the body (wide tables scroll inside their frames).
func TestPagePhone(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{Write: true})
	s.redisCLI("set", "a.rather.long.variable.name.for.a.phone", strings.Repeat("v", 80))
	do(t, ctx, "loading the page on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live" && document.querySelectorAll('#vars tbody tr').length === 1`)
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		wide := eval[string](t, ctx, `[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > document.documentElement.clientWidth).map(e => e.tagName + "#" + e.id + "." + e.className).join(" ")`)
		t.Errorf("the page is %d px wider than the phone's screen; beyond it: %s", w, wide)
	}
	screenshot(t, ctx, "webview-phone.png")
}

// TestPageTour fills a dsmd with what the page shows (variables changing,
// clients, a lock holder and a waiter, a minute's chart of a few seconds)
// and takes the screenshot the README shows: DSM_SCREENSHOTS=docs writes
// it to docs/webview.png.
func TestPageTour(t *testing.T) {
	ctx := newBrowser(t)
	s := startSite(t, server.Config{}, webview.Config{Write: true})
	s.redisCLI("mset", "counter", "1041", "leader.epoch", "7", "flag.maintenance", "off",
		"job.1.state", "done", "job.2.state", "running", "rate.limit", "250", "value", "12345")
	holder := s.dial(t)
	holder.send(t, "CLIENT SETNAME billing")
	holder.line(t)
	holder.send(t, "LOCK WRITE LEASE 30000 account.alice account.bob")
	holder.line(t)
	waiter := s.dial(t)
	waiter.send(t, "CLIENT SETNAME audit")
	waiter.line(t)
	waiter.send(t, "LOCK READ WAIT 60000 account.alice")
	do(t, ctx, "loading the page", chromedp.Navigate(s.url()))
	waitFor(t, ctx, "the page to be live", `document.body.dataset.status === "live"`)
	w := s.dial(t)
	w.send(t, "CLIENT SETNAME worker")
	w.line(t)
	rounds := 40 // 4 s; the README's screenshot gets a longer chart
	if os.Getenv("DSM_SCREENSHOTS") != "" {
		rounds = 250
	}
	for i := range rounds {
		var b strings.Builder
		for j := range 20 * (1 + i/10%8) {
			fmt.Fprintf(&b, "INCR counter\r\nSET job.2.state step-%d\r\n", i*1000+j)
		}
		w.send(t, strings.TrimSuffix(b.String(), "\r\n"))
		for range 2 * 20 * (1 + i/10%8) {
			w.line(t)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, ctx, "the chart", `document.querySelectorAll('#chart polyline').length === 2 && document.querySelector('#chart polyline').getAttribute('points').split(' ').length >= 4`)
	waitFor(t, ctx, "the locks", `document.querySelectorAll('#locks tbody tr').length === 2`)
	screenshot(t, ctx, "webview.png")
}

// TestPageShowsCluster: on a cluster node the page lists the nodes with
// their roles and lag, and the term.
func TestPageShowsCluster(t *testing.T) {
	ctx := newBrowser(t)
	const n = 3
	dir := t.TempDir()
	cls := make([]net.Listener, n)
	var peers []cluster.Peer
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cls[i] = l
		peers = append(peers, cluster.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: l.Addr().String()})
	}
	var first *site
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := server.Config{
			File: filepath.Join(dir, peers[i].ID+".mem"), Vars: 1024, Logger: slog.New(slog.DiscardHandler),
			Cluster: &server.ClusterConfig{NodeID: peers[i].ID, Listener: cls[i], ClientAddr: l.Addr().String(), Peers: peers},
		}
		srv, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		t.Cleanup(func() {
			srv.Close()
			<-done
		})
		if i == 0 {
			wl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go webview.New(srv, webview.Config{Logger: cfg.Logger}).Serve(wl)
			first = &site{t: t, cfg: cfg, addr: l.Addr().String(), webAddr: wl.Addr().String()}
		}
	}
	do(t, ctx, "loading the page", chromedp.Navigate(first.url()))
	waitFor(t, ctx, "the cluster's nodes", `!document.querySelector('#cluster-section').hidden &&
		document.querySelectorAll('#cluster tbody tr').length === 3 &&
		[...document.querySelectorAll('#cluster tbody tr')].filter(r => r.cells[2].textContent === "leader").length === 1 &&
		[...document.querySelectorAll('#cluster tbody tr')].every(r => /^\d+$/.test(r.cells[4].textContent))`)
	waitFor(t, ctx, "the term", `/this node n1, (leader|follower), term [1-9]/.test(document.querySelector('#cluster-summary').textContent)`)
	first.redisCLI("set", "replicated", "yes")
	waitFor(t, ctx, "a replicated write", cellOf("replicated", "value")+` === "yes"`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#vars tbody tr').length`); n != 1 {
		t.Errorf("%d variables shown, want 1: the cluster's own are hidden", n)
	}
	screenshot(t, ctx, "webview-cluster.png")
}
