package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/filetest"
	"github.com/dsm-dev/dsm/internal/redolog"
	"github.com/dsm-dev/dsm/shm"
)

// replayWant is what each key must hold after replayWrites ("" for
// missing).
var replayWant = map[string]string{
	"pre": "again", "doomed": "", "a": "1", "ctr": "5", "m1": "x", "m2": "y",
	"t1": "tx", "t2": "", "big": strings.Repeat("z", 200), "nx": "first",
	"ap": "ab", "sr": "\x00\x00y", "gd": "",
}

// replayWrites makes acknowledged writes of every kind through go-redis.
func replayWrites(t *testing.T, ctx context.Context, rdb *redis.Client) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.Set(ctx, "a", "1", 0).Err())
	for range 4 {
		must(rdb.Incr(ctx, "ctr").Err())
	}
	must(rdb.MSet(ctx, "m1", "x", "m2", "y").Err())
	must(rdb.Del(ctx, "doomed").Err())
	// Delete and create again: the variable may move to another slot,
	// where its versions count afresh.
	must(rdb.Del(ctx, "pre").Err())
	must(rdb.Set(ctx, "pre", "again", 0).Err())
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "t1", "tx", 0)
		p.Set(ctx, "t2", "tx", 0)
		p.Del(ctx, "t2")
		p.Incr(ctx, "ctr")
		return nil
	})
	must(err)
	must(rdb.Set(ctx, "big", replayWant["big"], 0).Err())
	must(rdb.SetNX(ctx, "nx", "first", 0).Err())
	must(rdb.SetNX(ctx, "nx", "second", 0).Err())
	must(rdb.Append(ctx, "ap", "a").Err())
	must(rdb.Append(ctx, "ap", "b").Err())
	must(rdb.SetRange(ctx, "sr", 2, "y").Err())
	must(rdb.Set(ctx, "gd", "1", 0).Err())
	must(rdb.GetDel(ctx, "gd").Err())
}

// TestRedoLogReplay is the durability proof without a power cut. dsmd runs
// with -sync always; a copy of the memory file taken before the writes
// stands for the disk if nothing reached it afterwards; the redo log
// segments taken once the writes are acknowledged stand for what the
// O_DSYNC writes made durable. dsmd is killed; a server started on the old
// copy with those segments holds every acknowledged write. (Torn and
// damaged segments: internal/redolog's TestRedoDamageEachByte.)
func TestRedoLogReplay(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dsm.mem")
	d := startDaemon(t, nil, "-listen", "127.0.0.1:0", "-file", file, "-vars", "1024", "-sync", "always")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := newRedis(t, d.addr, 2, "")
	if err := rdb.MSet(ctx, "pre", "1", "doomed", "x").Err(); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "dsm.mem")
	filetest.Copy(t, file, old)
	replayWrites(t, ctx, rdb)
	segs, _, err := redolog.Segments(file)
	if err != nil || len(segs) == 0 {
		t.Fatalf("no redo log segment beside %s: %v", file, err)
	}
	for _, s := range segs {
		filetest.Copy(t, s, filepath.Join(filepath.Dir(old), filepath.Base(s)))
	}
	d.kill()
	<-d.exited

	// The old copy has none of the writes: the redo log must bring them.
	checkMem(t, old, map[string]string{"pre": "1", "doomed": "x", "a": "", "ctr": ""})
	logs := &lockedLog{}
	ts := startServer(t, Config{File: old, Sync: SyncInterval, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if !strings.Contains(logs.String(), "redo log replayed") {
		t.Errorf("logs do not tell of the replay:\n%s", logs.String())
	}
	if left, _, _ := redolog.Segments(old); len(left) != 0 {
		t.Errorf("segments left after the replay: %v", left)
	}
	rdb2 := newRedis(t, ts.addr, 2, "")
	for k, want := range replayWant {
		got, err := rdb2.Get(ctx, k).Result()
		if want == "" {
			if err != redis.Nil {
				t.Errorf("%s = %q, %v; want missing", k, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s = %.20q, %v; want %.20q", k, got, err, want)
		}
	}
}

// checkMem opens the memory file through shm and checks some values ("" for
// missing).
func checkMem(t *testing.T, file string, want map[string]string) {
	t.Helper()
	mem, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for k, w := range want {
		v, _, err := mem.Get([]byte(k))
		if got := v.String(); (w == "") != errors.Is(err, shm.ErrNotFound) || got != w {
			t.Errorf("%s in %s: %q, %v; want %q", k, filepath.Base(file), got, err, w)
		}
	}
}

// breakWrites makes every later write to the open file at path fail with
// ENOSPC: it puts /dev/full in place of the process's descriptors of it.
func breakWrites(t *testing.T, path string) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || target != path {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		if err := unix.Dup3(int(full.Fd()), fd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no descriptor of %s", path)
	}
}

// TestRedoLogWriteFailureStopsServer breaks the redo log under a load of
// acknowledged SETs: the server stops as on any storage failure, sends no
// reply it could not make durable, and every acknowledged write is kept.
func TestRedoLogWriteFailureStopsServer(t *testing.T) {
	s, file, addr, served := faultServer(t, Config{Sync: SyncAlways})
	ackers, err := loadAndBreak(t, s, addr, served, func() {
		segs, _, err := redolog.Segments(file)
		if err != nil || len(segs) != 1 {
			t.Fatalf("segments: %v, %v", segs, err)
		}
		breakWrites(t, segs[0])
	})
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "redo log") {
		t.Fatalf("Serve returned %v, want ErrStorage from the redo log", err)
	}
	checkAcked(t, file, ackers)
}

// TestRedoLogSegmentGoneStopsServer deletes, or replaces, the segment in
// use: the next write is not acknowledged, and the server stops as on a
// truncated memory file, saying why.
func TestRedoLogSegmentGoneStopsServer(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			_, file, addr, served := faultServer(t, Config{Sync: SyncAlways})
			c := dialRaw(t, addr)
			if got := c.do("SET", "a", "1"); got != "+OK\r\n" {
				t.Fatalf("SET a: %q", got)
			}
			segs, _, err := redolog.Segments(file)
			if err != nil || len(segs) != 1 {
				t.Fatalf("segments: %v, %v", segs, err)
			}
			seg := segs[0]
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
			if how == "replaced" {
				if err := os.WriteFile(seg, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c.send(encode("SET", "b", "2"))
			if got, closed := c.closed(10 * time.Second); !closed || got != "" {
				t.Errorf("SET b after the segment was %s: got %q, closed %v; want no reply and the connection closed", how, got, closed)
			}
			select {
			case err := <-served:
				if !errors.Is(err, ErrStorage) || !errors.Is(err, redolog.ErrSegmentGone) || !strings.Contains(err.Error(), seg) {
					t.Errorf("Serve returned %v, want ErrStorage naming %s", err, seg)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server kept serving")
			}
		})
	}
}
