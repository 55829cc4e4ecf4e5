package webview

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/server"
)

// Defaults applied to zero Config fields.
const (
	DefaultInterval = 100 * time.Millisecond
	DefaultLimit    = 500
)

// Config configures a View. The zero value is valid.
type Config struct {
	// Write adds setting a variable from the page (dsmd -http-write).
	// False means the page is read-only.
	Write bool

	// Interval is the shortest time between two updates of the variables
	// sent to one page: changes in between are coalesced, the latest of
	// each variable kept. Zero means DefaultInterval.
	Interval time.Duration

	// Limit is the most variables a page lists, and the most changed
	// variables kept for one page between two updates. Zero means
	// DefaultLimit.
	Limit int

	// Logger receives the View's log lines. Nil means slog.Default().
	Logger *slog.Logger
}

// View serves the live view of one server. Build it with New; its methods
// are safe for concurrent use.
type View struct {
	srv      *server.Server
	cfg      Config
	log      *slog.Logger
	broker   *broker
	sessions *sessions
	mux      *http.ServeMux
	loginMu  sync.Mutex // one login checked at a time (auth.go)
}

//go:embed assets
var assets embed.FS

// New returns the View of srv.
func New(srv *server.Server, cfg Config) *View {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.Limit = cmp.Or(cfg.Limit, DefaultLimit)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &View{srv: srv, cfg: cfg, log: cfg.Logger, sessions: newSessions()}
	v.broker = newBroker(srv, cfg.Limit, cfg.Logger)
	v.mux = v.routes()
	return v
}

func (v *View) routes() *http.ServeMux {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", v.page)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /style.css", files)
	mux.HandleFunc("POST /login", v.login)
	mux.HandleFunc("POST /logout", v.logout)
	mux.HandleFunc("GET /events", v.authed(v.events))
	mux.HandleFunc("GET /api/ping", v.authed(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }))
	mux.HandleFunc("POST /api/set", v.authed(v.set))
	return mux
}

// Handler returns the View's HTTP handler, with the access rules applied
// to every request.
func (v *View) Handler() http.Handler { return v.guard(v.mux) }

// Serve serves the View on l until the server begins to stop, then closes
// l and every page's connection and returns server.ErrServerClosed. Any
// other error is an accept failure.
func (v *View) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler: v.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(v.log.Handler(), slog.LevelWarn),
	}
	stop := context.AfterFunc(doneContext(v.srv), func() { hs.Close() })
	defer stop()
	v.log.Info("web view listening", "addr", l.Addr().String(), "write", v.cfg.Write, "login", v.srv.PasswordSet())
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return server.ErrServerClosed
	}
	return err
}

// doneContext is a context that ends when srv begins to stop.
func doneContext(srv *server.Server) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-srv.Done()
		cancel()
	}()
	return ctx
}
