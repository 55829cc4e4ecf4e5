package server

import (
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
)

// compatScript is a conversation whose replies must be byte for byte those
// of Redis 7. It leaves out what dsm does differently on purpose (expiry,
// databases other than 0, empty names, HELLO's server fields, ids).
var compatScript = [][]string{
	{"PING"}, {"PING", "hi"}, {"PING", "a", "b"}, {"ECHO", "x y"}, {"ECHO"},
	{"SELECT", "0"}, {"SELECT", "1"}, {"SELECT", "x"},
	{"foo"}, {"FOO", "Bar", "b z"}, {"CLIENT", "nope"}, {"CLIENT"},
	{"GET", "k"}, {"GET"}, {"SET", "k", "v"}, {"GET", "k"}, {"SET", "k"},
	{"SET", "k", "w", "NX"}, {"SET", "k", "w", "xx"}, {"SET", "k", "x", "GET"}, {"SET", "new", "1", "GET"},
	{"SET", "absent", "1", "XX"}, {"SET", "k", "y", "nx", "get"}, {"SET", "k", "v", "nx", "xx"},
	{"SET", "k", "v", "ex"}, {"SET", "k", "v", "ex", "10", "px", "10"}, {"SET", "k", "v", "bogus"},
	{"SET", "k", "v", "ex", "abc"}, {"SET", "k", "v", "keepttl"}, {"SET", "k", "v", "keepttl", "ex", "1"},
	{"SET", "n", "42"}, {"GET", "n"}, {"SET", "bin", "a\x00b\r\nc"}, {"GET", "bin"}, {"SET", "e", ""}, {"GET", "e"},
	{"GETSET", "g", "1"}, {"GETSET", "g", "2"}, {"GETSET", "g"},
	{"MSET", "a", "1", "b", "2"}, {"MSET", "a", "1", "b"}, {"MSET", "a"}, {"MGET", "a", "b", "c"}, {"MGET"},
	{"MSET", "a", "3", "a", "4"}, {"GET", "a"},
	{"EXISTS", "a", "a", "b", "zz"}, {"TYPE", "a"}, {"TYPE", "zz"}, {"TTL", "a"}, {"PTTL", "zz"},
	{"DEL", "a", "a", "zz"}, {"UNLINK", "b"}, {"DEL"},
	{"INCR", "c"}, {"INCRBY", "c", "10"}, {"DECR", "c"}, {"DECRBY", "c", "15"},
	{"INCRBY", "c", "abc"}, {"INCRBY", "c", "+1"}, {"INCRBY", "c", "01"}, {"INCRBY", "c", " 1"},
	{"INCRBY", "c", "-0"}, {"INCRBY", "c", "99999999999999999999"},
	{"SET", "c", "9223372036854775806"}, {"INCR", "c"}, {"INCR", "c"}, {"DECRBY", "c", "-9223372036854775808"},
	{"SET", "s", "hello"}, {"INCR", "s"}, {"SET", "s", "007"}, {"INCR", "s"}, {"INCR"}, {"INCRBY", "c"},
	{"MSET", "user:1", "a", "item:1", "c", "u[x]", "d"}, {"KEYS", "nomatch*"}, {"KEYS", "item:*"},
	{"KEYS", `u\[x\]`}, {"KEYS", "user:[^2]"}, {"KEYS", "it?m:[0-9]"}, {"KEYS"},
	{"SCAN", "abc"}, {"SCAN", "0", "count", "abc"}, {"SCAN", "0", "count", "0"}, {"SCAN", "0", "match"},
	{"SCAN", "0", "bogus", "1"},
	{"CONFIG", "GET", "save"}, {"CONFIG", "GET", "appendonly"}, {"config", "get", "databases"},
	{"config", "get", "maxmemory"}, {"config", "get", "nonesuch"}, {"config", "get"}, {"config", "foo"},
	{"config", "set", "foo", "bar"}, {"config", "resetstat"}, {"config", "rewrite"},
	{"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", "w1"}, {"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", "a b"},
	{"CLIENT", "SETNAME"}, {"CLIENT", "NO-EVICT", "on"}, {"CLIENT", "NO-EVICT", "maybe"}, {"CLIENT", "LIST", "bogus"},
	{"HELLO", "4"}, {"HELLO", "x"}, {"HELLO", "2", "bogus"},
	{"AUTH", "pw"}, {"AUTH", "default", "anything"}, {"AUTH", "alice", "pw"}, {"AUTH", "a", "b", "c"}, {"AUTH"},
	{"COMMAND", "INFO", "nonesuch"}, {"COMMAND", "DOCS", "nonesuch"}, {"COMMAND", "foo"},
	{"DBSIZE", "x"},
	{"HELLO", "3"}, // its reply differs (server, version, id) and is not compared
	{"GET", "nope"}, {"MGET", "n", "nope"}, {"CONFIG", "GET", "appendonly"}, {"SET", "k", "v", "GET"},
	{"INCR", "s"}, {"PING"},
}

