package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAddr           = "127.0.0.1:12345"
	DefaultFile           = "dsm.mem"
	DefaultSyncInterval   = time.Second
	DefaultMaxClients     = 10000
	DefaultAuthTimeout    = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultOutputLimit    = 32 << 20
	DefaultClientMemMax   = 512 << 20
	DefaultMaxRequest     = 8 << 20
	maxInlineLimit        = 64 << 10
)

// Config configures a Server. The zero value is valid: every zero field
// means the default stated on it. New validates each field and reports the
// first one out of range, wrapped in ErrInvalidConfig.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on.
	// Zero means DefaultAddr (loopback, the seed's port).
	Addr string

	// File is the path of the memory file, created on first start.
	// Zero means DefaultFile in the working directory.
	File string

	// Vars, NameMax and ValueMax size a new file (capacity in variables,
	// longest name, longest byte value). A file that exists keeps its own:
	// New logs a warning that names the file's value of each field that is
	// set and differs, or fails if Strict is set. Zero means shm's defaults
	// (and, for an existing file, no comparison). Negative values are
	// invalid.
	Vars, NameMax, ValueMax int

	// Strict makes New fail with ErrCapacity, instead of warning, when
	// Vars, NameMax or ValueMax differs from the existing file's.
	Strict bool
	// LockLanes sizes a new file's lock lanes: how many lock groups (LOCK,
	// MGET, MSET, EXEC) each process may hold at once; half of the
	// daemon's go to LOCK holders. The count is recorded in the file, so it
	// is ignored when the file exists. Zero means shm's default (16).
	LockLanes int
	// GroupMax sizes a new file's atomic groups: the most variables one
	// MSET, MSETNX, MGET, LOCK or EXEC may name. Like LockLanes it is
	// recorded in the file and ignored when the file exists. Each lock
	// lane keeps room for that many locks (16 bytes each, in every lane of
	// every process slot), so a large limit makes the file larger. Zero
	// means shm's default (256).
	GroupMax int

	// FileGroup, when set, makes a new file group-readable and -writable
	// (mode 0660) and gives it to this group. Zero means mode 0600.
	FileGroup string

	// Password, when set, must be given with AUTH or HELLO ... AUTH before
	// any other command, and the seed protocol, which has no AUTH, is
	// refused unless SeedOpen is set. Zero means no password.
	Password string

	// SeedOpen serves the seed protocol to loopback and Allow clients even
	// though a Password is set (see Access in the package documentation).
	// Zero means refused when a Password is set.
	SeedOpen bool

	// ProtectFlush refuses FLUSHDB and FLUSHALL, so that no client can
	// delete every variable at once. False (the default) allows them.
	ProtectFlush bool

	// Allow lists the networks whose clients are admitted besides loopback.
	// When it is not empty, every other client is refused. Nil means none.
	Allow []netip.Prefix

	// Sync is the durability mode. The zero value is SyncInterval.
	Sync SyncMode

	// SyncInterval is how often SyncInterval flushes the file.
	// Zero means DefaultSyncInterval. Negative is invalid.
	SyncInterval time.Duration

	// MaxClients bounds the connections open at once; one more is refused
	// with "ERR max number of clients reached" once its first bytes show
	// that it speaks RESP, and with no byte if it speaks the seed
	// protocol. Zero means DefaultMaxClients.
	MaxClients int

	// Limits bounds what an authenticated client may send (and every client
	// when no Password is set). Each zero field means the field of
	// resp.DefaultLimits, except MaxRequest, which defaults to
	// DefaultMaxRequest: variables are small, so one command needs little.
	// MaxInline may not exceed 64 KiB. Negative fields are invalid.
	Limits resp.Limits

	// PreAuthLimits bounds what a client may send before it authenticates
	// (only when Password is set). Each zero field means the field of
	// resp.PreAuthLimits; PreAuth is always set.
	PreAuthLimits resp.Limits

	// AuthTimeout is how long a client may stay connected without
	// authenticating when Password is set. Zero means DefaultAuthTimeout;
	// negative means no limit.
	AuthTimeout time.Duration

	// IdleTimeout closes a connection that sends nothing for this long
	// (Redis' "timeout"). Zero means no limit; negative is invalid.
	IdleTimeout time.Duration

	// RequestTimeout is how long a request may take to arrive once its first
	// byte has arrived (a TLS handshake counts as a request). It stops
	// clients that send half a request and go silent. Zero means
	// DefaultRequestTimeout; negative means no limit.
	RequestTimeout time.Duration

	// WriteTimeout bounds each write of replies to a client that does not
	// read them. Zero means DefaultWriteTimeout; negative means no limit.
	WriteTimeout time.Duration

	// OutputLimit bounds the bytes of replies a client may have pending at
	// once (replies to one pipelined batch, or one large reply); a client
	// that exceeds it is closed. Zero means DefaultOutputLimit.
	OutputLimit int

	// ClientMemMax bounds the bytes all clients together hold in pending
	// input and output: the commands being read and the reply buffers
	// (replies not yet taken, and up to 16 KiB kept between batches).
	// Beyond it the clients that hold the most are closed, largest
	// first, until the others are within it (INFO: evicted_clients).
	// Zero means DefaultClientMemMax, which admits 64 clients each in the
	// middle of a command of DefaultMaxRequest, and stays within a quarter
	// of a machine with 2 GiB.
	ClientMemMax int

	// TLSCertFile and TLSKeyFile, both set, enable TLS on the same port:
	// a connection whose first byte is a TLS handshake record (0x16) speaks
	// RESP inside TLS. Zero means no TLS. Setting only one is invalid.
	TLSCertFile, TLSKeyFile string

	// MetricsAddr, when set, makes ListenAndServe also serve Prometheus
	// metrics at /metrics, /healthz and /readyz on this address (see
	// MetricsHandler). Zero means no metrics listener (Serve never starts
	// one).
	MetricsAddr string

	// Pprof adds net/http/pprof's handlers, at /debug/pprof/, to the
	// metrics listener. False (the default) leaves them out: a profile
	// shows the command lines and the memory of the process.
	Pprof bool

	// ReadyCheck, when set, is asked by /readyz after the server's own
	// checks; an error makes the server not ready, with the error's text
	// as the reason. A cluster reports there that no leader is known.
	// Nil means the server's own checks only.
	ReadyCheck func() error

	// Cluster, when set, makes the server a node of a cluster: the same
	// variables on every node, written through a Raft log (see
	// ClusterConfig and the package documentation's Cluster). Nil means
	// a single host.
	Cluster *ClusterConfig

	// Logger receives connection and lifecycle logs.
	// Nil means slog.Default().
	Logger *slog.Logger
}

