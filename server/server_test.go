package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/resp"
	"github.com/dsm-dev/dsm/shm"
	"github.com/redis/go-redis/v9"
)

// TestConfigValidation: each invalid field is named; zero values take the
// documented defaults.
func TestConfigValidation(t *testing.T) {
	bad := map[string]Config{
		"MaxClients":           {MaxClients: -1},
		"Vars":                 {Vars: -1},
		"Sync":                 {Sync: SyncMode(7)},
		"SyncInterval":         {SyncInterval: -time.Second},
		"IdleTimeout":          {IdleTimeout: -time.Second},
		"OutputLimit":          {OutputLimit: -1},
		"ClientMemMax":         {ClientMemMax: -1},
		"Limits.MaxInline":     {Limits: resp.Limits{MaxInline: 64<<10 + 1}},
		"TLSCertFile":          {TLSCertFile: "cert.pem"},
		"Allow":                {Allow: make([]netip.Prefix, 1)},
		"PreAuthLimits":        {PreAuthLimits: resp.Limits{MaxArgs: -1}},
		"TLSCertFile: open no": {TLSCertFile: "/nonexistent/c.pem", TLSKeyFile: "/nonexistent/k.pem"},
	}
	for field, cfg := range bad {
		_, err := cfg.resolve()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), strings.Split(field, ":")[0]) {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	st, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if st.Addr != DefaultAddr || st.File != DefaultFile || st.MaxClients != DefaultMaxClients ||
		st.SyncInterval != time.Second || st.Sync != SyncInterval || st.AuthTimeout != DefaultAuthTimeout ||
		st.RequestTimeout != DefaultRequestTimeout || st.IdleTimeout != 0 || st.OutputLimit != DefaultOutputLimit ||
		st.ClientMemMax != DefaultClientMemMax || st.Limits.MaxRequest != DefaultMaxRequest || st.PreAuthLimits.MaxArgs != 10 || !st.PreAuthLimits.PreAuth ||
		st.Logger == nil {
		t.Errorf("defaults: %+v", st)
	}
	if st, _ := (Config{AuthTimeout: -1}).resolve(); st.AuthTimeout != 0 {
		t.Errorf("negative AuthTimeout = %v, want 0 (none)", st.AuthTimeout)
	}
}

// TestSyncModeText: the flag form round-trips.
func TestSyncModeText(t *testing.T) {
	for _, m := range []SyncMode{SyncAlways, SyncInterval, SyncNever} {
		b, _ := m.MarshalText()
		var got SyncMode
		if err := got.UnmarshalText(b); err != nil || got != m {
			t.Errorf("%v: round trip gave %v, %v", m, got, err)
		}
	}
	var m SyncMode
	if err := m.UnmarshalText([]byte("sometimes")); err == nil {
		t.Errorf("unknown mode accepted")
	}
}

// TestOneDaemonPerFile: a second server on the same file fails with
// shm.ErrLocked while the first runs, and starts once it is closed,
// serving what the first wrote.
func TestOneDaemonPerFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	ts := startServer(t, Config{File: file})
	dialRaw(t, ts.addr).do("SET", "kept", "1")
	_, err := New(Config{File: file, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, shm.ErrLocked) {
		t.Fatalf("second server: err = %v, want shm.ErrLocked", err)
	}
	ts.stop(t)
	ts2 := startServer(t, Config{File: file})
	if got := dialRaw(t, ts2.addr).do("GET", "kept"); got != bulk("1") {
		t.Errorf("after restart GET kept = %q", got)
	}
}

