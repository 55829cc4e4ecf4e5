package torture

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDaemonStopsOnTruncatedFile truncates the file of a real dsmd under a
// load of writes: dsmd exits 1 with an error that says the file was
// truncated, and its clients are cut off rather than acknowledged.
func TestDaemonStopsOnTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dsm.mem")
	d := newDaemons(buildDaemon(t, dir), file)
	d.modes = []string{"always"}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	_, addr := d.current()
	d.mu.Lock()
	cmd, logs := d.cmd, d.logs
	d.mu.Unlock()
	var wg sync.WaitGroup
	for i := range 3 {
		rc := dialRESP(t, addr)
		wg.Go(func() {
			defer rc.close()
			for n := 0; ; n++ {
				if err := rc.rdb.Set(context.Background(), "k"+string(rune('0'+i)), n, 0).Err(); err != nil {
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := os.Truncate(file, 8192); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("dsmd ended with %v, want exit status 1", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("dsmd still ran 10 s after its file was truncated; its log:\n%s", logs)
	}
	wg.Wait()
	log := logs.String()
	t.Logf("dsmd's last lines:\n%s", lastLines(log, 3))
	if !strings.Contains(log, "memory file failed") || !strings.Contains(log, "truncated") {
		t.Errorf("dsmd's log does not say that its file was truncated:\n%s", log)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
