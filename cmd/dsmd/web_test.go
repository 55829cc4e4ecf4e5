package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWebFlags(t *testing.T) {
	_, web, err := parseArgs([]string{"-http", "127.0.0.1:8080", "-http-write"})
	if err != nil || web.addr != "127.0.0.1:8080" || !web.write {
		t.Errorf("-http -http-write: %+v, %v", web, err)
	}
	if _, web, _ := parseArgs(nil); web.addr != "" || web.write {
		t.Errorf("the web view is on by default: %+v", web)
	}
	if _, _, err := parseArgs([]string{"-http-write"}); err == nil || !strings.Contains(err.Error(), "-http-write needs -http") {
		t.Errorf("-http-write alone: %v", err)
	}
}

var webListening = regexp.MustCompile(`msg="web view listening" addr=(\S+) write=(\w+)`)

// TestWebView: dsmd -http serves the page from the binary, its stream
// says whether it may write, and SIGTERM ends both.
func TestWebView(t *testing.T) {
	bin := buildDsmd(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-file", filepath.Join(dir, "dsm.mem"), "-vars", "100",
		"-http", "127.0.0.1:0", "-http-write")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs strings.Builder
	sc := bufio.NewScanner(out)
	var addr string
	for addr == "" && sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if m := webListening.FindStringSubmatch(sc.Text()); m != nil && m[2] == "true" {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no web view in dsmd's log:\n%s", logs.String())
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for path, want := range map[string]string{"/": `<script src="/app.js"`, "/app.js": "EventSource", "/style.css": "prefers-color-scheme"} {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, no %q", path, resp.StatusCode, want)
		}
	}
	resp, err := c.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first, _ := br.ReadString('\n')
	data, _ := br.ReadString('\n')
	if first != "event: hello\n" || !strings.Contains(data, `"write":true`) {
		t.Errorf("the stream began %q %q", first, data)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("the stream ended with %v", err)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dsmd after SIGTERM with a page open: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dsmd did not exit after SIGTERM with a page open")
	}
}

// TestWebTakenPort: a taken -http port ends dsmd before it creates the
// file, as -listen's does.
func TestWebTakenPort(t *testing.T) {
	bin := buildDsmd(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	stderr, err := runToExit(t, bin, "-listen", "127.0.0.1:0", "-http", taken.Addr().String(), "-file", filepath.Join(dir, "dsm.mem"))
	if err == nil || !strings.Contains(stderr, "-http:") || !strings.Contains(stderr, "address already in use") {
		t.Errorf("dsmd with a taken -http port: %v, stderr:\n%s", err, stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("dsmd left %v behind", left)
	}
}
