package main

import (
	"strings"
	"testing"
)

// TestLanguages: medians over rounds, the Python ratios against redis-py
// and their goal, C against Go by name and the handle path's crossing.
func TestLanguages(t *testing.T) {
	var res results
	res.init()
	for _, line := range []string{
		"lang\tpython\tadd\tlibdsm\t1\t1000",
		"lang\tpython\tadd\tlibdsm\t2\t3000",
		"lang\tpython\tadd\tlibdsm\t3\t2000",
		"lang\tpython\tadd\tredis-py to Redis\t1\t50000",
		"lang\tpython\tadd\tredis-py to dsmd\t1\t60000",
		"lang\tpython\tget\tlibdsm\t1\t4000",
		"lang\tpython\tget\tredis-py to Redis\t1\t50000",
		"lang\tpython\tget\tredis-py to dsmd\t1\t40000",
		"lang\tgo\tget\tname\t1\t100",
		"lang\tc\tget\tname\t1\t150",
		"lang\tgo\tget\thandle\t1\t20",
		"lang\tc\tget\thandle\t1\t70",
		"lang\tc\tcall\tdsm_get_limits\t1\t50",
	} {
		if err := res.add(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := res.add("lang\tpython\tadd\tlibdsm\t1\tfast"); err == nil {
		t.Fatal("a record without a number was accepted")
	}
	var b strings.Builder
	res.writeLanguages(&b)
	for _, want := range []string{
		"| `add` / INCR | 2.00 | 60.0 | 50.0 | 25x | 30x | met |",
		"| `get` / GET | 4.00 | 40.0 | 50.0 | 12x | 10x | missed |",
		"| by name | 100 | 150 | 1.50 | met |",
		"| by handle | 20 | 70 | 3.50 | - |",
		"here 50 ns of its 70 ns are the crossing",
		"150 ns against\n70, 1.50 of Go's get by name",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}