// settings is a Config with its defaults applied and its files loaded.
type settings struct {
	Config
	tls *tls.Config
}

// resolve validates c field by field and fills in the defaults.
func (c Config) resolve() (settings, error) {
	s := settings{Config: c}
	steps := []func(*settings) error{
		resolveAddrs, resolveFileSizes, resolveSync, resolveClients,
		resolveLimits, resolveTimeouts, resolveTLS,
	}
	for _, step := range steps {
		if err := step(&s); err != nil {
			return settings{}, err
		}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s, nil
}

func invalid(field string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func resolveAddrs(s *settings) error {
	if s.Addr == "" {
		s.Addr = DefaultAddr
	}
	if s.File == "" {
		s.File = DefaultFile
	}
	for _, p := range s.Allow {
		if !p.IsValid() {
			return invalid("Allow", "invalid network %v", p)
		}
	}
	return nil
}

func resolveFileSizes(s *settings) error {
	for _, f := range []struct {
		name string
		v    int
	}{{"Vars", s.Vars}, {"NameMax", s.NameMax}, {"ValueMax", s.ValueMax}, {"LockLanes", s.LockLanes}, {"GroupMax", s.GroupMax}} {
		if f.v < 0 {
			return invalid(f.name, "%d is negative", f.v)
		}
	}
	return nil
}

func resolveSync(s *settings) error {
	if s.Sync < SyncInterval || s.Sync > SyncNever {
		return invalid("Sync", "unknown mode %d", int(s.Sync))
	}
	return zeroMeansDefault("SyncInterval", &s.SyncInterval, DefaultSyncInterval)
}

func resolveClients(s *settings) error {
	if err := zeroMeansDefault("MaxClients", &s.MaxClients, DefaultMaxClients); err != nil {
		return err
	}
	if err := zeroMeansDefault("OutputLimit", &s.OutputLimit, DefaultOutputLimit); err != nil {
		return err
	}
	return zeroMeansDefault("ClientMemMax", &s.ClientMemMax, DefaultClientMemMax)
}

// zeroMeansDefault sets *v to def if it is zero; a negative *v is invalid.
func zeroMeansDefault[T int | time.Duration](field string, v *T, def T) error {
	switch {
	case *v < 0:
		return invalid(field, "%v is negative", *v)
	case *v == 0:
		*v = def
	}
	return nil
}

func resolveLimits(s *settings) error {
	def := resp.DefaultLimits()
	def.MaxRequest = DefaultMaxRequest
	var err error
	if s.Limits, err = fillLimits("Limits", s.Limits, def); err != nil {
		return err
	}
	s.PreAuthLimits, err = fillLimits("PreAuthLimits", s.PreAuthLimits, resp.PreAuthLimits())
	s.PreAuthLimits.PreAuth = true
	return err
}

// fillLimits replaces each zero field of l by the one of def.
func fillLimits(field string, l, def resp.Limits) (resp.Limits, error) {
	if l.MaxArgs < 0 || l.MaxBulk < 0 || l.MaxInline < 0 || l.MaxRequest < 0 {
		return l, invalid(field, "negative limit in %+v", l)
	}
	if l.MaxRequest == 0 {
		l.MaxRequest = def.MaxRequest
	}
	if l.MaxArgs == 0 {
		l.MaxArgs = def.MaxArgs
	}
	if l.MaxBulk == 0 {
		l.MaxBulk = def.MaxBulk
	}
	if l.MaxInline == 0 {
		l.MaxInline = def.MaxInline
	}
	if l.MaxInline > maxInlineLimit {
		return l, invalid(field+".MaxInline", "%d exceeds 64 KiB", l.MaxInline)
	}
	return l, nil
}

func resolveTimeouts(s *settings) error {
	if s.IdleTimeout < 0 {
		return invalid("IdleTimeout", "%v is negative", s.IdleTimeout)
	}
	s.AuthTimeout = orDefault(s.AuthTimeout, DefaultAuthTimeout)
	s.RequestTimeout = orDefault(s.RequestTimeout, DefaultRequestTimeout)
	s.WriteTimeout = orDefault(s.WriteTimeout, DefaultWriteTimeout)
	return nil
}

// orDefault maps zero to def and a negative duration to zero (no limit).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func resolveTLS(s *settings) error {
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return invalid("TLSCertFile", "TLSCertFile and TLSKeyFile must be set together")
	}
	if s.TLSCertFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
	if err != nil {
		return invalid("TLSCertFile", "%v", err)
	}
	s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}
