package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// writerProgress is what one writer sent and what the daemon acknowledged:
// its key's value was sent up to sent and acknowledged up to acked. The
// crash and storage-fault tests share it.
type writerProgress struct {
	key   string
	incr  bool // INCR (the value counts the INCRs applied) rather than SET i
	sent  atomic.Int64
	acked atomic.Int64
}

// TestKill9KeepsAcknowledgedWrites kills dsmd with SIGKILL during a load of
// pipelined writes. Afterwards (read through shm, then through a restarted
// dsmd) every key holds its last acknowledged value or a later one that was
// sent.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "1024")
	writers := make([]*writerProgress, 6)
	var wg sync.WaitGroup
	for i := range writers {
		w := &writerProgress{key: fmt.Sprintf("key%d", i), incr: i%2 == 1}
		writers[i] = w
		wg.Go(func() { w.run(d.addr) })
	}
	time.Sleep(400 * time.Millisecond)
	d.kill()
	<-d.exited
	wg.Wait()
	for _, w := range writers {
		if w.acked.Load() == 0 {
			t.Errorf("%s: no write was acknowledged before the kill", w.key)
		}
	}

	mem, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	for _, w := range writers {
		v, _, err := mem.Get([]byte(w.key))
		n, _ := v.Int()
		w.check(t, "through shm", n, err)
	}
	mem.Close()

	for _, w := range writers {
		t.Logf("%s: %d acknowledged, %d sent when killed", w.key, w.acked.Load(), w.sent.Load())
	}
	d2 := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file)
	rc := dialRaw(t, d2.addr)
	for _, w := range writers {
		reply := rc.do("GET", w.key)
		n, err := strconv.ParseInt(strings.TrimSpace(reply[strings.Index(reply, "\n")+1:]), 10, 64)
		w.check(t, "after restart", n, err)
	}
	stopDaemon(t, d2)
}

// run writes to the writer's key in pipelines of 8 until the connection
// breaks or the server stays silent for 5 s.
func (w *writerProgress) run(addr string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var batch strings.Builder
		first := w.sent.Load() + 1
		for i := first; i < first+8; i++ {
			if w.incr {
				batch.WriteString(encode("INCR", w.key))
			} else {
				batch.WriteString(encode("SET", w.key, strconv.FormatInt(i, 10)))
			}
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		w.sent.Store(first + 7) // before the bytes leave: sent is an upper bound
		if _, err := c.Write([]byte(batch.String())); err != nil {
			return
		}
		for i := first; i < first+8; i++ {
			if !w.ack(br, i) {
				return
			}
		}
	}
}

// ack reads the reply to write number i and records it if it is right.
func (w *writerProgress) ack(br *bufio.Reader, i int64) bool {
	r, err := readReply(br)
	want := okReply
	if w.incr {
		want = integer(i)
	}
	if err != nil || r != want {
		return false
	}
	w.acked.Store(i)
	return true
}

// check reports a value read back (how) that is not between the
// acknowledged and the sent one.
func (w *writerProgress) check(t *testing.T, how string, got int64, err error) {
	t.Helper()
	acked, sent := w.acked.Load(), w.sent.Load()
	if err != nil || got < acked || got > sent {
		t.Errorf("%s %s: value %d (%v), want between acknowledged %d and sent %d", w.key, how, got, err, acked, sent)
	}
}

// TestSecondDsmdExits: a second dsmd on the same file exits at once with
// status 1 and says why; the first keeps serving and exits 0 on SIGTERM.
func TestSecondDsmdExits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file)
	out, err := exec.Command(buildDsmd(t), "-listen", "127.0.0.1:0", "-file", file).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "another daemon serves this file") {
		t.Errorf("second dsmd: %v\n%s", err, out)
	}
	if got := dialRaw(t, d.addr).do("PING"); got != simple("PONG") {
		t.Errorf("first dsmd after the second tried: %q", got)
	}
	stopDaemon(t, d)
}

// TestDsmdMetricsFlag: dsmd -metrics serves Prometheus metrics and health,
// and pprof with -pprof.
func TestDsmdMetricsFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-metrics", "127.0.0.1:0", "-pprof")
	dialRaw(t, d.addr).do("SET", "a", "1")
	re := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(d.output()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no metrics address in the logs:\n%s", d.output())
	}
	for path, want := range map[string]string{
		"/metrics": `dsm_commands_total{command="set"} 1`, "/debug/pprof/": "goroutine", "/healthz": "ok", "/readyz": "ok",
	} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("GET %s lacks %q", path, want)
		}
	}
	stopDaemon(t, d)
}
