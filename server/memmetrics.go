package server

import "github.com/prometheus/client_golang/prometheus"

// registerMemoryMetrics exports the file's own figures from shm. shm does
// not count lock waits yet (see /work/notes/requests.md); when it does,
// they belong here.
func registerMemoryMetrics(reg *prometheus.Registry, s *Server) {
	reg.MustRegister(
		gauge("dsm_capacity_variables", "Variables the file can hold.", func() float64 {
			return float64(s.mem.Stats().Capacity)
		}),
		gauge("dsm_file_bytes", "Size of the memory file.", func() float64 {
			return float64(s.mem.Stats().FileSize)
		}),
		gauge("dsm_attached_processes", "Processes that have the file open, the daemon included.", func() float64 {
			return float64(s.mem.Stats().Procs)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dsm_file_flushes_total", Help: "Flushes of the file by this process (shm's count).",
		}, func() float64 {
			n, _ := s.mem.SyncStats()
			return float64(n)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dsm_file_flush_seconds_total", Help: "Time spent flushing the file (shm's count).",
		}, func() float64 {
			_, d := s.mem.SyncStats()
			return d.Seconds()
		}),
	)
}
