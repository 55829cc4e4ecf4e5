package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/shm"
)

// backupLoad writes while backups are taken: writer i sets its first
// variable to k, then its second to k, for k = 1, 2, ...; half the
// writers name them in one order, half in the other, so that whichever
// order a copy reads the file in, a copy not taken at one instant can
// show a second variable ahead of its first.
type backupLoad struct {
	writers int
	sent    []atomic.Int64 // the k last sent (first variable)
	acked   []atomic.Int64 // the k last acknowledged (second variable)
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (l *backupLoad) names(i int) (first, second string) {
	a, b := fmt.Sprintf("w%d.a", i), fmt.Sprintf("w%d.b", i)
	if i%2 == 1 {
		return b, a
	}
	return a, b
}

func startBackupLoad(t *testing.T, d *dsmtest.Daemon, writers int) *backupLoad {
	l := &backupLoad{writers: writers, sent: make([]atomic.Int64, writers), acked: make([]atomic.Int64, writers), stop: make(chan struct{})}
	for i := range writers {
		c, err := client.Dial(context.Background(), d.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close()
			first, second := l.names(i)
			ctx := context.Background()
			for k := int64(1); ; k++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.sent[i].Store(k)
				v := strconv.FormatInt(k, 10)
				if err := c.Set(ctx, first, v); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				if err := c.Set(ctx, second, v); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				l.acked[i].Store(k)
			}
		}()
	}
	// Every writer has written once before any backup.
	for i := range writers {
		for l.acked[i].Load() == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return l
}

func (l *backupLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// check verifies a copy taken between the acknowledged values before and
// the sent values after: each writer's first variable is at least what
// was acknowledged before the copy began and at most what was sent by its
// end, and its second one is the first's or one behind (one instant).
func (l *backupLoad) check(t *testing.T, img shm.Image, before, after []int64) {
	t.Helper()
	vals := map[string]int64{}
	for _, v := range img.Vars {
		n, err := strconv.ParseInt(string(v.Value.AppendText(nil)), 10, 64)
		if err != nil {
			t.Fatalf("%s = %v", v.Name, v.Value)
		}
		vals[string(v.Name)] = n
	}
	for i := range l.writers {
		first, second := l.names(i)
		f, s := vals[first], vals[second]
		if f < before[i] || f > after[i] {
			t.Errorf("writer %d: the copy holds %s = %d, outside [%d acknowledged before, %d sent after]", i, first, f, before[i], after[i])
		}
		if s != f && s != f-1 {
			t.Errorf("writer %d: the copy holds %s = %d and %s = %d: not one instant", i, first, f, second, s)
		}
	}
}

func (l *backupLoad) load(vals []atomic.Int64) []int64 {
	out := make([]int64, len(vals))
	for i := range vals {
		out[i] = vals[i].Load()
	}
	return out
}

// readBackup decodes a backup file.
func readBackup(t *testing.T, path string) shm.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := cluster.ReadImage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBackupUnderLoadAndRestore: dsm backup, through the daemon and with
// -file beside it, copies every variable at one instant while writers
// keep going, and reports the pause; dsm restore puts a copy back, into a
// new file or the daemon's own once it is stopped, and refuses while
// dsmd serves the file.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	d := startDaemon(t, "")
	dir := t.TempDir()
	l := startBackupLoad(t, d, 8)
	var images []shm.Image
	for i, how := range [][]string{at(d), {"-file", d.File}, at(d), {"-file", d.File}} {
		dest := filepath.Join(dir, fmt.Sprintf("backup%d.dsm", i))
		before := l.load(l.acked)
		out, errOut, code := dsm(t, "", append(how, "-o", "json", "backup", dest)...)
		after := l.load(l.sent)
		if code != 0 {
			t.Fatalf("backup %v: exit %d: %s", how, code, errOut)
		}
		var r struct {
			Vars    int     `json:"vars"`
			PauseMS float64 `json:"pause_ms"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Vars != 2*l.writers || r.PauseMS <= 0 {
			t.Fatalf("backup %v printed %q (%v), want %d variables and a pause", how, out, err, 2*l.writers)
		}
		t.Logf("backup %v: %d variables, writers paused %.3f ms", how[0], r.Vars, r.PauseMS)
		img := readBackup(t, dest)
		l.check(t, img, before, after)
		images = append(images, img)
	}
	// Refused while dsmd serves the file.
	if _, errOut, code := dsm(t, "", "-file", d.File, "restore", filepath.Join(dir, "backup0.dsm")); code == 0 || !strings.Contains(errOut, "stop dsmd first") {
		t.Fatalf("restore while dsmd serves the file: exit %d, %s", code, errOut)
	}
	l.halt()
	d.Stop()
	// Into a new file, and into the daemon's own: each then holds exactly
	// the copy, values and versions.
	want := images[2]
	for _, file := range []string{filepath.Join(dir, "new.mem"), d.File} {
		if out, errOut, code := dsm(t, "", "-file", file, "restore", filepath.Join(dir, "backup2.dsm")); code != 0 || !strings.Contains(out, "restored 16 variables") {
			t.Fatalf("restore into %s: exit %d: %s%s", file, code, out, errOut)
		}
		m, err := shm.Open(shm.Config{Path: file})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Image(context.Background())
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if a, b := imageText(got), imageText(want); a != b {
			t.Fatalf("%s after restore:\n%s\nthe backup:\n%s", file, a, b)
		}
	}
	d.Resume(t)
	if out, _, code := dsm(t, "", at(d, "get", "w0.a")...); code != 0 || strings.TrimSpace(out) != imageValue(want, "w0.a") {
		t.Fatalf("get w0.a after restore and restart = %q, want %q", out, imageValue(want, "w0.a"))
	}
}

func imageText(img shm.Image) string {
	var lines []string
	for _, v := range img.Vars {
		lines = append(lines, fmt.Sprintf("%s=%s@%d", v.Name, v.Value.AppendText(nil), v.Version))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func imageValue(img shm.Image, name string) string {
	for _, v := range img.Vars {
		if string(v.Name) == name {
			return string(v.Value.AppendText(nil))
		}
	}
	return ""
}
