package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/redis/go-redis/v9"
)

// Exit codes, as the usage documents them.
const (
	exitOK          = 0
	exitError       = 1 // usage or any other error
	exitNotFound    = 2 // no such variable
	exitRefused     = 3 // authentication, access rules, limits
	exitUnreachable = 4 // no daemon answers, no leader in the cluster, or the file cannot be opened
)

// quietLibraryLogs silences go-redis' own logging, once per process: it
// prints dial failures on stderr by itself, while dsm reports errors in its
// own words (and the prompt says when it reconnects).
var quietLibraryLogs sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// config is what the flags say.
type config struct {
	addr      string
	port      int
	password  string
	file      string
	output    string // -o as given
	format    format
	timeout   time.Duration
	reconnect time.Duration
	tls       bool
	cacert    string
}

// run is the whole program: main only exits with its result, so tests call
// it with their own arguments and streams.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	quietLibraryLogs.Do(func() { redis.SetLogger(discardLogger{}) })
	code := exitOK
	root := newRoot(&config{}, stdin, stdout, stderr, &code)
	root.SetArgs(normalizeArgs(args, root))
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "dsm: %v (see dsm --help)\n", err)
		return exitError
	}
	return code
}

// clientOptions builds the client's options from the flags.
func (cfg *config) clientOptions() (client.Options, error) {
	opts := client.Options{Password: cfg.password, ClientName: "dsm", DialTimeout: cfg.timeout}
	if !cfg.tls {
		return opts, nil
	}
	opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.cacert != "" {
		pem, err := os.ReadFile(cfg.cacert)
		if err != nil {
			return opts, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("%s: no PEM certificates", cfg.cacert)
		}
		opts.TLS.RootCAs = pool
	}
	return opts, nil
}

// open connects to the daemon, or opens the file in local mode. write says
// whether the command may change variables (local mode then creates a
// missing file, as dsmd would).
func (cfg *config) open(ctx context.Context, write bool) (store, error) {
	if cfg.file != "" {
		return openLocal(cfg.file, write)
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	return dialRemote(ctx, cfg.addr, opts)
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitError
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	case errors.Is(err, client.ErrRefused):
		return exitRefused
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrClusterDown):
		return exitUnreachable
	}
	return exitError
}