// TestShutdownDrains: every command the server executed before Shutdown
// was answered, and no other was executed: the counter in the file equals
// the number of replies the client read. Serve returns ErrServerClosed.
func TestShutdownDrains(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	ts := startServer(t, Config{File: file})
	rc := dialRaw(t, ts.addr)
	idle := dialRaw(t, ts.addr)
	const n = 5000
	rc.send(strings.Repeat(encode("INCR", "ctr"), n))
	time.Sleep(5 * time.Millisecond)
	ts.stop(t)
	replies := 0
	for {
		rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := readReply(rc.br)
		if err != nil {
			break
		}
		replies++
		if got != integer(int64(replies)) {
			t.Fatalf("reply %d = %q", replies, got)
		}
	}
	if _, closed := idle.closed(5 * time.Second); !closed {
		t.Errorf("idle client not closed by Shutdown")
	}
	mem, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	v, _, _ := mem.Get([]byte("ctr"))
	if got, _ := v.Int(); got != int64(replies) {
		t.Errorf("counter %d, replies read %d", got, replies)
	}
	t.Logf("%d of %d pipelined INCRs ran before shutdown", replies, n)
	if err := ts.Serve(newListener(t)); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

func newListener(t testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSyncAlwaysGroupCommit: under SyncAlways every write is flushed before
// its reply, batches and concurrent clients share flushes, and a read-only
// batch does not flush.
func TestSyncAlwaysGroupCommit(t *testing.T) {
	ts := startServer(t, Config{Sync: SyncAlways})
	rc := dialRaw(t, ts.addr)
	before := ts.stats.syncs.Load()
	rc.do("GET", "x")
	if ts.stats.syncs.Load() != before {
		t.Errorf("a read flushed the file")
	}
	rc.do("SET", "x", "1")
	if ts.stats.syncs.Load() != before+1 {
		t.Errorf("a write's reply came without a flush")
	}
	const clients, per = 8, 50
	before = ts.stats.syncs.Load()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, ts.addr)
			c.send(strings.Repeat(encode("INCR", "ctr"), per))
			for j := 0; j < per; j++ {
				c.reply()
			}
		}()
	}
	wg.Wait()
	flushes := ts.stats.syncs.Load() - before
	if flushes == 0 || flushes > clients*per/2 {
		t.Errorf("%d flushes for %d writes in pipelines", flushes, clients*per)
	}
	t.Logf("%d writes, %d flushes", clients*per, flushes)
}

// TestOutputLimit: a client whose pending replies exceed OutputLimit is
// closed; others are not disturbed.
func TestOutputLimit(t *testing.T) {
	ts := startServer(t, Config{OutputLimit: 64 << 10})
	rc := dialRaw(t, ts.addr)
	val := strings.Repeat("v", 200)
	rc.do("SET", "big", val)
	rc.send(strings.Repeat(encode("GET", "big"), 2000))
	if _, closed := rc.closed(5 * time.Second); !closed {
		t.Fatalf("client over its output limit still open")
	}
	waitFor(t, "the disconnection to be counted", func() bool { return ts.stats.outputLimit.Load() > 0 })
	if ts.stats.outputLimit.Load() != 1 {
		t.Errorf("output limit disconnections = %d", ts.stats.outputLimit.Load())
	}
	if got := dialRaw(t, ts.addr).do("GET", "big"); got != bulk(val) {
		t.Errorf("other client: %.30q", got)
	}
}

// TestTLS: with a certificate, TLS clients speak RESP on the same port as
// plain RESP and seed clients.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	ts := startServer(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "over tls", 0).Err(); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	if got := dialRaw(t, ts.addr).do("GET", "k"); got != bulk("over tls") {
		t.Errorf("plain GET = %q", got)
	}
	seed := dialRaw(t, ts.addr)
	seed.send("R")
	if got := seed.readN(4); got != seedValue(0) {
		t.Errorf("seed R = %q", got)
	}
	plain := startServer(t, Config{})
	_, err := tls.Dial("tcp", plain.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err == nil {
		t.Errorf("TLS handshake succeeded on a server without TLS")
	}
}

