package cluster_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/cluster"
)

// testTLS returns a mutual TLS configuration: one self-signed certificate
// for 127.0.0.1 that every node presents and trusts.
func testTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dsm test node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS13,
	}
}

func TestClusterOverTLS(t *testing.T) {
	conf := testTLS(t)
	c := newCluster(t, 3, func(cfg *cluster.Config) { cfg.TLS = conf })
	for _, m := range c.members {
		if _, err := c.write(m, "INCR n"); err != nil {
			t.Fatalf("%s: %v", m.id, err)
		}
	}
	f := c.followers()[0]
	if err := f.node.ReadBarrier(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, f, "n"); got != "3" {
		t.Errorf("n = %s, want 3", got)
	}
	d := cluster.Dialer{Secret: testSecret, TLS: conf}
	if h, err := d.Probe(t.Context(), f.addr); err != nil || h.ID != f.id {
		t.Errorf("Probe over TLS: %+v, %v", h, err)
	}
	// Without TLS, or without a client certificate, the right secret
	// is not enough.
	if _, err := cluster.Probe(t.Context(), f.addr, testSecret); err == nil {
		t.Error("Probe without TLS succeeded")
	}
	noCert := conf.Clone()
	noCert.Certificates = nil
	d.TLS = noCert
	if _, err := d.Probe(t.Context(), f.addr); err == nil {
		t.Error("Probe without a client certificate succeeded")
	}
}
