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