// compatRaw are raw inputs (inline commands and protocol errors) whose
// replies must match Redis'.
var compatRaw = []string{
	"PING\r\n\r\nset  x   'a b'\r\nget x\n",
	"echo \"a\\x41b\\n\"\r\n",
	"*-5\r\n*0\r\nPING\r\n",
	"*abc\r\n", "*1\r\n$-3\r\n", "*1\r\nxyz\r\n", "echo \"unbalanced\r\n",
	"*1\r\n$9223372036854775807\r\n", "*99999999999\r\n",
}

// TestMatchesRedis runs compatScript and compatRaw against redis-server,
// when it is installed, and against this server, and compares the replies.
func TestMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range compatScript {
		want, got := theirs.do(args...), ours.do(args...)
		if args[0] != "HELLO" || len(args) > 1 && args[1] != "3" {
			if got != want {
				t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
			}
		}
	}
	for _, in := range compatRaw {
		theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
		theirs.send(in)
		ours.send(in)
		want, _ := theirs.closed(300 * time.Millisecond)
		got, _ := ours.closed(300 * time.Millisecond)
		if got != want {
			t.Errorf("raw %q:\n dsm   %q\n redis %q", in, got, want)
		}
	}
}

// startRedis runs redis-server on a free loopback port with one database
// and no persistence, or skips the test when it is not installed.
func startRedis(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		ci.NeedOrSkip(t, "redis-server is not installed (apt-get install redis-server); the replies are then checked by TestCommandReplies only")
	}
	l := newListener(t)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--databases", "1", "--dir", t.TempDir(), "--logfile", "")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("redis-server did not start on %s", addr)
	return ""
}

