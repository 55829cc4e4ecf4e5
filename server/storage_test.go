package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/shm"
)

// faultServer serves a new file with cfg and returns the server, its file
// and a channel that gets Serve's result. It does not expect ErrServerClosed
// (the tests below make the server fail).
func faultServer(t *testing.T, cfg Config) (*Server, string, string, chan error) {
	t.Helper()
	cfg.File = filepath.Join(t.TempDir(), "dsm.mem")
	cfg.Vars = 1024
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	return s, cfg.File, l.Addr().String(), served
}

// loadAndBreak runs writers against addr, calls breakFile once they have
// written for a while, and waits for Serve's result and for every writer to
// be cut off.
func loadAndBreak(t *testing.T, s *Server, addr string, served chan error, breakFile func()) ([]*writerProgress, error) {
	t.Helper()
	ackers := make([]*writerProgress, 4)
	var wg sync.WaitGroup
	for i := range ackers {
		a := &writerProgress{key: fmt.Sprintf("k%d", i)}
		ackers[i] = a
		wg.Go(func() { a.run(addr) })
	}
	time.Sleep(300 * time.Millisecond)
	breakFile()
	var err error
	select {
	case err = <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the server went on serving a broken file for 5 s")
	}
	s.Close()
	wg.Wait()
	for _, a := range ackers {
		if a.acked.Load() == 0 {
			t.Errorf("%s: no write was acknowledged before the file broke", a.key)
		}
	}
	return ackers, err
}

// TestTruncatedFileStopsServer cuts the file's last page (unused slots)
// under a load of writes in each sync mode: the server stops with an error
// that says the file was truncated, and once the cut page is restored (as
// from a backup: it held only free slots) every acknowledged write is there
// and the file checks clean.
func TestTruncatedFileStopsServer(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			s, file, addr, served := faultServer(t, Config{Sync: mode, SyncInterval: 50 * time.Millisecond})
			st, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			// The last page holds free slots only; it is kept, as a backup
			// would keep it, for the repair.
			tail := make([]byte, 4096)
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.ReadAt(tail, st.Size()-4096); err != nil {
				t.Fatal(err)
			}
			ackers, err := loadAndBreak(t, s, addr, served, func() {
				if err := f.Truncate(st.Size() - 4096); err != nil {
					t.Fatal(err)
				}
			})
			if !errors.Is(err, ErrStorage) || !errors.Is(err, shm.ErrTruncated) || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("Serve returned %v, want ErrStorage wrapping shm.ErrTruncated", err)
			}
			t.Logf("Serve: %v", err)
			if _, err := f.WriteAt(tail, st.Size()-4096); err != nil { // the repair
				t.Fatal(err)
			}
			checkAcked(t, file, ackers)
		})
	}
}

// checkAcked opens file and checks that every key holds its acknowledged
// value or a later one that was sent.
func checkAcked(t *testing.T, file string, ackers []*writerProgress) {
	t.Helper()
	m, err := shm.Open(shm.Config{Path: file})
	if err != nil {
		t.Fatalf("open the repaired file: %v", err)
	}
	defer m.Close()
	if err := m.Check(); err != nil {
		t.Errorf("Check on the repaired file: %v", err)
	}
	for _, a := range ackers {
		v, _, err := m.Get([]byte(a.key))
		n, _ := v.Int()
		a.check(t, "in the repaired file", n, err)
	}
}

// TestMemoryFaultStopsServer truncates the file to nothing under a load of
// writes: the writers' accesses fault (SIGBUS), and the server turns that
// into an error and stops instead of crashing the process.
func TestMemoryFaultStopsServer(t *testing.T) {
	ci.SkipUnderRace(t)
	s, file, addr, served := faultServer(t, Config{Sync: SyncNever})
	_, err := loadAndBreak(t, s, addr, served, func() {
		if err := os.Truncate(file, 0); err != nil {
			t.Fatal(err)
		}
	})
	if !errors.Is(err, ErrStorage) || !errors.Is(err, shm.ErrTruncated) {
		t.Fatalf("Serve returned %v, want ErrStorage wrapping shm.ErrTruncated", err)
	}
	t.Logf("Serve: %v", err)
	if !errors.Is(err, shm.ErrFault) {
		t.Logf("(the watchdog saw the truncation before a write faulted)")
	}
}
