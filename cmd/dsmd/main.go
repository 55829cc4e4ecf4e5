// Command dsmd serves a dsm memory file over TCP: the seed's R/W protocol
// and the Redis protocol (RESP2, RESP3, inline, optionally TLS) on one
// port. See package server for the behaviour; this command only turns
// flags into a server.Config, runs the server, and shuts it down
// gracefully on SIGINT or SIGTERM.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dsm-dev/dsm/internal/version"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/webview"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package has printed the problem and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "dsmd:", err)
		os.Exit(1)
	}
}

var (
	// errUsage reports a command line that flag rejected (and explained).
	errUsage = errors.New("usage")
	// errVersion reports -version: print the version instead of serving.
	errVersion = errors.New("version asked for")
)

// shutdownGrace bounds the graceful shutdown; connections still busy then
// are closed.
const shutdownGrace = 30 * time.Second

func run(args []string) error {
	cfg, web, err := parseArgs(args)
	if errors.Is(err, errVersion) {
		fmt.Println(version.Get().Line("dsmd"))
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// Bind before opening the file: a taken port must not leave behind a
	// new file (tens of MB by default) or a redo log replayed for nothing.
	ls, err := listen(cfg, web)
	if err != nil {
		return err
	}
	if cc := cfg.Cluster; cc != nil && cc.ClientAddr == "" {
		if cc.ClientAddr, err = clientAddr(ls.main.Addr().String(), cc.Addr); err != nil {
			ls.close()
			return err
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		ls.close()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- ls.serve(srv, web, cfg.Logger) }()
	select {
	case err := <-served:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	cfg.Logger.Info("signal received; shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, server.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// listeners are dsmd's sockets, bound before the file is opened.
type listeners struct {
	main, metrics, web net.Listener // metrics is nil without -metrics, web without -http
}

// webFlags are the web view's flags (package webview).
type webFlags struct {
	addr  string // -http: serve the live view there
	write bool   // -http-write: setting variables from the page
}

// listen binds cfg.Addr (the default when empty, as server.Config has it),
// cfg.MetricsAddr when set and the web view's address when set.
func listen(cfg server.Config, web webFlags) (*listeners, error) {
	l, err := net.Listen("tcp", cmp.Or(cfg.Addr, server.DefaultAddr))
	if err != nil {
		return nil, fmt.Errorf("-listen: %w", err)
	}
	ls := &listeners{main: l}
	for _, o := range []struct {
		flag, addr string
		l          *net.Listener
	}{{"-metrics", cfg.MetricsAddr, &ls.metrics}, {"-http", web.addr, &ls.web}} {
		if o.addr == "" {
			continue
		}
		if *o.l, err = net.Listen("tcp", o.addr); err != nil {
			ls.close()
			return nil, fmt.Errorf("%s: %w", o.flag, err)
		}
	}
	return ls, nil
}

func (ls *listeners) close() {
	for _, l := range []net.Listener{ls.main, ls.metrics, ls.web} {
		if l != nil {
			l.Close()
		}
	}
}

// serve serves srv on the listeners until it is shut down, metrics and
// the web view beside the clients, as server.ListenAndServe does.
func (ls *listeners) serve(srv *server.Server, web webFlags, log *slog.Logger) error {
	if ml := ls.metrics; ml != nil {
		go func() {
			if err := srv.ServeMetrics(ml); !errors.Is(err, server.ErrServerClosed) {
				log.Error("metrics server failed", "addr", ml.Addr().String(), "err", err)
			}
		}()
	}
	if wl := ls.web; wl != nil {
		v := webview.New(srv, webview.Config{Write: web.write, Logger: log})
		go func() {
			if err := v.Serve(wl); !errors.Is(err, server.ErrServerClosed) {
				log.Error("web view failed", "addr", wl.Addr().String(), "err", err)
			}
		}()
	}
	return srv.Serve(ls.main)
}

// parseFlags builds the Config from the command line and the environment.
func parseFlags(args []string) (server.Config, error) {
	cfg, _, err := parseArgs(args)
	return cfg, err
}

// parseArgs is parseFlags with the web view's flags too.
func parseArgs(args []string) (server.Config, webFlags, error) {
	var cfg server.Config
	var web webFlags
	var allow, logFormat, logLevel string
	var showVersion bool
	var cf clusterFlags
	fs := flag.NewFlagSet("dsmd", flag.ContinueOnError)
	cf.register(fs)
	fs.BoolVar(&showVersion, "version", false, "print the version, the commit and the Go release, and exit")
	fs.StringVar(&cfg.Addr, "listen", server.DefaultAddr, "`HOST:PORT` to listen on (both protocols; TLS too when enabled)")
	fs.StringVar(&cfg.File, "file", "./dsm.mem", "memory file `PATH`, created on first start")
	fs.TextVar(&cfg.Sync, "sync", server.SyncInterval, "durability: always (flush before each write's reply), interval or never")
	fs.DurationVar(&cfg.SyncInterval, "sync-interval", server.DefaultSyncInterval, "flush period for -sync interval")
	fs.StringVar(&cfg.Password, "password", "", "require AUTH with this password (default: $DSM_PASSWORD, which is safer: flags show in ps)")
	fs.BoolVar(&cfg.SeedOpen, "seed-open", false, "serve the seed protocol (R/W, which has no AUTH) to loopback and -allow clients although -password is set (go doc ./server: Access)")
	fs.StringVar(&allow, "allow", "", "admit clients from these networks besides loopback: `CIDR[,CIDR...]`")
	fs.StringVar(&cfg.MetricsAddr, "metrics", "", "serve Prometheus metrics (/metrics), /healthz and /readyz on `HOST:PORT`")
	fs.BoolVar(&cfg.ProtectFlush, "protect-flush", false, "refuse FLUSHALL and FLUSHDB (deleting every variable at once)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve net/http/pprof at /debug/pprof/ on the -metrics address too")
	fs.StringVar(&web.addr, "http", "", "serve the live view, a web page of the variables, clients and locks, on `HOST:PORT` (same access rules; with a password, a login)")
	fs.BoolVar(&web.write, "http-write", false, "let the -http page set variables (default: read-only)")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "TLS certificate `PATH` (PEM); with -tls-key enables TLS on the same port")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "TLS private key `PATH` (PEM)")
	fs.IntVar(&cfg.MaxClients, "max-clients", server.DefaultMaxClients, "most clients connected at once")
	fs.IntVar(&cfg.Limits.MaxArgs, "max-args", 0, "most arguments in one command (0: resp's default)")
	fs.IntVar(&cfg.Limits.MaxBulk, "max-bulk", 0, "most bytes in one argument (0: resp's default)")
	fs.IntVar(&cfg.OutputLimit, "output-limit", server.DefaultOutputLimit, "most bytes of replies pending for one client before it is closed")
	fs.IntVar(&cfg.ClientMemMax, "client-mem-max", server.DefaultClientMemMax, "most bytes all clients together may hold in pending commands and replies; beyond it the largest are closed")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close clients idle this long (0: never)")
	fs.DurationVar(&cfg.AuthTimeout, "auth-timeout", server.DefaultAuthTimeout, "close clients that have not authenticated after this long (with -password)")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", server.DefaultRequestTimeout, "close clients whose request takes longer than this to arrive")
	fs.IntVar(&cfg.Vars, "vars", 0, "capacity in variables of a new file (0: shm's default)")
	fs.IntVar(&cfg.NameMax, "name-max", 0, "longest variable name of a new file (0: shm's default)")
	fs.IntVar(&cfg.ValueMax, "value-max", 0, "longest byte value of a new file (0: shm's default)")
	fs.BoolVar(&cfg.Strict, "strict", false, "exit with an error, instead of warning, when -vars, -name-max or -value-max differ from the existing file's")
	fs.IntVar(&cfg.GroupMax, "group-max", 0, "most variables one MSET, MGET, LOCK or EXEC of a new file may name (0: shm's default, 256; Redis takes 10001 pairs)")
	fs.IntVar(&cfg.LockLanes, "lock-lanes", 0, "lock lanes per process of a new file: twice the clients that may hold LOCKs at once (0: shm's default, 16)")
	fs.StringVar(&cfg.FileGroup, "group", "", "give a new file to this group, mode 0660 (default: mode 0600)")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, web, err
		}
		return cfg, web, fmt.Errorf("%w: %v", errUsage, err)
	}
	if showVersion {
		return cfg, web, errVersion
	}
	if fs.NArg() > 0 {
		return cfg, web, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.Password == "" {
		cfg.Password = os.Getenv("DSM_PASSWORD")
	}
	var err error
	if cfg.Allow, err = parseAllow(allow); err != nil {
		return cfg, web, err
	}
	if web.write && web.addr == "" {
		return cfg, web, errors.New("-http-write needs -http HOST:PORT")
	}
	if cfg.Cluster, err = cf.config(); err != nil {
		return cfg, web, err
	}
	cfg.Logger, err = newLogger(os.Stderr, logFormat, logLevel)
	return cfg, web, err
}

// parseAllow parses "CIDR[,CIDR...]"; a bare address means that host only.
func parseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("-allow: %w", err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// newLogger logs to w in the format and from the level asked for.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		opts.ReplaceAttr = durationString
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format: want text or json, not %q", format)
}

// durationString writes durations as text ("1.5s"), as the text format
// does: JSON's default, integer nanoseconds, reads as a count of nothing.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
