package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/client"
)

// status is what `dsm info` shows: the server, its file, sync mode,
// variables and the clients connected.
type status struct {
	Mode      string         `json:"mode"` // "daemon" or "local"
	Server    string         `json:"server,omitempty"`
	Addr      string         `json:"addr,omitempty"`
	PID       int64          `json:"pid,omitempty"`
	Uptime    int64          `json:"uptime_seconds,omitempty"`
	File      string         `json:"file,omitempty"`
	Sync      string         `json:"sync,omitempty"`
	Variables int64          `json:"variables"`
	Capacity  int64          `json:"capacity,omitempty"`
	Clients   []clientStatus `json:"clients"`
	// Notes are facts that do not fit the fields above (local mode).
	Notes []string `json:"notes,omitempty"`
}

// clientStatus is one connected client.
type clientStatus struct {
	Addr string `json:"addr"`
	Name string `json:"name,omitempty"`
	Age  int64  `json:"age_seconds"`
	Idle int64  `json:"idle_seconds"`
	Cmd  string `json:"cmd,omitempty"`
}

// remoteStatus builds a status from the daemon's INFO and CLIENT LIST.
// Field names are looked up under dsmd's names first, then Redis' own.
func remoteStatus(addr string, info client.Info, clients []client.ClientInfo) *status {
	s := &status{Mode: "daemon", Addr: addr, Clients: []clientStatus{}}
	s.Server = serverName(info)
	s.PID = infoInt(info, "process_id")
	s.Uptime = infoInt(info, "uptime_in_seconds")
	s.File = first(info, "dsm_file", "file")
	s.Sync = first(info, "dsm_sync", "sync")
	s.Variables = infoInt(info, "dsm_vars", "vars", "variables")
	if s.Variables == 0 {
		s.Variables = dbKeys(info["db0"])
	}
	s.Capacity = infoInt(info, "dsm_capacity", "capacity")
	for _, c := range clients {
		s.Clients = append(s.Clients, clientStatus{
			Addr: c.Addr, Name: c.Name, Cmd: c.Cmd,
			Age: int64(c.Age / time.Second), Idle: int64(c.Idle / time.Second),
		})
	}
	return s
}

func serverName(info client.Info) string {
	if v := first(info, "dsm_version"); v != "" {
		return "dsmd " + v
	}
	if v := first(info, "redis_version"); v != "" {
		return "redis-compatible " + v
	}
	return "dsmd"
}

// first returns the first non-empty field of keys.
func first(info client.Info, keys ...string) string {
	for _, k := range keys {
		if v := info[k]; v != "" {
			return v
		}
	}
	return ""
}

func infoInt(info client.Info, keys ...string) int64 {
	n, _ := strconv.ParseInt(first(info, keys...), 10, 64)
	return n
}

// dbKeys reads N from a keyspace line "keys=N,expires=0,avg_ttl=0".
func dbKeys(db string) int64 {
	for f := range strings.SplitSeq(db, ",") {
		if v, ok := strings.CutPrefix(f, "keys="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func (s *status) objects() []any { return []any{s} }

func (s *status) plain() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, fmt.Sprintf("%-10s %s", k, v))
		}
	}
	server := s.Server
	var extra []string
	if s.PID != 0 {
		extra = append(extra, fmt.Sprintf("pid %d", s.PID))
	}
	if s.Uptime != 0 {
		extra = append(extra, "up "+(time.Duration(s.Uptime)*time.Second).String())
	}
	if len(extra) > 0 {
		server += " (" + strings.Join(extra, ", ") + ")"
	}
	add("server", server)
	add("address", s.Addr)
	add("file", s.File)
	add("sync", s.Sync)
	vars := strconv.FormatInt(s.Variables, 10)
	if s.Capacity > 0 {
		vars += " of " + strconv.FormatInt(s.Capacity, 10)
	}
	add("variables", vars)
	if s.Mode == "daemon" {
		add("clients", fmt.Sprintf("%d connected", len(s.Clients)))
		for _, c := range s.Clients {
			line := fmt.Sprintf("%-10s %s", "", c.Addr)
			if c.Name != "" {
				line += "  name=" + c.Name
			}
			line += fmt.Sprintf("  age %ds  idle %ds", c.Age, c.Idle)
			if c.Cmd != "" {
				line += "  last " + c.Cmd
			}
			out = append(out, line)
		}
	}
	for _, n := range s.Notes {
		add("note", n)
	}
	return out
}
