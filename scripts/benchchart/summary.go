package main

import (
	"fmt"
	"slices"
	"strings"
)

// row is one line of a comparison table: the medians of dsm and of the
// peer it is compared with (Redis, etcd), and their ratio, oriented so that
// above 1 means dsm does better.
type row struct {
	label      string
	unit       string
	peer, dsmd float64
	ratio      float64
	target     string // what the issue asks; "" for none
	met        bool
	peerNA     bool    // a dsm-only figure: no peer's value, no ratio
	noRatio    bool    // both values, but no ratio (counts of events)
	goal       float64 // the ratio the target asks, drawn on the chart; 0 for none

	// lo and hi are the lowest and highest ratio of a single round (the
	// servers' figures of the same round), if spread is set.
	lo, hi float64
	spread bool
}

// groupLabels name the groups of the main run, in table order.
var groupLabels = []struct{ group, label string }{
	{"c50", "50 clients"},
	{"c50-P16", "50 clients, pipeline 16"},
	{"c1", "1 client"},
	{"durable", "50 clients, durable writes"},
}

// summary builds the comparison rows of the main run: throughput, the
// latency of one client, durable writes, and memory per idle connection.
func (res *results) summary() []row {
	var rows []row
	for _, g := range groupLabels {
		for _, t := range res.tests {
			if t.group != g.group {
				continue
			}
			rows = append(rows, res.testRows(t, g.label)...)
		}
	}
	if r, ok := res.idleRow(); ok {
		rows = append(rows, r)
	}
	if gs := res.idleGo["dsmd"]; len(gs) > 0 {
		d := median(gs)
		rows = append(rows, row{label: "Go heap and stacks per idle connection (dsmd only)", unit: "KiB",
			dsmd: d, peerNA: true, target: "≤ 32 KiB", met: d <= 32})
	}
	return rows
}

// testRows are the rows of one remote test: its throughput, and for one
// client its latency percentiles as well.
func (res *results) testRows(t testKey, label string) []row {
	rs, ds := res.remote[remoteKey{t, "redis"}], res.remote[remoteKey{t, "dsmd"}]
	if len(rs) == 0 || len(ds) == 0 {
		return nil
	}
	name := t.test + ", " + label
	if t.group == "c1" {
		p50r := latencyRow(name+", p50", medianOf(rs, p50), medianOf(ds, p50), true)
		p99r := latencyRow(name+", p99", medianOf(rs, p99), medianOf(ds, p99), false)
		p50r.lo, p50r.hi, p50r.spread = roundRatios(rs, ds, p50)
		p99r.lo, p99r.hi, p99r.spread = roundRatios(rs, ds, p99)
		return []row{p50r, p99r}
	}
	r := row{label: name, unit: "req/s", peer: medianOf(rs, rps), dsmd: medianOf(ds, rps), target: "≥ 1.00"}
	r.ratio = safeDiv(r.dsmd, r.peer)
	r.met = r.ratio >= 1
	r.lo, r.hi, r.spread = roundRatios(ds, rs, rps)
	return []row{r}
}

// latencyRow compares latencies: the ratio is Redis' over dsmd's, so that
// above 1 means dsmd answers sooner.
func latencyRow(label string, redis, dsmd float64, target bool) row {
	r := row{label: label, unit: "ms", peer: redis, dsmd: dsmd, ratio: safeDiv(redis, dsmd)}
	if target {
		r.target = "≥ 1.00"
		r.met = dsmd <= redis
	}
	return r
}

// idleRow is the memory one idle connection costs each server.
func (res *results) idleRow() (row, bool) {
	rs, ds := res.idle["redis"], res.idle["dsmd"]
	if len(rs) == 0 || len(ds) == 0 {
		return row{}, false
	}
	r := row{label: "memory per idle connection", unit: "KiB", peer: median(rs), dsmd: median(ds), target: "dsmd ≤ 32 KiB"}
	r.ratio = safeDiv(r.peer, r.dsmd)
	r.met = r.dsmd <= 32
	return r, true
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// format prints a figure with precision that suits its unit.
func format(v float64, unit string) string {
	switch unit {
	case "req/s", "ops/s":
		return fmt.Sprintf("%.0f", v)
	case "ms":
		if v >= 100 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.3f", v)
	case "changes":
		return count(v)
	}
	return fmt.Sprintf("%.1f", v)
}

// verdict words whether a row meets its target.
func (r row) verdict() string {
	switch {
	case r.target == "":
		return ""
	case r.met:
		return "met"
	}
	return "**missed**"
}

// table renders rows as a markdown table whose columns name the peer and
// dsm's server.
func table(rows []row, peer, ours string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| benchmark | unit | %s | %s | ratio (>1: %s better) | one round's ratio, lowest–highest | target | |\n", peer, ours, ours)
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range rows {
		peer, ratio, spread := format(r.peer, r.unit), fmt.Sprintf("%.2f", r.ratio), ""
		switch {
		case r.peerNA:
			peer, ratio = "–", "–"
		case r.noRatio:
			ratio = "–"
		}
		if r.spread {
			spread = fmt.Sprintf("%.2f–%.2f", r.lo, r.hi)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.label, r.unit, peer, format(r.dsmd, r.unit), ratio, spread, r.target, r.verdict())
	}
	return b.String()
}

// hasRatio reports whether the row has a ratio to draw.
func (r row) hasRatio() bool { return !r.peerNA && !r.noRatio }

// hasRatios reports whether some row has a ratio to draw.
func hasRatios(rows []row) bool { return slices.ContainsFunc(rows, row.hasRatio) }
