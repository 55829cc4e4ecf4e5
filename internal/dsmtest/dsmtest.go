package dsmtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/server"
)

// Daemon is a dsmd server run in the test process.
type Daemon struct {
	// Addr is where it listens, "127.0.0.1:port".
	Addr string
	// File is its memory file.
	File string
	// Password is the password it requires, if any.
	Password string

	cfg  server.Config
	srv  *server.Server
	done chan error
}

// Start serves a new file in a temporary directory on a free port, with
// cfg's other settings (File, Addr and Logger are chosen here; Vars defaults
// to 1024 to keep files small). It is stopped when the test ends.
func Start(tb testing.TB, cfg server.Config) *Daemon {
	tb.Helper()
	d, err := StartIn(tb.TempDir(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Stop)
	return d
}

// StartIn is Start for callers without a testing.TB (TestMain): the file
// goes in dir and the caller must Stop the daemon.
func StartIn(dir string, cfg server.Config) (*Daemon, error) {
	d := &Daemon{File: filepath.Join(dir, "dsm.mem"), Password: cfg.Password, cfg: cfg}
	if err := d.start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Daemon) start(addr string) error {
	cfg := d.cfg
	cfg.File, cfg.Password = d.File, d.Password
	if cfg.Vars == 0 {
		cfg.Vars = 1024
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ln, err := listen(addr)
	if err != nil {
		_ = srv.Close()
		return err
	}
	d.Addr = ln.Addr().String()
	d.srv = srv
	d.done = make(chan error, 1)
	go func() { d.done <- srv.Serve(ln) }()
	return nil
}

// listen retries for a moment: right after a stop the port may still be
// held by the old listener's socket.
func listen(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// Stop shuts the daemon down gracefully, closing its connections and its
// file. Stopping a stopped daemon does nothing.
func (d *Daemon) Stop() {
	if d.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
	<-d.done
	d.srv = nil
}

// Resume starts a stopped daemon again on the same address and file.
func (d *Daemon) Resume(tb testing.TB) {
	tb.Helper()
	if err := d.start(d.Addr); err != nil {
		tb.Fatal(err)
	}
}

// Restart stops the daemon and starts a new one on the same address and
// file.
func (d *Daemon) Restart(tb testing.TB) {
	tb.Helper()
	d.Stop()
	d.Resume(tb)
}

// Cert is a self-signed certificate for 127.0.0.1, written to files.
type Cert struct {
	// CertFile and KeyFile are PEM files, as dsmd's -tls-cert and -tls-key
	// take them.
	CertFile, KeyFile string
	// Pool trusts the certificate.
	Pool *x509.CertPool
}

// SelfSigned makes a certificate for 127.0.0.1 in the test's temporary
// directory.
func SelfSigned(tb testing.TB) Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dsm test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	c := Cert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Pool: x509.NewCertPool()}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	c.Pool.AppendCertsFromPEM(certPEM)
	return c
}
