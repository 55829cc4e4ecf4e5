package lockd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/lockd"
)

// A geometry is the shape of a test lock space. The file holds, in order:
// one page of liveness bytes (never written, only OFD-locked), the process
// table, the lane table, a page of lock records (one per 64 bytes) and a
// page of data words (one per 64 bytes) that tests guard with those locks,
// and a page that holds the spill record.
type geometry struct {
	procs, lanes, entries int
}

// defaultGeom is the geometry of every space that helper processes attach
// to; a child computes the same layout from it.
var defaultGeom = geometry{procs: 8, lanes: 16, entries: 8}

const (
	pageSize = 4096
	maxLocks = pageSize / 64
)

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

func (g geometry) layout() lockd.Layout {
	lay := lockd.Layout{
		Procs: g.procs, Lanes: g.lanes, LaneEntries: g.entries,
		ProcsOff: pageSize, LivenessOff: 0,
	}
	lay.LanesOff = alignUp(lay.ProcsOff+lay.ProcTableSize(), pageSize)
	locks := alignUp(lay.LanesOff+lay.LaneTableSize(), pageSize)
	lay.Locks = []lockd.LockRange{{Off: locks, Count: maxLocks, Stride: 64}}
	lay.SpillOff = locks + 2*pageSize
	return lay
}

func (g geometry) locksOff() uint64 { return g.layout().Locks[0].Off }

func (g geometry) dataOff() uint64 { return g.locksOff() + pageSize }
func (g geometry) size() int64     { return int64(g.dataOff() + 2*pageSize) }

// lockAt names the i-th lock record of the space.
func (g geometry) lockAt(i int) lockd.Lock { return lockd.Lock(g.locksOff() + 64*uint64(i)) }

// newSpace creates a zeroed lock space file of geometry g and returns its path.
func newSpace(t testing.TB, g geometry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "locks")
	if err := createSpace(path, g); err != nil {
		t.Fatal(err)
	}
	return path
}

func createSpace(path string, g geometry) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(g.size())
}

// An att is one attachment: its own open of the file (OFD locks belong to
// an open, so two attachments must never share one), its own mapping, and
// the Proc.
type att struct {
	*lockd.Proc
	g   geometry
	f   *os.File
	mem []byte
}

// word is the i-th data word of the space.
func (a *att) word(i int) *int64 {
	return (*int64)(unsafe.Pointer(&a.mem[a.g.dataOff()+64*uint64(i)])) // #nosec: in bounds by construction
}

func openAtt(path string, g geometry, opt lockd.Options) (*att, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(g.size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := lockd.Attach(f, mem, g.layout(), opt)
	if err != nil {
		unix.Munmap(mem)
		f.Close()
		return nil, err
	}
	return &att{Proc: p, g: g, f: f, mem: mem}, nil
}

// close detaches and unmaps. Safe to call twice.
func (a *att) close() {
	a.Detach()
	if a.mem != nil {
		unix.Munmap(a.mem)
		a.mem = nil
		a.f.Close()
	}
}

// attach attaches to the space at path; the attachment is closed at the
// end of the test.
func attach(t testing.TB, path string, g geometry, opt lockd.Options) *att {
	t.Helper()
	a, err := openAtt(path, g, opt)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Cleanup(a.close)
	return a
}

// lane borrows a lane of a for the rest of the test.
func lane(t testing.TB, a *att) *lockd.Lane {
	t.Helper()
	ln, err := a.AcquireLane(context.Background())
	if err != nil {
		t.Fatalf("AcquireLane: %v", err)
	}
	return ln
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Helper processes (package childproc): each role attaches to the space
// of defaultGeom at path.
func TestMain(m *testing.M) {
	childproc.Main(runHelper)
	os.Exit(m.Run())
}

// runHelper is the body of a helper process.
func runHelper(role, path, arg string) error {
	a, err := openAtt(path, defaultGeom, lockd.Options{})
	if err != nil {
		return err
	}
	defer a.close()
	switch role {
	case "hold-write":
		if err := a.Lock(context.Background(), defaultGeom.lockAt(0)); err != nil {
			return err
		}
		return readyAndSleep()
	case "hold-read":
		ln, err := a.AcquireLane(context.Background())
		if err != nil {
			return err
		}
		if err := ln.RLock(context.Background(), defaultGeom.lockAt(0)); err != nil {
			return err
		}
		return readyAndSleep()
	case "lane-write":
		// a write hold recorded in a lane with aux 42, committed if arg says so.
		ln, err := a.AcquireLane(context.Background())
		if err != nil {
			return err
		}
		l := defaultGeom.lockAt(0)
		if err := ln.Lock(context.Background(), l); err != nil {
			return err
		}
		ln.SetAux(l, 42)
		if arg == "commit" {
			ln.Commit()
		}
		return readyAndSleep()
	case "wait-write":
		// Registers as a waiting writer behind the parent's read hold and
		// stays there until killed.
		fmt.Println("ready")
		err := a.Lock(context.Background(), defaultGeom.lockAt(0))
		return fmt.Errorf("Lock returned (%v) while the parent held a read lock", err)
	case "exclusion":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		var stats exclusionStats
		if err := hammerExclusion(a, d, 8, &stats); err != nil {
			return err
		}
		fmt.Printf("reads=%d writes=%d\n", stats.reads.Load(), stats.writes.Load())
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

func readyAndSleep() error {
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return nil
}

// exclusionStats counts the holds a hammer took.
type exclusionStats struct {
	reads, writes atomic.Int64
}
