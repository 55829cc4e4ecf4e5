package server

import (
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/ci"
)

// toolPath finds a Redis tool or skips the test.
func toolPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		ci.NeedOrSkip(t, name+" is not installed (apt-get install redis-tools)")
	}
	return p
}

// TestRedisBenchmark: redis-benchmark runs every test it is asked for
// without a warning or an error.
func TestRedisBenchmark(t *testing.T) {
	bench := toolPath(t, "redis-benchmark")
	ts := startServer(t, Config{})
	host, port, _ := net.SplitHostPort(ts.addr)
	out, err := exec.Command(bench, "-h", host, "-p", port, "-t", "ping,set,get,incr,mset",
		"-n", "2000", "-c", "10", "-q").CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, text)
	}
	for _, bad := range []string{"WARN", "ERR", "rror"} {
		if strings.Contains(text, bad) {
			t.Errorf("redis-benchmark printed %q:\n%s", bad, text)
		}
	}
	for _, test := range []string{"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: ", "INCR: ", "MSET (10 keys): "} {
		if !strings.Contains(text, test) || !strings.Contains(text, "requests per second") {
			t.Errorf("redis-benchmark did not report %q:\n%s", test, text)
		}
	}
}

// TestRedisCLI: redis-cli one-shot commands, commands on standard input,
// and TLS print what they print against Redis.
func TestRedisCLI(t *testing.T) {
	cli := toolPath(t, "redis-cli")
	certFile, keyFile, _ := writeCert(t)
	ts := startServer(t, Config{Password: "pw", TLSCertFile: certFile, TLSKeyFile: keyFile})
	host, port, _ := net.SplitHostPort(ts.addr)
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"-h", host, "-p", port, "--no-auth-warning", "-a", "pw"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("redis-cli %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"SET", "a", "41"}, "OK\n"},
		{[]string{"INCR", "a"}, "42\n"},
		{[]string{"CAS", "a", "42", "43"}, "1\n"},
		{[]string{"GET", "a"}, "43\n"},
		{[]string{"GET", "nope"}, "\n"},
		{[]string{"INCR", "nope", "x"}, "ERR wrong number of arguments for 'incr' command\n\n"}, // as against Redis
	}
	for _, c := range cases {
		if got := run("", c.args...); got != c.want {
			t.Errorf("redis-cli %q = %q, want %q", c.args, got, c.want)
		}
	}
	if got := run("SET b 1\nINCRBY b 9\nGET b\n"); got != "OK\n10\n10\n" {
		t.Errorf("redis-cli reading stdin = %q", got)
	}
	if help, _ := exec.Command(cli, "--help").CombinedOutput(); !strings.Contains(string(help), "--tls") {
		ci.NeedOrSkip(t, "redis-cli is built without TLS; TLS not checked with it")
	}
	if got := run("", "--tls", "--cacert", certFile, "GET", "b"); got != "10\n" {
		t.Errorf("redis-cli --tls GET b = %q", got)
	}
}

// TestRedisCLIHelp: redis-cli builds its help and hints from COMMAND DOCS
// and shows dsm's commands with their arguments, without a warning.
func TestRedisCLIHelp(t *testing.T) {
	cli := toolPath(t, "redis-cli")
	ts := startServer(t, Config{})
	host, port, _ := net.SplitHostPort(ts.addr)
	for _, c := range []struct{ cmd, params string }{
		{"CAS", "key expected new"},
		{"LOCK", "[READ|WRITE] [WAIT ms] [LEASE ms] name [name ...]"},
		{"UNLOCK", "[name [name ...]]"},
		{"GETVER", "key"},
		{"SET", "key value [NX|XX] [GET] [KEEPTTL]"},
		{"MSET", "key value [key value ...]"},
		{"SCAN", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
		{"HELLO", "[protover [AUTH username password] [SETNAME clientname]]"},
	} {
		cmd := exec.Command(cli, "-h", host, "-p", port, "help", c.cmd)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("redis-cli help %s: %v\n%s", c.cmd, err, stderr.String())
		}
		// The name in bold, the parameters in grey.
		if want := c.cmd + "\x1b[0m \x1b[90m" + c.params + "\x1b[0m"; !strings.Contains(string(out), want) {
			t.Errorf("redis-cli help %s lacks %q:\n%s", c.cmd, c.params, out)
		}
	}
}
