package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of its own so
// that several servers can live in one process.
type metrics struct {
	reg      *prometheus.Registry
	calls    []prometheus.Counter  // by command id
	errs     []prometheus.Counter  // by command id
	latency  []prometheus.Observer // by command id
	conns    prometheus.Counter
	rejected *prometheus.CounterVec
	flush    *prometheus.HistogramVec
	flushErr *prometheus.CounterVec
	lockWait *prometheus.HistogramVec // by mode: read or write
	lockHold *prometheus.HistogramVec // by mode: read or write

	clientMemEvictions prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.conns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dsm_connections_total", Help: "Connections accepted.",
	})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dsm_connections_rejected_total", Help: "Connections refused, by reason.",
	}, []string{"reason"})
	m.flush = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dsm_flush_seconds",
		Help:    "Latency of flushing the file: sync (periodic or final), barrier (group commit) or checkpoint (redo log).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	}, []string{"kind"})
	m.flushErr = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dsm_flush_errors_total", Help: "Failed flushes of the file.",
	}, []string{"kind"})
	m.lockWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dsm_lock_wait_seconds",
		Help:    "Time LOCK waited for its locks, whether it got them or not, by mode (read or write).",
		Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10), // 10 us to 2.6 s
	}, []string{"mode"})
	m.lockHold = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dsm_lock_hold_seconds",
		Help:    "Time a client held the locks of one LOCK, until UNLOCK, its end or its lease's, by mode (read or write).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100 us to 26 s
	}, []string{"mode"})
	m.clientMemEvictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dsm_client_mem_evictions_total", Help: "Clients closed because all clients' buffers exceeded the bound (ClientMemMax).",
	})
	m.reg.MustRegister(m.conns, m.rejected, m.flush, m.flushErr, m.lockWait, m.lockHold, m.clientMemEvictions,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("dsm_connected_clients", "Clients connected now.", func() float64 { return float64(s.clientCount()) }),
		gauge("dsm_variables", "Variables in the file.", func() float64 { return float64(s.mem.Len()) }),
		gauge("dsm_client_mem_bytes", "Bytes held by clients' pending input and output.", func() float64 { return float64(s.clientMem.total.Load()) }),
		gauge("dsm_goroutines", "Goroutines started by the server and still running.", func() float64 { return float64(s.goroutines.Load()) }),
	)
	registerMemoryMetrics(m.reg, s)
	return m
}

func gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

// bindCommands makes one call counter, one error counter and one latency
// histogram per command, so that counting a command costs one atomic add
// and no label lookup.
func (m *metrics) bindCommands(names []string) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dsm_commands_total", Help: "Commands executed, by command.",
	}, []string{"command"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dsm_command_errors_total", Help: "Error replies, by command.",
	}, []string{"command"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dsm_command_duration_seconds",
		Help: "Time from a command's start to its reply being buffered, by command; waits (LOCK WAIT, EXEC) included.",
		// 10 µs to 2.6 s by factors of 4
		Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
	}, []string{"command"})
	m.reg.MustRegister(calls, errs, latency)
	m.calls = make([]prometheus.Counter, len(names))
	m.errs = make([]prometheus.Counter, len(names))
	m.latency = make([]prometheus.Observer, len(names))
	for i, name := range names {
		m.calls[i] = calls.WithLabelValues(name)
		m.errs[i] = errs.WithLabelValues(name)
		m.latency[i] = latency.WithLabelValues(name)
	}
}

func (m *metrics) observeFlush(kind string, start time.Time, err error) {
	if err != nil {
		m.flushErr.WithLabelValues(kind).Inc()
		return
	}
	m.flush.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// lockMode is the mode label of the lock metrics.
func lockMode(write bool) string {
	if write {
		return "write"
	}
	return "read"
}

// MetricsHandler returns the handler ServeMetrics serves: Prometheus metrics
// at /metrics (from the server's own registry), /healthz (200 while the
// process answers), /readyz (200 while the server serves, see Ready), and,
// with Config.Pprof, pprof at /debug/pprof/.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	if s.cfg.Pprof {
		addPprof(mux)
	}
	return mux
}

// Ready reports whether the server serves its file: nil while it is open
// and neither closing nor stopped by a storage failure, on a cluster node
// while it knows a leader, and Config's ReadyCheck, when set, agrees.
func (s *Server) Ready() error {
	switch {
	case s.storageErr() != nil:
		return fmt.Errorf("memory file failed: %w", s.storageErr())
	case s.closing.Load():
		return ErrServerClosed
	case s.cl != nil && s.cl.node.Status().LeaderID == "":
		return errors.New("cluster: no leader known")
	case s.cfg.ReadyCheck != nil:
		return s.cfg.ReadyCheck()
	}
	return nil
}

func addPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// ServeMetrics serves MetricsHandler on l until Shutdown or Close, then
// returns ErrServerClosed.
func (s *Server) ServeMetrics(l net.Listener) error {
	hs := &http.Server{Handler: s.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	if !s.trackCloser(hs) {
		l.Close()
		return ErrServerClosed
	}
	s.log.Info("metrics listening", "addr", l.Addr().String())
	err := hs.Serve(l)
	if err == http.ErrServerClosed {
		err = ErrServerClosed
	}
	return err
}
