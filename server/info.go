package server

import (
	"cmp"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsm-dev/dsm/internal/version"
)

// redisVersion is the Redis release whose replies the server follows;
// clients that check it see a Redis 7 server. dsm's own version, commit
// and Go release come from internal/version.
const redisVersion = "7.0.0"

// configParam is one setting for CONFIG GET.
type configParam struct{ name, value string }

// configSetters are the settings CONFIG SET may change, by name: each
// checks a new value and returns what applies it, or the reason it is
// refused. The other settings are dsmd's flags, fixed while it runs.
var configSetters = map[string]func(s *Server, value string) (apply func(), reason string){
	"slowlog-log-slower-than": setSlowerThan,
	"slowlog-max-len":         setSlowMaxLen,
	"notify-keyspace-events":  setNotifyFlags,
}

// configParams lists the settings CONFIG GET answers: the Redis names that
// tools ask for, mapped to this server's behaviour, then dsm's own.
func configParams(s *Server) []configParam {
	host, port := s.hostPort()
	st := s.mem.Limits()
	file := absPath(s.cfg.File)
	return []configParam{
		{"bind", host}, {"port", port},
		{"save", ""}, {"appendonly", "no"}, {"appendfsync", s.cfg.Sync.appendfsync()},
		{"maxmemory", "0"}, {"maxmemory-policy", "noeviction"},
		{"maxclients", itoa(s.cfg.MaxClients)},
		{"timeout", itoa(int(s.cfg.IdleTimeout.Seconds()))},
		{"databases", "1"}, {"protected-mode", yesNo(s.protected())},
		{"proto-max-bulk-len", itoa(s.cfg.Limits.MaxBulk)},
		{"dir", filepath.Dir(file)}, {"dbfilename", filepath.Base(s.cfg.File)},
		{"slowlog-max-len", itoa(int(s.slowlog.maxLen.Load()))},
		{"notify-keyspace-events", notifyFlagsString(s.notify.Load())},
		{"slowlog-log-slower-than", itoa(int(s.slowlog.slower.Load()))},
		{"dsm-file", file}, {"dsm-sync", s.cfg.Sync.String()},
		{"dsm-sync-interval", s.cfg.SyncInterval.String()},
		{"dsm-capacity", itoa(st.Capacity)}, {"dsm-name-max", itoa(st.NameMax)},
		{"dsm-value-max", itoa(st.ValueMax)},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// hostPort splits the listening address (or Config.Addr before Serve).
func (s *Server) hostPort() (string, string) {
	addr := s.cfg.Addr
	if a := s.listenAddr(); a != nil {
		addr = a.String()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, "0"
	}
	return host, port
}

// infoSection writes one INFO section's fields under its title, Redis'
// (the name capitalized, "CPU" for cpu).
type infoSection struct {
	name  string
	write func(s *Server, b *infoWriter)
}

// extra reports whether the section is left out of the default INFO, as
// Redis leaves commandstats: "all", "everything" or its name ask for it.
func (sec infoSection) extra() bool { return sec.name == "commandstats" }

var infoSections = []infoSection{
	{"server", infoServer}, {"clients", infoClients}, {"memory", infoMemory},
	{"persistence", infoPersistence}, {"stats", infoStats},
	{"replication", infoReplication}, {"cpu", infoCPU}, {"cluster", infoCluster},
	{"errorstats", infoErrorstats}, {"keyspace", infoKeyspace}, {"commandstats", infoCommandstats},
}

func (sec infoSection) title() string {
	if sec.name == "cpu" {
		return "CPU"
	}
	return strings.ToUpper(sec.name[:1]) + sec.name[1:]
}

type infoWriter struct {
	strings.Builder
	vars    int  // live variables, once counted
	counted bool // vars is set
}

// varCount counts the live variables once per INFO: counting reads every
// slot of the file, and two sections report the count.
func (b *infoWriter) varCount(s *Server) int {
	if !b.counted {
		b.vars, b.counted = s.varCount(), true
	}
	return b.vars
}

func (b *infoWriter) field(name string, value any) {
	fmt.Fprintf(b, "%s:%v\r\n", name, value)
}

// cmdInfo: INFO [section ...]; none, "default", "all" and "everything" mean
// every section. Unknown sections are left out, as Redis does.
func cmdInfo(c *conn, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := want["all"] || want["everything"]
	def := all || len(want) == 0 || want["default"]
	var b infoWriter
	for _, sec := range infoSections {
		if !want[sec.name] && !(def && !sec.extra()) && !all {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + sec.title() + "\r\n")
		sec.write(c.s, &b)
	}
	c.wr.Verbatim("txt", b.String())
}

func infoServer(s *Server, b *infoWriter) {
	_, port := s.hostPort()
	up := time.Since(s.stats.started)
	exe, _ := os.Executable()
	v := version.Get()
	b.field("redis_version", redisVersion)
	b.field("redis_git_sha1", "00000000") // no Redis source here: Redis' value for "unknown"
	b.field("redis_git_dirty", 0)
	b.field("dsm_version", v.Version)
	b.field("dsm_git_sha1", cmp.Or(v.Revision, "00000000"))
	b.field("dsm_git_dirty", boolInt(v.Modified))
	b.field("redis_mode", "standalone")
	b.field("os", runtime.GOOS+" "+runtime.GOARCH)
	b.field("arch_bits", strconv.Itoa(strconv.IntSize))
	b.field("multiplexing_api", "go")
	b.field("go_version", v.Go)
	b.field("process_id", os.Getpid())
	b.field("run_id", s.runID)
	b.field("tcp_port", port)
	b.field("server_time_usec", time.Now().UnixMicro())
	b.field("uptime_in_seconds", int64(up.Seconds()))
	b.field("uptime_in_days", int64(up.Hours()/24))
	b.field("executable", exe)
	b.field("config_file", "")
}

func infoClients(s *Server, b *infoWriter) {
	b.field("connected_clients", s.clientCount())
	b.field("maxclients", s.cfg.MaxClients)
	b.field("blocked_clients", 0)
	b.field("pubsub_clients", s.pubsubCount())
	holders, locked := s.lockCounts()
	b.field("dsm_lock_holders", holders)
	b.field("dsm_locked_vars", locked)
	b.field("dsm_goroutines", s.goroutines.Load())
}

func infoMemory(s *Server, b *infoWriter) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := s.mem.Limits()
	b.field("used_memory", ms.HeapAlloc)
	b.field("used_memory_human", humanBytes(ms.HeapAlloc))
	rss := residentBytes()
	b.field("used_memory_rss", rss)
	b.field("used_memory_rss_human", humanBytes(rss))
	b.field("dsm_go_sys", ms.Sys)
	b.field("maxmemory", 0)
	b.field("mem_clients_normal", s.clientMem.total.Load()) // Redis' name; here the buffers of clientmem.go
	b.field("dsm_client_mem_max", s.cfg.ClientMemMax)
	b.field("maxmemory_policy", "noeviction")
	b.field("mem_allocator", "go")
	b.field("dsm_file_bytes", st.FileSize)
	b.field("dsm_file_bytes_human", humanBytes(uint64(st.FileSize)))
	b.field("dsm_vars", b.varCount(s))
	b.field("dsm_capacity", st.Capacity)
}

func infoPersistence(s *Server, b *infoWriter) {
	b.field("loading", 0)
	b.field("async_loading", 0)
	b.field("rdb_bgsave_in_progress", 0)
	b.field("aof_enabled", 0)
	b.field("dsm_file", absPath(s.cfg.File))
	b.field("dsm_sync", s.cfg.Sync.String())
	b.field("dsm_syncs", s.stats.syncs.Load())
	b.field("dsm_sync_errors", s.stats.syncErrors.Load())
	b.field("dsm_last_sync_time", s.stats.lastSync.Load())
}

func infoStats(s *Server, b *infoWriter) {
	st := &s.stats
	b.field("total_connections_received", st.connections.Load())
	b.field("total_commands_processed", st.commands.Load())
	b.field("total_net_input_bytes", st.netIn.Load())
	b.field("total_net_output_bytes", st.netOut.Load())
	b.field("rejected_connections", st.rejected.Load())
	b.field("expired_keys", 0)
	b.field("evicted_keys", 0)
	b.field("keyspace_hits", st.hits.Load())
	b.field("keyspace_misses", st.misses.Load())
	b.field("total_error_replies", st.errors.Load())
	b.field("client_output_buffer_limit_disconnections", st.outputLimit.Load())
	b.field("evicted_clients", st.clientMemEvictions.Load()) // Redis' name: closed by maxmemory-clients
}

// infoReplication reports a master without replicas and without a
// backlog, with every field of Redis' that tools read (master_repl_offset
// and the rest); the replication id is the run id.
func infoReplication(s *Server, b *infoWriter) {
	if s.cl != nil {
		infoReplicationCluster(s, b)
		return
	}
	b.field("role", "master")
	b.field("connected_slaves", 0)
	b.field("master_failover_state", "no-failover")
	b.field("master_replid", s.runID)
	b.field("master_replid2", strings.Repeat("0", 40))
	b.field("master_repl_offset", 0)
	b.field("second_repl_offset", -1)
	b.field("repl_backlog_active", 0)
	b.field("repl_backlog_size", 0)
	b.field("repl_backlog_first_byte_offset", 0)
	b.field("repl_backlog_histlen", 0)
}

func infoCPU(s *Server, b *infoWriter) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	b.field("used_cpu_sys", fmt.Sprintf("%.6f", tvSeconds(ru.Stime)))
	b.field("used_cpu_user", fmt.Sprintf("%.6f", tvSeconds(ru.Utime)))
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) != nil {
		return
	}
	b.field("used_cpu_sys_children", fmt.Sprintf("%.6f", tvSeconds(ru.Stime)))
	b.field("used_cpu_user_children", fmt.Sprintf("%.6f", tvSeconds(ru.Utime)))
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// infoErrorstats counts the error replies by code, as Redis' errorstats.
func infoErrorstats(s *Server, b *infoWriter) {
	codes, counts := s.stats.errorCounts()
	for _, code := range codes {
		b.field("errorstat_"+code, "count="+strconv.FormatInt(counts[code], 10))
	}
}

