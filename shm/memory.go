package shm

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"

	"github.com/dsm-dev/dsm/internal/groupcommit"
	"github.com/dsm-dev/dsm/lockd"
)

// Config says which file to open and, for a file that does not exist yet,
// how to create it. Zero values mean the defaults.
type Config struct {
	// Path of the file; created if missing.
	Path string
	// Capacities, used only when the file is created; an existing file
	// keeps its own. Vars is how many variables fit, NameMax the longest
	// name in bytes, ValueMax the longest byte value, Procs how many
	// attachments (processes) may be open at once, Lanes how many
	// groups (Lock, and MGet and MSet for their instant) one attachment may
	// hold at once (groups that wait for their variables hold none; see
	// Lock), GroupMax how many variables one atomic group (MGet, MSet) may
	// name.
	Vars, NameMax, ValueMax, Procs, Lanes, GroupMax int
	// Format is a new file's format (doc.go): 1, or 2, whose slots are
	// compact and whose longer values and names live in value blocks;
	// 0 means 1. Format 2 is being built (issue 20): it does not grow
	// yet, nor expire variables, and becomes the default when it does.
	// Its capacities round up to a power of two, and its ValueMax
	// defaults to DefaultValueMax2.
	Format int
	// ValueArea is, for a new format-2 file, the bytes of its value
	// blocks (arena 0), rounded up to a power of two; 0 means 64 per
	// slot. It is at least four blocks of the longest value, and at most
	// 1 TiB.
	ValueArea int
	// Mode of a new file; 0 means 0600 (0660 with FileGroup).
	Mode os.FileMode
	// FileGroup, if set, is the Unix group that owns a new file, which is
	// then group-readable and -writable.
	FileGroup string
	// Seed, if not zero, is a new file's hash seed, which decides where
	// each name sits in the file's index; zero picks a random one. Files
	// that must be byte-for-byte alike after the same writes (the nodes of
	// a cluster, whose snapshots copy the index) are created with the same
	// seed. An existing file keeps its own.
	Seed uint64
	// Exclusive takes the one-daemon-per-file lock; Open fails with
	// ErrLocked if another holds it. Local processes leave it false.
	// The Memory that holds it is also the writer of a replicated file
	// (MarkReplicated): its writes and lock groups go to the file, where
	// every other Memory sends its writes to the daemon.
	Exclusive bool
	// AllowIncomplete opens a file whose last Install or Flush was cut
	// short, which Open otherwise refuses with ErrInstallIncomplete. The
	// caller (a cluster node that installs its snapshot again) must end
	// that state with an Install or Flush before anything reads the file;
	// Incomplete reports it meanwhile.
	AllowIncomplete bool
}

func (c *Config) fill() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Vars, DefaultVars)
	def(&c.NameMax, DefaultNameMax)
	def(&c.Format, 1)
	if c.Format == 2 {
		def(&c.ValueMax, DefaultValueMax2)
	}
	def(&c.ValueMax, DefaultValueMax)
	def(&c.Procs, DefaultProcs)
	def(&c.Lanes, DefaultLanes)
	def(&c.GroupMax, DefaultGroupMax)
	if c.Path == "" {
		return fmt.Errorf("%w: no path", ErrConfig)
	}
	if c.Format != 1 && c.Format != 2 {
		return fmt.Errorf("%w: file format %d, there are 1 and 2", ErrConfig, c.Format)
	}
	if c.ValueArea < 0 || c.ValueArea > 1<<maxArenaClass {
		return fmt.Errorf("%w: value area of %d bytes not in 0..%d", ErrConfig, c.ValueArea, 1<<maxArenaClass)
	}
	return checkCapacities(ErrConfig, c.Vars, c.NameMax, c.ValueMax, c.Procs, c.Lanes, c.GroupMax)
}

// Memory is an open memory file. It is safe for concurrent use by many
// goroutines; other processes may have the same file open at the same time.
// It must be closed with Close.
type Memory struct {
	path   string
	f      *os.File
	mm     mmap.MMap
	mem    []byte
	base   unsafe.Pointer // &mem[0]
	meta   meta
	proc   *lockd.Proc
	index  lockd.Lock // guards changes to the index and the free list
	closed atomic.Bool
	syncer *groupcommit.Committer // SyncBarrier's shared msyncs

	redo atomic.Pointer[redoBox] // see SetRedoLog

	incomplete atomic.Bool // the file's last install was cut short (whole.go)

	writer     bool        // Config.Exclusive: writes to a replicated file go to the file
	replicated atomic.Bool // the file is known to be replicated (replicated.go)
	daemon     *daemon     // the node's daemon, for a replicated file's writes (daemon.go)

	// life is held (read) by operations that may block for long (Wait,
	// Feed.Next) or walk every slot, so that Close can wake them and wait for
	// them before it unmaps the file. Short operations only check closed:
	// calling Close while they run is a misuse, as with any Close.
	life sync.RWMutex

	// Where a slot keeps its parts, by format: the name in place (nameCap
	// bytes at nameOff), the two value buffers or cells (cellSize apart
	// from cellsOff), a value's data within one (dataOff).
	nameOff, nameCap, cellsOff, cellSize, dataOff uint64

	compact   bool       // format 2 (slot2.go)
	heap      heap       // format 2's value blocks (heap.go)
	allocLock lockd.Lock // format 2: guards the heap and every reference to it
	clock     *clock     // format 2: the time writes stamp (clock.go)
}