// stringScript checks the string commands beyond GET and SET: arity,
// integer arguments, missing variables, ranges and zero padding.
var stringScript = [][]string{
	{"SETNX", "sn", "1"}, {"SETNX", "sn", "2"}, {"GET", "sn"}, {"SETNX", "sn"}, {"SETNX", "a", "b", "c"},
	{"STRLEN", "sn"}, {"STRLEN", "none"}, {"STRLEN"}, {"SET", "i", "-1234"}, {"STRLEN", "i"},
	{"SET", "gd", "v"}, {"GETDEL", "gd"}, {"GETDEL", "gd"}, {"EXISTS", "gd"}, {"GETDEL"}, {"GETDEL", "a", "b"},
	{"SET", "gi", "12"}, {"GETDEL", "gi"},
	{"APPEND", "ap", "ab"}, {"APPEND", "ap", "c d"}, {"GET", "ap"}, {"APPEND", "ap", ""}, {"APPEND", "ap"},
	{"SET", "an", "7"}, {"APPEND", "an", "1"}, {"INCR", "an"}, {"APPEND", "an", "x"}, {"INCR", "an"},
	{"APPEND", "ae", ""}, {"EXISTS", "ae"}, {"GET", "ae"},
	{"SET", "r", "Hello World"}, {"GETRANGE", "r", "0", "4"}, {"GETRANGE", "r", "-5", "-1"},
	{"GETRANGE", "r", "-1", "-5"}, {"GETRANGE", "r", "5", "2"}, {"GETRANGE", "r", "0", "100"},
	{"GETRANGE", "r", "-100", "2"}, {"GETRANGE", "r", "100", "200"}, {"GETRANGE", "r", "-100", "-50"},
	{"GETRANGE", "none", "0", "-1"}, {"GETRANGE", "r", "x", "1"}, {"GETRANGE", "r", "0", "+1"},
	{"GETRANGE", "none", "a", "1"}, {"GETRANGE", "r", "0"}, {"SET", "ri", "98765"}, {"GETRANGE", "ri", "1", "-2"},
	{"SET", "e", ""}, {"GETRANGE", "e", "0", "-1"}, {"GETRANGE", "e", "-1", "0"},
	{"SETRANGE", "r", "6", "Redis"}, {"GET", "r"}, {"SETRANGE", "r", "20", "!"}, {"GET", "r"},
	{"SETRANGE", "sr", "3", "ab"}, {"GET", "sr"}, {"SETRANGE", "none2", "3", ""}, {"EXISTS", "none2"},
	{"SETRANGE", "r", "0", ""}, {"SETRANGE", "r", "-1", "x"}, {"SETRANGE", "r", "x", "y"},
	{"SETRANGE", "r", "-1", ""}, {"SETRANGE", "r", "1"}, {"SETRANGE", "ri", "0", "1"}, {"INCR", "ri"},
	{"SETRANGE", "ri", "1", "x"}, {"GET", "ri"},
	{"MSETNX", "m1", "a", "m2", "b"}, {"MGET", "m1", "m2"}, {"MSETNX", "m3", "c", "m1", "z"}, {"MGET", "m1", "m3"},
	{"MSETNX", "m4", "1", "m4", "2"}, {"GET", "m4"}, {"MSETNX", "m5", "1", "m6"}, {"MSETNX", "m5"}, {"MSETNX"},
	{"INCRBYFLOAT", "f", "10.5"}, {"INCRBYFLOAT", "f", "0.1"}, {"INCRBYFLOAT", "f", "-5.0e3"}, {"GET", "f"},
	{"INCRBYFLOAT", "f", "abc"}, {"INCRBYFLOAT", "f", " 1"}, {"INCRBYFLOAT", "f", "1_0"}, {"INCRBYFLOAT", "f", "0b1"},
	{"INCRBYFLOAT", "f", "inf"}, {"INCRBYFLOAT", "f", "nan"}, {"INCRBYFLOAT", "f", ""}, {"INCRBYFLOAT", "f", "+.5"},
	{"INCRBYFLOAT", "f", "5."}, {"INCRBYFLOAT", "big", "1e200"}, {"INCRBYFLOAT", "f"}, {"INCRBYFLOAT", "s1", "1"},
	{"SET", "f2", "3"}, {"INCRBYFLOAT", "f2", "-3"}, {"INCR", "f2"}, {"INCRBYFLOAT", "f2", "0.1"}, {"INCRBYFLOAT", "f2", "0.2"},
	{"INCRBYFLOAT", "f3", "1.23456789012345678"}, {"INCRBYFLOAT", "f4", "-0.0"}, {"INCRBYFLOAT", "f5", "1e20"},
	{"SET", "f6", "1e3"}, {"INCRBYFLOAT", "f6", "1"}, {"SET", "f7", "x"}, {"INCRBYFLOAT", "f7", "abc"},
	{"SET", "rn", "v"}, {"RENAME", "rn", "rn2"}, {"GET", "rn"}, {"GET", "rn2"}, {"RENAME", "rn", "x"},
	{"RENAME", "rn2", "rn2"}, {"RENAME", "none", "none"}, {"RENAME", "rn2"}, {"SET", "rn3", "w"},
	{"RENAME", "rn2", "rn3"}, {"GET", "rn3"}, {"RENAMENX", "rn3", "rn4"}, {"SET", "rn5", "5"},
	{"RENAMENX", "rn4", "rn5"}, {"GET", "rn4"}, {"RENAMENX", "rn4", "rn4"}, {"RENAMENX", "none", "rn9"},
	{"RENAMENX", "none", "none"}, {"RENAMENX", "a"},
	{"COPY", "rn5", "cp"}, {"GET", "cp"}, {"COPY", "rn4", "cp"}, {"COPY", "rn4", "cp", "REPLACE"}, {"GET", "cp"},
	{"COPY", "none", "cp2"}, {"COPY", "cp", "cp"}, {"COPY", "cp", "cp3", "DB", "0"}, {"COPY", "cp", "cp4", "DB", "1"},
	{"COPY", "cp", "cp5", "DB", "x"}, {"COPY", "cp", "cp6", "DB"}, {"COPY", "cp", "cp7", "bogus"}, {"COPY", "cp"},
	{"COPY", "cp", "cp", "DB", "1"}, {"COPY", "cp", "cp8", "replace", "db", "0"}, {"MGET", "cp3", "cp8"},
	{"EXISTS", "m5"}, {"MULTI"}, {"MSETNX", "t1", "1", "t2", "2"}, {"APPEND", "t1", "x"}, {"GETDEL", "t2"},
	{"SETRANGE", "t3", "1", "y"}, {"GETRANGE", "t3", "0", "-1"}, {"SETNX", "t3", "z"}, {"STRLEN", "t1"},
	{"RENAME", "t1", "t4"}, {"COPY", "t4", "t5"}, {"RENAMENX", "t5", "t4"}, {"EXEC"}, {"MGET", "t1", "t4", "t5"},
}

