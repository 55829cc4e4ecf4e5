package client_test

import (
	"crypto/tls"
	"testing"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
)

func TestTLS(t *testing.T) {
	cert := dsmtest.SelfSigned(t)
	d := dsmtest.Start(t, server.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile, Password: "pw"})
	c := dial(t, d, &client.Options{Password: "pw", TLS: &tls.Config{RootCAs: cert.Pool}})
	ctx := ctxT(t)
	if err := c.Set(ctx, "x", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "x"); err != nil || v != "1" {
		t.Fatalf("Get over TLS = %q, %v", v, err)
	}
	// A client that does not trust the certificate is not connected.
	if _, err := client.Dial(ctx, d.Addr, &client.Options{Password: "pw", TLS: &tls.Config{}}); err == nil {
		t.Fatal("Dial trusted an unknown certificate")
	}
}