// Open opens (creating if needed) the memory file of cfg, validates its
// header, maps it and attaches to its locks.
func Open(cfg Config) (*Memory, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	f, hdr, err := openFile(cfg)
	if err != nil {
		return nil, err
	}
	m, err := attach(f, hdr, cfg)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", cfg.Path, err)
	}
	if hdr.flags&flagInstalling != 0 {
		if err := m.settleInstall(cfg.AllowIncomplete); err != nil {
			m.Close()
			return nil, fmt.Errorf("open %s: %w", cfg.Path, err)
		}
	}
	return m, nil
}

func attach(f *os.File, hdr meta, cfg Config) (*Memory, error) {
	if cfg.Exclusive {
		ok, err := lockd.LockByte(f, livenessPage*pageSize+daemonByte)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrLocked
		}
	}
	mm, err := mmap.MapRegion(f, int(hdr.fileSize), mmap.RDWR, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	m := &Memory{path: cfg.Path, f: f, mm: mm, mem: []byte(mm), meta: hdr, writer: cfg.Exclusive,
		index: lockd.Lock(controlPage*pageSize + ctlIndexLock)}
	m.base = unsafe.Pointer(&m.mem[0])
	m.setLayout()
	locks := []lockd.LockRange{
		{Off: uint64(m.index), Count: 1},
		{Off: hdr.slotsOff + slotLock, Count: int(hdr.vars), Stride: uint64(hdr.slotSize)},
	}
	if m.compact {
		locks = append(locks, lockd.LockRange{Off: uint64(m.allocLock), Count: 1})
	}
	m.replicated.Store(hdr.flags&flagReplicated != 0)
	m.daemon = newDaemon(SocketPath(cfg.Path))
	m.syncer = groupcommit.New(m.flush)
	lay := lockd.Layout{
		Procs: int(hdr.procs), Lanes: int(hdr.lanes), LaneEntries: int(hdr.groupMax) + 1,
		ProcsOff: hdr.procsOff, LanesOff: hdr.lanesOff,
		LivenessOff: livenessPage*pageSize + procByteBase,
		SpillOff:    controlPage*pageSize + ctlSpill,
		Locks:       locks,
	}
	m.proc, err = lockd.Attach(f, m.mem, lay, lockd.Options{Repair: m.repair})
	if err != nil {
		mm.Unmap()
		return nil, err
	}
	return m, nil
}

// Close detaches from the locks, flushes and unmaps the file. Variables
// are kept in the file; the Memory must not be used afterwards.
func (m *Memory) Close() error {
	if m.closed.Swap(true) {
		return ErrClosed
	}
	m.proc.WakeAll()
	m.daemon.close()
	m.life.Lock()
	defer m.life.Unlock()
	if m.clock != nil {
		m.clock.close()
	}
	err := m.proc.Detach()
	if ferr := m.mm.Flush(); err == nil {
		err = ferr
	}
	if uerr := m.mm.Unmap(); err == nil {
		err = uerr
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Format is the file's format: 1 or 2 (see doc.go).
func (m *Memory) Format() int {
	if m.compact {
		return 2
	}
	return 1
}

// Path is the file's path.
func (m *Memory) Path() string { return m.path }

// Seed is the file's hash seed, fixed when it was created (Config.Seed).
func (m *Memory) Seed() uint64 { return m.meta.seed }

// Stats describes the file.
type Stats struct {
	Limits
	Vars  int // live variables
	Procs int // attached processes, this one included
}

// Limits are the file's capacities, fixed when it was created.
type Limits struct {
	Capacity  int   // how many variables fit
	NameMax   int   // longest name
	ValueMax  int   // longest byte value
	GroupMax  int   // most variables in one atomic group
	FileSize  int64 // bytes
	ProcSlots int   // most attached processes at once
	Lanes     int   // groups (Lock, MGet, MSet) one process may hold at once
}

// Limits reports the file's capacities; it reads only the header, so it is
// cheap whatever the file's size.
func (m *Memory) Limits() Limits {
	return Limits{
		Capacity: int(m.meta.vars), NameMax: int(m.meta.nameMax),
		ValueMax: int(m.meta.valueMax), GroupMax: int(m.meta.groupMax),
		FileSize: int64(m.meta.fileSize), ProcSlots: int(m.meta.procs),
		Lanes: int(m.meta.lanes),
	}
}

// Stats reports the file's capacities and use. Counting the variables reads
// every slot: callers that need only capacities use Limits.
func (m *Memory) Stats() Stats {
	if !m.enter() {
		return Stats{}
	}
	defer m.life.RUnlock()
	return Stats{Limits: m.Limits(), Vars: m.countLocked(), Procs: len(m.proc.Procs())}
}

// Procs lists the processes attached to the file.
func (m *Memory) Procs() []lockd.ProcInfo {
	if !m.enter() {
		return nil
	}
	defer m.life.RUnlock()
	return m.proc.Procs()
}

// enter takes m.life for an operation that may block or walk the file; it
// reports false (holding nothing) if m is closed.
func (m *Memory) enter() bool {
	m.life.RLock()
	if m.closed.Load() {
		m.life.RUnlock()
		return false
	}
	return true
}

var background = context.Background()
