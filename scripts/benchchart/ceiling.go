package main

import (
	"fmt"
	"slices"
	"strings"
)

// ceilingGroup holds the records of scripts/bench ceiling.
const ceilingGroup = "ceiling"

// writeCeiling reports dsmd and the servers that do no work
// (scripts/nullserver) against Redis, test by test: each server's median
// and its ratio to Redis', with the lowest and highest of a single round.
func (res *results) writeCeiling(b *strings.Builder) {
	var tests []string
	for _, t := range res.tests {
		if t.group == ceilingGroup {
			tests = append(tests, t.test)
		}
	}
	servers := res.ceilingServers()
	if len(tests) == 0 || !slices.Contains(servers, "redis") {
		return
	}
	servers = slices.DeleteFunc(servers, func(s string) bool { return s == "redis" })
	b.WriteString("## What a Go server reaches here\n\n")
	b.WriteString("`scripts/bench ceiling`: Redis, dsmd, and `scripts/nullserver` in each of its three\n")
	b.WriteString("loops, through the same unpipelined 50-client commands in rotating order. The null\n")
	b.WriteString("servers frame each command and answer +OK without doing anything else, so what\n")
	b.WriteString("they reach against Redis is the most a Go server can reach on this machine with\n")
	b.WriteString("that way of serving connections: `go-conn` a goroutine per connection (as dsmd),\n")
	b.WriteString("`go-epoll` one thread in an epoll loop (as Redis), `go-uring` one thread that\n")
	b.WriteString("submits receives and sends to io_uring, one system call per turn for all\n")
	b.WriteString("connections. Each cell is the median req/s, then the ratio to Redis' median and\n")
	b.WriteString("the lowest–highest ratio of a single round.\n\n")
	b.WriteString("| test | Redis |")
	for _, s := range servers {
		fmt.Fprintf(b, " %s |", s)
	}
	b.WriteString("\n| --- | ---: |" + strings.Repeat(" ---: |", len(servers)) + "\n")
	for _, test := range tests {
		rs := res.remote[remoteKey{testKey{ceilingGroup, test}, "redis"}]
		if len(rs) == 0 {
			continue
		}
		redis := medianOf(rs, rps)
		fmt.Fprintf(b, "| %s | %.0f |", test, redis)
		for _, s := range servers {
			ss := res.remote[remoteKey{testKey{ceilingGroup, test}, s}]
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

// ceilingServers lists the servers of the ceiling run: Redis, dsmd, then
// the others by name.
func (res *results) ceilingServers() []string {
	var out []string
	for k := range res.remote {
		if k.group == ceilingGroup && !slices.Contains(out, k.server) {
			out = append(out, k.server)
		}
	}
	rank := func(s string) int {
		switch s {
		case "redis":
			return 0
		case "dsmd":
			return 1
		}
		return 2
	}
	slices.SortFunc(out, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return out
}