// infoCommandstats lists each command that was called, refused or failed,
// in name order, with Redis' fields.
func infoCommandstats(s *Server, b *infoWriter) {
	cmds := slices.Clone(s.cmds.all)
	slices.SortFunc(cmds, func(x, y *command) int { return strings.Compare(x.name, y.name) })
	for _, cmd := range cmds {
		st := &s.stats.cmds[cmd.id]
		calls, usec := st.calls.Load(), st.nanos.Load()/1000
		rejected, failed := st.rejected.Load(), st.failed.Load()
		if cmd.flags&flagHidden != 0 || calls+rejected+failed == 0 {
			continue
		}
		perCall := 0.0
		if calls > 0 {
			perCall = float64(usec) / float64(calls)
		}
		b.field("cmdstat_"+cmd.name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			calls, usec, perCall, rejected, failed))
	}
}

// infoKeyspace lists db0 only when it has variables, as Redis does.
func infoKeyspace(s *Server, b *infoWriter) {
	if n := b.varCount(s); n > 0 {
		b.field("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", n))
	}
}

func humanBytes(n uint64) string {
	const units = "BKMGT"
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.2f%c", f, units[i])
}

// residentBytes is the process's resident set as the kernel counts it
// (/proc/self/statm): the Go heap and stacks, and the pages of the memory
// file this process has touched. 0 if it cannot be read.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