// multiScript checks that MULTI queues the server commands Redis queues
// (CONFIG, KEYS, SCAN, DBSIZE) and EXEC returns each one's reply, the
// listings and counts seeing the transaction's own writes.
var multiScript = [][]string{
	{"SET", "q1", "1"}, {"MULTI"}, {"CONFIG", "SET", "maxmemory", "0"}, {"CONFIG", "GET", "maxmemory"},
	{"DBSIZE"}, {"KEYS", "q*"}, {"SCAN", "0", "MATCH", "q*"}, {"CONFIG", "RESETSTAT"}, {"CONFIG", "BOGUS"}, {"EXEC"},
	{"MULTI"}, {"SET", "q2", "2"}, {"DBSIZE"}, {"KEYS", "q2"}, {"SCAN", "0", "MATCH", "*2"}, {"DEL", "q1"},
	{"KEYS", "q*"}, {"DBSIZE"}, {"EXEC"}, {"DBSIZE"},
}

// TestMultiMatchesRedis runs multiScript against redis-server and this
// server and compares the replies.
func TestMultiMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range multiScript {
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
}

// TestStringCommandsMatchRedis runs stringScript against redis-server and
// this server and compares the replies.
func TestStringCommandsMatchRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range stringScript {
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
}

// infoShape is an INFO reply's section titles and field names, in order,
// without the values.
func infoShape(reply string) []string {
	var out []string
	for line := range strings.Lines(reply) {
		line = strings.TrimRight(line, "\r\n")
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "$") && !strings.HasPrefix(line, "=") {
			out = append(out, name)
		} else if strings.HasPrefix(line, "# ") {
			out = append(out, line)
		}
	}
	return out
}

// TestInfoMatchesRedis: the sections tools parse have Redis' titles and
// at least Redis' fields (but the main thread's CPU time: Go has no main
// thread).
func TestInfoMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, section := range []string{"replication", "cpu"} {
		want, got := infoShape(theirs.do("INFO", section)), infoShape(ours.do("INFO", section))
		if len(got) == 0 || len(want) == 0 || got[0] != want[0] {
			t.Errorf("INFO %s: title %q, Redis' %q", section, got, want)
			continue
		}
		for _, field := range want {
			if !slices.Contains(got, field) && !strings.Contains(field, "main_thread") {
				t.Errorf("INFO %s lacks Redis' %s", section, field)
			}
		}
	}
}

