package server

import (
	"strings"
	"testing"
)

// TestPipelinedCounts: the commands of a pipelined batch, which are counted
// per run of the same command (respconn.go), are all in INFO, in the
// metrics and in CLIENT LIST once their replies have arrived, and a mixed
// batch counts each command under its own name.
func TestPipelinedCounts(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	rc.send(strings.Repeat(encode("INCR", "n"), 16) + encode("GET", "n") + strings.Repeat(encode("SET", "s", "x"), 3) + encode("INCR", "n"))
	for range 21 {
		rc.reply()
	}
	if got := rc.do("GET", "n"); got != bulk("17") {
		t.Fatalf("GET n = %q", got)
	}
	info := rc.do("INFO", "stats")
	// 16 INCR, GET, 3 SET, INCR, GET, and INFO itself.
	if !strings.Contains(info, "total_commands_processed:23\r\n") {
		t.Errorf("INFO stats lacks total_commands_processed:23:\n%s", info)
	}
	if list := rc.do("CLIENT", "LIST"); !strings.Contains(list, " cmd=client|list") {
		t.Errorf("CLIENT LIST: %q", list)
	}
	body := ts.scrapeMetrics(t)
	for _, want := range []string{
		`dsm_commands_total{command="incr"} 17`, `dsm_commands_total{command="get"} 2`,
		`dsm_commands_total{command="set"} 3`, `dsm_commands_total{command="info"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