// writeCert writes a self-signed certificate for localhost.
func writeCert(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestMetrics: the metrics handler serves the server's own registry, with
// each command's count, errors and latency.
func TestMetrics(t *testing.T) {
	ts := startServer(t, Config{Pprof: true})
	rc := dialRaw(t, ts.addr)
	rc.do("SET", "a", "1")
	rc.do("INCR", "a")
	rc.do("NOPE")
	addr := ts.serveMetrics(t)
	body := scrape(t, addr)
	for _, want := range []string{
		`dsm_commands_total{command="incr"} 1`, `dsm_command_errors_total{command="_unknown"} 1`,
		"dsm_connected_clients 1", "dsm_connections_total 1", "dsm_variables 1", "go_goroutines",
		`dsm_command_duration_seconds_count{command="incr"} 1`, `dsm_command_duration_seconds_bucket{command="set",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil || res.StatusCode != 200 {
		t.Errorf("pprof: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}

// TestGoroutinesEnd: after Shutdown every goroutine the server started has
// ended.
func TestGoroutinesEnd(t *testing.T) {
	ts := startServer(t, Config{})
	for i := 0; i < 5; i++ {
		dialRaw(t, ts.addr).do("PING")
	}
	if n := ts.goroutines.Load(); n < 6 {
		t.Errorf("%d goroutines counted with 5 clients and the sync loop", n)
	}
	ts.stop(t)
	if n := ts.goroutines.Load(); n != 0 {
		t.Errorf("%d goroutines still running after Shutdown", n)
	}
}

func ExampleServer() {
	dir, _ := os.MkdirTemp("", "dsm")
	defer os.RemoveAll(dir)
	srv, err := New(Config{File: filepath.Join(dir, "dsm.mem"), Vars: 1024, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String()})
	rdb.Set(context.Background(), "greeting", "hello", 0)
	fmt.Println(rdb.Get(context.Background(), "greeting").Val())
	rdb.Close()
	fmt.Println(srv.Shutdown(context.Background()))
	// Output:
	// hello
	// <nil>
}

// TestListenAndServeTakenPortLeavesNoFile: ListenAndServe binds (the client
// port, then the metrics port) before it creates the memory file, so a
// port in use fails it with no file behind.
func TestListenAndServeTakenPortLeavesNoFile(t *testing.T) {
	taken := newListener(t)
	defer taken.Close()
	for name, cfg := range map[string]Config{
		"Addr":        {Addr: taken.Addr().String()},
		"MetricsAddr": {Addr: "127.0.0.1:0", MetricsAddr: taken.Addr().String()},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg.File = filepath.Join(dir, "dsm.mem")
			cfg.Vars = testVars
			cfg.Logger = slog.New(slog.DiscardHandler)
			err := ListenAndServe(context.Background(), cfg)
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("ListenAndServe on a taken port: %v, want EADDRINUSE", err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("ListenAndServe on a taken port left %v behind", left)
			}
		})
	}
}

// TestListenAndServeUntilCanceled: ListenAndServe serves until its context
// ends, then shuts down, returns nil and leaves the file closed (another
// server can open it).
func TestListenAndServeUntilCanceled(t *testing.T) {
	logs := &lockedLog{}
	cfg := Config{Addr: "127.0.0.1:0", File: filepath.Join(t.TempDir(), "dsm.mem"), Vars: testVars,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- ListenAndServe(ctx, cfg) }()
	var addr string
	waitFor(t, "ListenAndServe to listen", func() bool {
		_, rest, ok := strings.Cut(logs.String(), "msg=listening addr=")
		addr, _, _ = strings.Cut(rest, " ")
		return ok
	})
	if got := dialRaw(t, addr).do("SET", "x", "1"); got != simple("OK") {
		t.Fatalf("SET: %q", got)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ListenAndServe after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after its context ended")
	}
	mem, err := shm.Open(shm.Config{Path: cfg.File, Exclusive: true})
	if err != nil {
		t.Fatalf("file after ListenAndServe returned: %v", err)
	}
	defer mem.Close()
	if v, _, _ := mem.Get([]byte("x")); v.String() != "1" {
		t.Errorf("x = %v after ListenAndServe returned", v)
	}
}
