package main

import (
	"fmt"
	"slices"
	"strings"
)

// The groups of scripts/bench ceiling and slots, which run more servers
// than the two of the main run, all against Redis.
const (
	ceilingGroup  = "ceiling"
	slotsGroup    = "slots"
	slotsP16Group = "slots-P16"
)

// writeCeiling reports dsmd and the servers that do no work
// (scripts/nullserver) against Redis.
func (res *results) writeCeiling(b *strings.Builder) {
	if !res.hasServers(ceilingGroup) {
		return
	}
	b.WriteString("## What a Go server reaches here\n\n")
	b.WriteString("`scripts/bench ceiling`: Redis, dsmd, and `scripts/nullserver` in each of its three\n")
	b.WriteString("loops, through the same unpipelined 50-client commands in rotating order. The null\n")
	b.WriteString("servers frame each command and answer +OK without doing anything else, so what\n")
	b.WriteString("they reach against Redis is the most a Go server can reach on this machine with\n")
	b.WriteString("that way of serving connections: `go-conn` a goroutine per connection (as dsmd),\n")
	b.WriteString("`go-epoll` one thread in an epoll loop (as Redis), `go-uring` one thread that\n")
	b.WriteString("submits receives and sends to io_uring, one system call per turn for all\n")
	b.WriteString("connections. ")
	b.WriteString(cellLegend)
	res.serverTable(b, ceilingGroup)
}

// writeSlots reports dsmd on files with slots of several sizes against
// Redis.
func (res *results) writeSlots(b *strings.Builder) {
	if !res.hasServers(slotsGroup) && !res.hasServers(slotsP16Group) {
		return
	}
	b.WriteString("## What the size of a slot costs\n\n")
	b.WriteString("`scripts/bench slots`: Redis and dsmd on three files through the write lines, in\n")
	b.WriteString("rotating order. A variable's slot holds its lock, version and name and two\n")
	b.WriteString("buffers of the file's largest value, so the capacities chosen at creation fix its\n")
	b.WriteString("size: `dsmd-768` has the defaults (names of up to 120 bytes, values of up to\n")
	b.WriteString("256), `dsmd-384` values of up to 64 (`-value-max 64`), `dsmd-128` names of up to\n")
	b.WriteString("24 and values of up to 8 (`-name-max 24 -value-max 8`), which still holds every\n")
	b.WriteString("key and value redis-benchmark sends. The smaller the slot, the fewer pages a\n")
	b.WriteString("write over the keyspace touches, and the fewer the once-a-second flush writes\n")
	b.WriteString("back and write-protects. ")
	b.WriteString(cellLegend)
	if res.hasServers(slotsGroup) {
		b.WriteString("50 clients:\n\n")
		res.serverTable(b, slotsGroup)
	}
	if res.hasServers(slotsP16Group) {
		b.WriteString("50 clients, pipeline 16:\n\n")
		res.serverTable(b, slotsP16Group)
	}
}

const cellLegend = "Each cell is the median req/s, then the ratio to Redis'\nmedian and the lowest–highest ratio of a single round.\n\n"

// hasServers reports whether the group has records of Redis and of some
// other server.
func (res *results) hasServers(group string) bool {
	s := res.serverSeq[group]
	return slices.Contains(s, "redis") && len(s) > 1
}

// serverTable writes the group's tests, one row each: Redis' median, then
// for every other server in the order first recorded its median, its ratio
// to Redis' and the lowest and highest ratio of a single round.
func (res *results) serverTable(b *strings.Builder, group string) {
	servers := slices.DeleteFunc(slices.Clone(res.serverSeq[group]), func(s string) bool { return s == "redis" })
	b.WriteString("| test | Redis |")
	for _, s := range servers {
		fmt.Fprintf(b, " %s |", s)
	}
	b.WriteString("\n| --- | ---: |" + strings.Repeat(" ---: |", len(servers)) + "\n")
	for _, t := range res.tests {
		if t.group != group {
			continue
		}
		rs := res.remote[remoteKey{t, "redis"}]
		if len(rs) == 0 {
			continue
		}
		redis := medianOf(rs, rps)
		fmt.Fprintf(b, "| %s | %.0f |", t.test, redis)
		for _, s := range servers {
			ss := res.remote[remoteKey{t, s}]
			if len(ss) == 0 {
				b.WriteString(" – |")
				continue
			}
			m := medianOf(ss, rps)
			lo, hi, _ := roundRatios(ss, rs, rps)
			fmt.Fprintf(b, " %.0f (%.2f, %.2f–%.2f) |", m, safeDiv(m, redis), lo, hi)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}
