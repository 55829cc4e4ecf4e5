package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/resp"
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

// TestPrefetchNames: the names prefetch hands to shm are those of the
// first command of a read and of the whole commands behind it, by each
// command's key positions; commands with no keys, unknown commands and an
// incomplete tail add none.
func TestPrefetchNames(t *testing.T) {
	ts := startServer(t, Config{})
	in := encode("GET", "a") + encode("MSET", "b", "1", "c", "2") + encode("PING") +
		encode("NOSUCH", "x") + encode("SET", "d", "1", "NX") + encode("MGET", "e", "f") +
		encode("DEL", "g") + "*2\r\n$3\r\nGET\r\n$1\r\n" // the last one incomplete
	c := &conn{s: ts.Server, rd: resp.NewReader(strings.NewReader(in), 0)}
	args, err := c.rd.ReadCommand(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.prefetch(args)
	var got []string
	for _, k := range c.keys {
		got = append(got, string(k))
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "g"}; !slices.Equal(got, want) {
		t.Fatalf("prefetch gathered %q, want %q", got, want)
	}
	if string(args[0]) != "GET" || string(args[1]) != "a" {
		t.Fatalf("prefetch changed the command being run to %q", args)
	}
}

// TestPipelinePrefetched: a batch that prefetch looks ahead into, with the
// command being run and the ones behind it naming different variables,
// gets exactly the replies of the commands sent one at a time.
func TestPipelinePrefetched(t *testing.T) {
	ts := startServer(t, Config{})
	rc := dialRaw(t, ts.addr)
	var batch strings.Builder
	var want []string
	for i := range 40 {
		k := "k" + strconv.Itoa(i)
		batch.WriteString(encode("SET", k, strconv.Itoa(i)))
		want = append(want, okReply)
	}
	for i := range 40 {
		k := "k" + strconv.Itoa(i)
		batch.WriteString(encode("INCR", k) + encode("GET", k))
		want = append(want, integer(int64(i+1)), bulk(strconv.Itoa(i+1)))
	}
	batch.WriteString(encode("MSET", "k0", "x", "k39", "y") + encode("MGET", "k0", "k39", "none"))
	want = append(want, okReply, "*3\r\n"+bulk("x")+bulk("y")+null2)
	rc.send(batch.String())
	for i, w := range want {
		if got := rc.reply(); got != w {
			t.Fatalf("reply %d = %q, want %q", i, got, w)
		}
	}
}
