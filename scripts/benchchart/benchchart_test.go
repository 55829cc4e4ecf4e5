package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleRecords = "meta\tCPU\tTest CPU\n" +
	"cmd\tc50\tredis-benchmark -p PORT -c 50 -t set\n" +
	"remote\tc50\tSET\tredis\t1\t100\t0.2\t0.5\n" +
	"remote\tc50\tSET\tdsmd\t1\t120\t0.2\t0.4\n" +
	"remote\tc50\tSET\tredis\t2\t300\t0.2\t0.5\n" +
	"remote\tc50\tSET\tdsmd\t2\t80\t0.2\t0.4\n" +
	"remote\tc50\tSET\tredis\t3\t200\t0.2\t0.5\n" +
	"remote\tc50\tSET\tdsmd\t3\t100\t0.2\t0.4\n" +
	"remote\tc1\tGET\tredis\t1\t10\t0.040\t0.1\n" +
	"remote\tc1\tGET\tdsmd\t1\t10\t0.050\t0.1\n" +
	"idle\tredis\t100\t1000\t2000\n" +
	"idle\tdsmd\t100\t1000\t1500\t200\t1200\n" +
	"gobench\tshm\tBenchmarkHandleGet-2   100   12.5 ns/op   0 B/op   0 allocs/op\n" +
	"gobench\tshm\tBenchmarkHandleGet-2   100   14.5 ns/op   0 B/op   0 allocs/op\n" +
	"gobench\tshm\tBenchmarkHandleAddProcs/procs=2-2   100   50 ns/op   20000000 ops/s\n" +
	"gobench\tshm\tPASS\n" +
	"remote\tceiling\tGET\tredis\t1\t200\t0.2\t0.5\n" +
	"remote\tceiling\tGET\tgo-conn\t1\t190\t0.2\t0.5\n" +
	"remote\tceiling\tGET\tdsmd\t1\t150\t0.2\t0.5\n" +
	"remote\tceiling\tGET\tredis\t2\t100\t0.2\t0.5\n" +
	"remote\tceiling\tGET\tgo-conn\t2\t110\t0.2\t0.5\n" +
	"remote\tceiling\tGET\tdsmd\t2\t90\t0.2\t0.5\n" +
	"remote\tslots-P16\tINCR\tdsmd-128\t1\t1300\t0.2\t0.5\n" +
	"remote\tslots-P16\tINCR\tredis\t1\t1000\t0.2\t0.5\n"

