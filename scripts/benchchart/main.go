// Command benchchart turns the raw results that scripts/bench records into
// docs/BENCHMARKS.md, an SVG bar chart of the dsmd/Redis ratios and one of
// the ratios of a dsm cluster to an etcd cluster.
//
// Usage:
//
//	benchchart -doc docs/BENCHMARKS.md -svg docs/bench/ratios.svg \
//		-cluster-svg docs/bench/cluster.svg RESULTS.tsv...
//
// Each results file holds tab-separated records, one per line:
//
//	meta   KEY VALUE                      the machine and the settings
//	cmd    GROUP COMMAND                  a command line that was run
//	remote GROUP TEST SERVER ROUND RPS P50 P99   one redis-benchmark line
//	idle   SERVER CONNS RSS_BEFORE_KB RSS_AFTER_KB
//	gobench PACKAGE LINE                  one line of go test -bench output
//	cluster-load, cluster-failover, cluster-leaders   scripts/bench cluster's
//	                                      (see cluster.go)
//	lang   LANG OP PATH ROUND NS          scripts/bench languages' (languages.go)
//
// Figures are summarised by their median over the rounds, and the ratio of
// the two servers is taken between medians, so drift between rounds (the
// machine is shared) cancels as far as the rounds were interleaved.
//
// It is hand-written rather than built on a plotting library: the chart is
// a few rectangles, and the repository keeps its dependencies for the
// product.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchchart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	docPath := fs.String("doc", "docs/BENCHMARKS.md", "markdown `FILE` to write")
	svgPath := fs.String("svg", "docs/bench/ratios.svg", "SVG chart `FILE` to write")
	svgRef := fs.String("svg-ref", "bench/ratios.svg", "path of the chart as the document links it")
	clusterSvg := fs.String("cluster-svg", "", "SVG chart `FILE` of the cluster comparison to write, if there are cluster records")
	clusterRef := fs.String("cluster-svg-ref", "bench/cluster.svg", "path of the cluster chart as the document links it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no results files given")
	}
	var res results
	for _, path := range fs.Args() {
		if err := res.load(path); err != nil {
			return err
		}
	}
	rows := res.summary()
	if err := os.WriteFile(*svgPath, []byte(chart(rows, "dsmd vs Redis, ratio of medians (above 1: dsmd better)", "1.0 (Redis)")), 0o644); err != nil {
		return err
	}
	crows := res.clusterRows()
	if *clusterSvg == "" || !hasRatios(crows) {
		*clusterRef = ""
	} else {
		svg := chart(crows, "dsm vs etcd, three nodes each: ratio of medians (above 1: dsm better)", "1.0 (etcd)")
		if err := os.WriteFile(*clusterSvg, []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(*docPath, []byte(res.document(rows, *svgRef, crows, *clusterRef)), 0o644)
}

// load reads one results file into res.
func (res *results) load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := res.add(sc.Text()); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}

// add parses one record.
func (res *results) add(line string) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	f := strings.Split(line, "\t")
	switch f[0] {
	case "meta":
		return res.addMeta(f)
	case "cmd":
		return res.addCmd(f)
	case "remote":
		return res.addRemote(f)
	case "idle":
		return res.addIdle(f)
	case "gobench":
		return res.addGoBench(f)
	case "cluster-load":
		return res.addClusterLoad(f)
	case "cluster-failover":
		return res.addClusterFailover(f)
	case "cluster-leaders":
		return res.addClusterLeaders(f)
	case "lang":
		return res.addLang(f)
	}
	return fmt.Errorf("unknown record %q", f[0])
}