// TestErrorstatsMatchRedis: after the same failing commands, INFO
// errorstats reads as Redis' does, byte for byte.
func TestErrorstatsMatchRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range [][]string{
		{"CONFIG", "RESETSTAT"}, {"GET"}, {"SET", "s", "x"}, {"INCR", "s"}, {"NOSUCH"}, {"EXEC"},
		{"AUTH", "default", "pw"}, {"MULTI"}, {"GET"}, {"EXEC"}, {"INFO", "errorstats"},
		{"CONFIG", "RESETSTAT"}, {"INFO", "errorstats"},
	} {
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
}

// TestCommandstatsMatchRedis: after the same commands, INFO commandstats
// has Redis' lines for them, the times aside; INFO leaves the section out
// unless asked, as Redis does.
func TestCommandstatsMatchRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range [][]string{
		{"CONFIG", "RESETSTAT"}, {"SET", "s", "x"}, {"GET", "s"}, {"GET"}, {"INCR", "s"}, {"GET", "s"},
		{"CONFIG", "GET", "a", "b"}, {"CONFIG", "GET"},
	} {
		theirs.do(args...)
		ours.do(args...)
	}
	times := regexp.MustCompile(`usec=\d+,usec_per_call=[\d.]+`)
	lines := func(info string) []string {
		var out []string
		for line := range strings.Lines(times.ReplaceAllString(info, "usec=_")) {
			for _, cmd := range []string{"get", "set", "incr", "config|get"} {
				if strings.HasPrefix(line, "cmdstat_"+cmd+":") {
					out = append(out, line)
				}
			}
		}
		slices.Sort(out) // Redis lists them in its hash table's order
		return out
	}
	want, got := lines(theirs.do("INFO", "commandstats")), lines(ours.do("INFO", "commandstats"))
	if len(want) != 4 || !slices.Equal(got, want) {
		t.Errorf("commandstats:\n dsm   %q\n redis %q", got, want)
	}
	if got := ours.do("INFO"); strings.Contains(got, "cmdstat_") {
		t.Errorf("INFO without sections lists commandstats")
	}
	if got := ours.do("INFO", "all"); !strings.Contains(got, "cmdstat_get:calls=2,") {
		t.Errorf("INFO all lacks commandstats")
	}
}

// TestPubSubMatchesRedis: PUBLISH and PUBSUB answer as Redis' do, and the
// subscribers get the same messages, in the same order.
func TestPubSubMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	for _, resp3 := range []bool{false, true} {
		subT, subO := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
		pubT, pubO := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
		both := func(c1, c2 *rawClient, args ...string) {
			t.Helper()
			if want, got := c1.do(args...), c2.do(args...); got != want {
				t.Errorf("resp3=%v %q:\n dsm   %q\n redis %q", resp3, args, got, want)
			}
		}
		if resp3 {
			subT.do("HELLO", "3")
			subO.do("HELLO", "3")
		}
		for _, args := range [][]string{{"SUBSCRIBE", "news"}, {"SUBSCRIBE", "more"}, {"PSUBSCRIBE", "n*"}, {"PSUBSCRIBE", "x?"}} {
			both(subT, subO, args...)
		}
		for _, args := range [][]string{
			{"PUBLISH", "news", "hi"}, {"PUBLISH", "news", "again"}, {"PUBLISH", "nothing", ""}, {"PUBLISH", "zz", "x"},
			{"PUBLISH", "xy", "p"}, {"PUBLISH", "news"}, {"PUBLISH"}, {"PUBSUB"}, {"PUBSUB", "bogus"},
			{"PUBSUB", "NUMSUB", "news", "zz", "more"}, {"PUBSUB", "NUMSUB"}, {"PUBSUB", "NUMPAT"}, {"PUBSUB", "NUMPAT", "x"},
			{"PUBSUB", "CHANNELS", "ne*"}, {"PUBSUB", "CHANNELS", "q*"}, {"PUBSUB", "channels", "news", "x"},
			{"MULTI"}, {"PUBLISH", "news", "tx"}, {"PUBSUB", "NUMPAT"}, {"EXEC"},
		} {
			both(pubT, pubO, args...)
		}
		for range 7 {
			if want, got := subT.reply(), subO.reply(); got != want {
				t.Errorf("resp3=%v message:\n dsm   %q\n redis %q", resp3, got, want)
			}
		}
		for _, args := range [][]string{{"UNSUBSCRIBE", "news"}, {"UNSUBSCRIBE", "more"}, {"PUNSUBSCRIBE", "n*"}, {"PUNSUBSCRIBE", "x?"}} {
			both(subT, subO, args...)
		}
	}
}