func TestDocument(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.tsv")
	if err := os.WriteFile(in, []byte(sampleRecords), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, svg := filepath.Join(dir, "B.md"), filepath.Join(dir, "r.svg")
	if err := run([]string{"-doc", doc, "-svg", svg, in}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(doc)
	for _, want := range []string{
		"| CPU | Test CPU |",
		// medians: Redis 200, dsmd 100: ratio 0.50, missed; the rounds'
		// own ratios are 1.20, 0.27 and 0.50.
		"| SET, 50 clients | req/s | 200 | 100 | 0.50 | 0.27–1.20 | ≥ 1.00 | **missed** |",
		// latency: Redis/dsmd = 0.8, missed.
		"| GET, 1 client, p50 | ms | 0.040 | 0.050 | 0.80 | 0.80–0.80 | ≥ 1.00 | **missed** |",
		"| memory per idle connection | KiB | 10.0 | 5.0 | 2.00 |  | dsmd ≤ 32 KiB | met |",
		"| Go heap and stacks per idle connection (dsmd only) | KiB | – | 10.0 | – |  | ≤ 32 KiB | met |",
		"| shm.HandleGet | 13.5 | 0 | ≤ 15 ns | met |",
		"| 2 | 20000000 | 1.00 |",
		"redis-benchmark -p PORT -c 50 -t set",
		// ceiling: medians Redis 150, dsmd 120, go-conn 150; rounds 0.75
		// and 0.90 for dsmd, 0.95 and 1.10 for go-conn; servers in the
		// order first recorded.
		"| test | Redis | go-conn | dsmd |",
		"| GET | 150 | 150 (1.00, 0.95–1.10) | 120 (0.80, 0.75–0.90) |",
		// slots: one round, pipelined only.
		"50 clients, pipeline 16:\n\n| test | Redis | dsmd-128 |",
		"| INCR | 1000 | 1300 (1.30, 1.30–1.30) |",
		// no cluster records: the section says how to measure it.
		"## Cluster: dsm against etcd\n\nNot measured in this run: `scripts/bench cluster`",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("document lacks %q:\n%s", want, md)
		}
	}
	img, _ := os.ReadFile(svg)
	if !strings.HasPrefix(string(img), "<svg") || strings.Count(string(img), "<rect") != 1+4 {
		t.Errorf("chart: want a background and 4 bars:\n%s", img)
	}
}

func TestBadRecord(t *testing.T) {
	var res results
	for _, line := range []string{"remote\tc50\tSET\tredis\t1\tx\t0\t0", "bogus\t1", "idle\tdsmd\t0\t1\t2"} {
		if err := res.add(line); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestBend(t *testing.T) {
	for _, tt := range []struct {
		rps  []float64
		want string
	}{
		{[]float64{10, 50, 100, 105}, "flat from 100 (100 → 105 req/s); peak 105 at 1000."},
		{[]float64{10, 50, 100, 60}, "falling from 100 (100 → 60 req/s); peak 100 at 100, 60 at 1000."},
		{[]float64{10, 20, 40, 80}, "still rising at 1000"},
	} {
		if got := bend([]int{1, 10, 100, 1000}, tt.rps); !strings.Contains(got, tt.want) {
			t.Errorf("bend(%v) = %q, want it to contain %q", tt.rps, got, tt.want)
		}
	}
}

const clusterRecords = "meta\tcluster run (scripts/bench cluster)\tsmoke\n" +
	"cluster-leaders\tdsm\tidle\t60\t0\t0\n" +
	"cluster-leaders\tetcd\tidle\t60\t1\t1\n" +
	"cluster-load\tc50\tput\tdsm\t1\t9000\t5\t9\t0\n" +
	"cluster-load\tc50\tput\tetcd\t1\t2000\t20\t60\t0\n" +
	"cluster-load\tc50\tput\tetcd\t2\t3000\t20\t60\t0\n" +
	"cluster-load\tc50\tput\tdsm\t2\t6000\t5\t9\t2\n" +
	"cluster-load\tc50\tsget\tdsm\t1\t40000\t1\t2\t0\n" +
	"cluster-load\tc50\tsget\tetcd\t1\t5000\t5\t50\t0\n" +
	"cluster-load\tc1\tget\tdsm\t1\t2000\t0.5\t1\t0\n" +
	"cluster-load\tc1\tget\tetcd\t1\t800\t1\t6\t0\n" +
	"cluster-leaders\tdsm\tload\t130\t-\t0\n" +
	"cluster-leaders\tetcd\tload\t130\t0\t0\n" +
	"cluster-failover\tdsm\t1\t400\n" +
	"cluster-failover\tetcd\t1\t1100\n" +
	"cluster-failover\tetcd\t2\t1300\n" +
	"cluster-failover\tdsm\t2\t800\n"

func TestClusterDocument(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "cluster.tsv")
	if err := os.WriteFile(in, []byte(clusterRecords), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, svg, csvg := filepath.Join(dir, "B.md"), filepath.Join(dir, "r.svg"), filepath.Join(dir, "c.svg")
	if err := run([]string{"-doc", doc, "-svg", svg, "-cluster-svg", csvg, "-cluster-svg-ref", "bench/c.svg", in}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(doc)
	for _, want := range []string{
		"## Cluster: dsm against etcd",
		"| benchmark | unit | etcd | dsm | ratio (>1: dsm better) |",
		// medians dsm 7500, etcd 2500: 3.00, met; rounds 4.50 and 2.00.
		"| put (SET; Put), 50 clients | ops/s | 2500 | 7500 | 3.00 | 2.00–4.50 | ≥ 3.00 | met |",
		"| stale get (GET after READONLY; serializable Get), 50 clients | ops/s | 5000 | 40000 | 8.00 | 8.00–8.00 | ≥ 10.00 | **missed** |",
		// latency: etcd/dsm, no target.
		"| linearizable get, 1 client, p99 | ms | 6.000 | 1.000 | 6.00 | 6.00–6.00 |  |  |",
		// failover: medians etcd 1200, dsm 600: 2.00, met; reps 2.75 and 1.63.
		"| failover: kill -9 of the leader to the next acknowledged write | ms | 1200 | 600 | 2.00 | 1.62–2.75 | ≥ 2.00 (dsm ≤ ½ etcd's) | met |",
		"| leader changes during the load runs | changes | 0 | not known | – |  | dsm: 0 | **missed** |",
		"| leader changes while idle | changes | 1 | 0 | – |  | dsm: 0 | met |",
		"![dsm vs etcd ratios](bench/c.svg)",
		"Targets met: 3 of 5. Missed: stale get",
		"| 50 | put | dsm | 2 | 7500 | 5.000 | 9.000 | 2 |",
		"| dsm | 2 | 600 | 400–800 | 400, 800 |",
		"| dsm | load | 130 | not known | 0 |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("document lacks %q:\n%s", want, md)
		}
	}
	img, _ := os.ReadFile(csvg)
	// put, sget, get p50 and p99, failover; ticks at the goals of three.
	if strings.Count(string(img), "<rect") != 1+5 || strings.Count(string(img), `stroke-width="2"`) != 3 {
		t.Errorf("cluster chart: want a background, 5 bars and 3 goal ticks:\n%s", img)
	}
}

func TestBadClusterRecord(t *testing.T) {
	var res results
	for _, line := range []string{
		"cluster-load\tc50\tput\tdsm\t1\t9000\t5\t9",
		"cluster-load\tmany\tput\tdsm\t1\t9000\t5\t9\t0",
		"cluster-failover\tdsm\t1\tx",
		"cluster-leaders\tdsm\tidle\t60\tx\t0",
	} {
		if err := res.add(line); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}
