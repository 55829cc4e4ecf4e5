package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
	exitUnreachable = 4 // no daemon answers at the address, or the file cannot be opened
)

const usageText = `usage: dsm [-addr HOST:PORT] [-password P] [-file PATH] [-o json] [COMMAND ARGS...]

With no command, dsm starts an interactive prompt that accepts the seed's
R (read value), W (write value) and Q (quit), and every command below by name.

Commands:
%s
Other commands are sent to the daemon as they are (ping, dbsize, ...).

Flags:
%s
Environment:
  DSM_PASSWORD   password, when -password is not given

Exit codes:
  0  success
  1  usage or other error
  2  no such variable
  3  refused (authentication, access rules, limits)
  4  unreachable (no daemon at the address, or the file cannot be opened)
`

// quietLibraryLogs silences go-redis' own logging, once per process: it
// prints dial failures on stderr by itself, while dsm reports errors in its
// own words (and the prompt says when it reconnects).
var quietLibraryLogs sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// config is what the flags say.
type config struct {
	addr      string
	password  string
	file      string
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
	cfg, rest, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitError
	}
	ctx := context.Background()
	if len(rest) == 0 {
		return runPrompt(ctx, cfg, stdin, stdout, stderr)
	}
	if strings.EqualFold(rest[0], "help") {
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	return runOneShot(ctx, cfg, rest, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (*config, []string, error) {
	cfg := &config{}
	var out string
	fs := newFlagSet(cfg, &out)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage()) }
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	// The environment's password is read here, not as the flag's default,
	// so that usage never prints it.
	if cfg.password == "" {
		cfg.password = os.Getenv("DSM_PASSWORD")
	}
	f, err := parseFormat(out)
	if err != nil {
		fmt.Fprintln(stderr, "dsm:", err)
		return nil, nil, err
	}
	cfg.format = f
	return cfg, fs.Args(), nil
}

// newFlagSet declares the flags, storing them in cfg and the output format
// in out.
func newFlagSet(cfg *config, out *string) *flag.FlagSet {
	fs := flag.NewFlagSet("dsm", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", client.DefaultAddr, "daemon address `HOST:PORT`")
	fs.StringVar(&cfg.password, "password", "", "daemon password `P` (default $DSM_PASSWORD)")
	fs.StringVar(&cfg.file, "file", "", "work on the memory file at `PATH` directly, without the daemon")
	fs.StringVar(out, "o", "text", "output `FORMAT`: text, or json (one object per line)")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "time limit of each command")
	fs.DurationVar(&cfg.reconnect, "reconnect", 30*time.Second, "at the prompt, how long to keep trying to reconnect to a lost daemon")
	fs.BoolVar(&cfg.tls, "tls", false, "connect with TLS")
	fs.StringVar(&cfg.cacert, "cacert", "", "with -tls, trust the CA certificates in `FILE` (PEM)")
	return fs
}

// usage renders the usage text.
func usage() string {
	var cmds strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&cmds, "  %-24s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	for _, c := range append(sessionCommands, fileCommands...) {
		fmt.Fprintf(&cmds, "  %-24s %s\n", c[0], c[1])
	}
	var flags strings.Builder
	var out string
	fs := newFlagSet(&config{}, &out)
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	return fmt.Sprintf(usageText, cmds.String(), flags.String())
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
	case errors.Is(err, client.ErrUnreachable):
		return exitUnreachable
	}
	return exitError
}