// TestTimeMatchesRedis: TIME answers two bulk strings, seconds and
// microseconds, near Redis' own clock reading; TIME with arguments fails
// as in Redis.
func TestTimeMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	if want, got := theirs.do("TIME", "x"), ours.do("TIME", "x"); got != want {
		t.Errorf("TIME x:\n dsm   %q\n redis %q", got, want)
	}
	shape := regexp.MustCompile(`^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d{1,6})\r\n$`)
	want, got := shape.FindStringSubmatch(theirs.do("TIME")), shape.FindStringSubmatch(ours.do("TIME"))
	if want == nil || got == nil {
		t.Fatalf("TIME: dsm %q, redis %q", got, want)
	}
	ws, _ := strconv.ParseInt(want[1], 10, 64)
	gs, _ := strconv.ParseInt(got[1], 10, 64)
	if gs < ws || gs > ws+2 {
		t.Errorf("TIME seconds: dsm %d, redis %d", gs, ws)
	}
}

// TestMemoryUsageMatchesRedis: MEMORY USAGE's errors and nulls are Redis';
// its figure is dsm's own (a slot of the file), an integer.
func TestMemoryUsageMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, Config{})
	theirs, ours := dialRaw(t, redisAddr), dialRaw(t, ts.addr)
	for _, args := range [][]string{
		{"SET", "k", "v"}, {"MEMORY", "USAGE", "none"}, {"MEMORY", "USAGE"}, {"MEMORY", "USAGE", "k", "SAMPLES"},
		{"MEMORY", "USAGE", "k", "SAMPLES", "x"}, {"MEMORY", "USAGE", "k", "SAMPLES", "-1"}, {"MEMORY", "USAGE", "k", "bogus"},
		{"MEMORY", "USAGE", "none", "samples", "0"}, {"MEMORY", "bogus"}, {"MEMORY"},
	} {
		if want, got := theirs.do(args...), ours.do(args...); got != want {
			t.Errorf("%q:\n dsm   %q\n redis %q", args, got, want)
		}
	}
	if got := ours.do("MEMORY", "USAGE", "k", "SAMPLES", "5"); !regexp.MustCompile(`^:[1-9]\d*\r\n$`).MatchString(got) {
		t.Errorf("MEMORY USAGE k = %q, want a positive integer", got)
	}
}

// TestRedisCliKeyStats: redis-cli --bigkeys and --memkeys run over dsm
// without a warning or an error.
func TestRedisCliKeyStats(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		ci.NeedOrSkip(t, "redis-cli is not installed (apt-get install redis-tools)")
	}
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	c.do("MSET", "a", "1", "bb", "some text", "ccc", strings.Repeat("x", 100))
	host, port, _ := net.SplitHostPort(ts.addr)
	for _, mode := range []string{"--bigkeys", "--memkeys"} {
		out, err := exec.Command(cli, "-h", host, "-p", port, mode).CombinedOutput()
		text := strings.ToLower(string(out))
		if err != nil || strings.Contains(text, "warning") || strings.Contains(text, "err") || !strings.Contains(text, "3 keys") {
			t.Errorf("redis-cli %s: %v\n%s", mode, err, out)
		}
	}
}
