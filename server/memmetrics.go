package server

import "github.com/prometheus/client_golang/prometheus"

// registerMemoryMetrics exports the file's own figures from shm. A scrape
// reads only the header and the process table, never every slot.
func registerMemoryMetrics(reg *prometheus.Registry, s *Server) {
	reg.MustRegister(
		gauge("dsm_capacity_variables", "Variables the file can hold.", func() float64 {
			return float64(s.mem.Limits().Capacity)
		}),
		gauge("dsm_file_bytes", "Size of the memory file.", func() float64 {
			return float64(s.mem.Limits().FileSize)
		}),
		gauge("dsm_attached_processes", "Processes that have the file open, the daemon included.", func() float64 {
			return float64(len(s.mem.Procs()))
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
