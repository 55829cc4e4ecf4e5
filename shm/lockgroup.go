package shm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dsm-dev/dsm/lockd"
)

// A LockGroup holds the locks of several variables at once, for reading or
// for writing, so that its owner can read them as one snapshot and write
// them all or nothing. Writes made through the group are staged and become
// visible together at Commit; Unlock discards what was not committed. While
// a group holds a write lock, every other writer and reader of that
// variable, in any process, waits; operations through the group itself
// pass.
//
// A LockGroup belongs to one goroutine at a time and must be released with
// Unlock. If its process dies, its locks are released and a commit that had
// begun is completed (see package lockd).
type LockGroup struct {
	m      *Memory
	ln     *lockd.Lane
	write  bool
	refs   map[string]ref // by name
	order  []ref          // locked, in slot order
	staged map[uint32]Value
	done   bool

	created []ref // variables this group created, reclaimed if it fails
	deleted []ref // variables a commit left without a value, freed at Unlock

	createVer uint64 // version of the variables a commit creates; 0: the slot's next
}

// Lock takes the named variables' locks (write or read) as one group,
// waiting until ctx ends. Missing variables are created without a value when
// create is set (so that they can be locked); otherwise a name that is missing
// stays out of the group: the missing names were all missing at one instant
// while the group held its locks (it may be created afterwards). Locks are
// taken in slot order, the same in every process, so groups never deadlock
// among themselves.
//
// A group waits for its variables without holding one of the process'
// lock lanes (Limits.Lanes) where it can: a write group takes its locks
// first and a lane after (if none is free, it lets the locks go, waits for
// a lane and takes them again with it), a read group waits until no writer
// holds or waits for its variables before it takes a lane and its read
// locks. If every lane stays held by other groups until ctx ends, Lock
// fails with ErrNoLane.
//
// On a replicated file a local process takes read groups only: a write
// group, or one that creates, fails with ErrReplicated (see
// replicated.go).
func (m *Memory) Lock(ctx context.Context, names [][]byte, write, create bool) (*LockGroup, error) {
	if err := m.checkGroup(names); err != nil {
		return nil, err
	}
	if write || create {
		if err := m.refuseReplicated("a write lock group"); err != nil {
			return nil, err
		}
	}
	g := &LockGroup{m: m, write: write, refs: make(map[string]ref, len(names))}
	if err := g.lock(ctx, names, create); err != nil {
		g.release()
		if g.ln != nil {
			g.ln.Release()
		}
		for _, r := range g.created {
			m.reclaim(r)
		}
		return nil, err
	}
	return g, nil
}

// lock takes the group's locks and its lane; on failure the caller
// releases what it holds. Nobody waits for a lane while holding a lock
// (lanes' borrowers may be waiting for that lock): a read group waits for
// a lane before it takes its locks, a write group that finds no lane free
// once it holds its locks lets them go, waits for a lane, and takes them
// again through it.
func (g *LockGroup) lock(ctx context.Context, names [][]byte, create bool) error {
	if !g.write {
		if err := g.awaitReadable(ctx, names); err != nil {
			return err
		}
		if err := g.takeLane(ctx); err != nil {
			return err
		}
	}
	for {
		if err := g.lockAll(ctx, names, create); err != nil {
			return err
		}
		if g.ln != nil {
			return nil
		}
		if ok, err := g.adopt(); ok || err != nil {
			return err
		}
		g.release()
		if err := g.takeLane(ctx); err != nil {
			return err
		}
	}
}

// lockAll runs lockOnce until it holds every lock.
func (g *LockGroup) lockAll(ctx context.Context, names [][]byte, create bool) error {
	for {
		ok, err := g.lockOnce(ctx, names, create)
		if ok || err != nil {
			return err
		}
	}
}

// awaitReadable waits, holding nothing, until no writer holds or waits for
// the named variables that exist, in slot order.
func (g *LockGroup) awaitReadable(ctx context.Context, names [][]byte) error {
	var refs []ref
	for _, n := range names {
		if r, ok := g.m.lookup(n); ok {
			refs = append(refs, r)
		}
	}
	for _, r := range sortedRefs(refs) {
		if err := g.m.proc.WaitReadable(ctx, g.m.lockOf(r.slot)); err != nil {
			return err
		}
	}
	return nil
}

// takeLane borrows the lane that records the group's locks.
func (g *LockGroup) takeLane(ctx context.Context) error {
	ln, err := g.m.proc.AcquireLane(ctx)
	if errors.Is(err, lockd.ErrNoLane) {
		return fmt.Errorf("%w: all %d lanes of this process are held: %w", ErrNoLane, g.m.meta.lanes, ctx.Err())
	}
	g.ln = ln
	return err
}

// adopt borrows a lane for a write group that holds its locks, if one is
// free, and records the locks in it, so that a crash from here on is
// repaired as the group's.
func (g *LockGroup) adopt() (bool, error) {
	if g.ln = g.m.proc.TryAcquireLane(); g.ln == nil {
		return false, nil
	}
	for _, r := range g.order {
		if err := g.ln.Adopt(g.m.lockOf(r.slot)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// lockOnce resolves and locks; ok is false if a variable appeared or was
// deleted before its lock was taken, and then everything was released.
func (g *LockGroup) lockOnce(ctx context.Context, names [][]byte, create bool) (bool, error) {
	m := g.m
	clear(g.refs)
	g.order = g.order[:0]
	var missing [][]byte
	for _, n := range names {
		r, found, created, err := m.resolveNew(n, create)
		if created {
			g.created = append(g.created, r)
		}
		if err != nil {
			return false, err
		}
		if !found {
			missing = append(missing, n)
			continue
		}
		g.refs[string(n)] = r
	}
	want := make([]ref, 0, len(g.refs))
	for _, r := range g.refs {
		want = append(want, r)
	}
	for _, r := range sortedRefs(want) {
		if err := g.lockRef(ctx, r); err != nil {
			return false, err
		}
		g.order = append(g.order, r)
	}
	for _, r := range g.order {
		if !m.valid(r) {
			g.release()
			return false, nil
		}
	}
	// A name missing before the locks must still be missing now, or a group
	// write may have created it and its partners at once. Several must be
	// missing at one instant: between two looks, one could be created and
	// another deleted.
	seq := atomic.LoadUint64(m.indexSeq())
	for _, n := range missing {
		if _, now := m.lookup(n); now {
			g.release()
			return false, nil
		}
	}
	if len(missing) > 1 && !m.indexSteady(seq) {
		g.release()
		return false, nil
	}
	return true, nil
}

// lockRef takes one lock: a write lock without a lane if the group has
// none yet (see lock).
func (g *LockGroup) lockRef(ctx context.Context, r ref) error {
	switch {
	case g.write && g.ln == nil:
		return g.m.proc.Lock(ctx, g.m.lockOf(r.slot))
	case g.write:
		return g.ln.Lock(ctx, g.m.lockOf(r.slot))
	}
	return g.ln.RLock(ctx, g.m.lockOf(r.slot))
}

// release drops every lock held.
func (g *LockGroup) release() {
	for _, r := range g.order {
		switch {
		case g.write && g.ln != nil:
			g.ln.Unlock(g.m.lockOf(r.slot)) // recorded or not: Unlock drops the entry if there is one
		case g.write:
			g.m.proc.Unlock(g.m.lockOf(r.slot))
		default:
			g.ln.RUnlock(g.m.lockOf(r.slot))
		}
	}
	g.order = g.order[:0]
}

// Unlock discards uncommitted writes and releases the group's locks.
func (g *LockGroup) Unlock() {
	if g.done {
		return
	}
	g.done = true
	g.staged = nil
	g.release()
	g.ln.Release()
	// Variables created only to be locked and never given a value go, and
	// so do those the group deleted (unless someone has set them since).
	// Their slots are freed only now: freeing takes the index lock, which
	// comes before a variable's lock in the lock order.
	for _, r := range g.created {
		g.m.reclaim(r)
	}
	for _, r := range g.deleted {
		g.m.reclaim(r)
	}
}

// Holds reports whether the group holds name's lock.
func (g *LockGroup) Holds(name []byte) bool {
	_, ok := g.refs[string(name)]
	return ok && !g.done
}

// Write reports whether the group holds write locks.
func (g *LockGroup) Write() bool { return g.write }

// Names lists the variables the group holds.
func (g *LockGroup) Names() [][]byte {
	out := make([][]byte, 0, len(g.refs))
	for n := range g.refs {
		out = append(out, []byte(n))
	}
	return out
}

func (g *LockGroup) ref(name []byte, write bool) (ref, error) {
	r, ok := g.refs[string(name)]
	switch {
	case g.done:
		return ref{}, ErrClosed
	case !ok, write && !g.write:
		return ref{}, fmt.Errorf("%w: %q", ErrNotHeld, name)
	}
	return r, nil
}

// Get returns name's value as the group sees it: staged if written through
// the group, else current. A name the group does not hold because it was
// missing reads as not found.
func (g *LockGroup) Get(name []byte) (Item, error) {
	r, err := g.ref(name, false)
	if err != nil {
		if _, held := g.refs[string(name)]; !held && !g.done {
			if _, exists := g.m.lookup(name); !exists {
				return Item{}, nil
			}
		}
		return Item{}, err
	}
	if v, ok := g.staged[r.slot]; ok {
		ver, _ := g.nextVersion(r, v)
		return Item{Value: v, Version: ver, Found: v.Valid()}, nil
	}
	it := g.m.readLocked(r)
	return it, it.err
}

// Set stages v as name's value.
func (g *LockGroup) Set(name []byte, v Value) error {
	r, err := g.ref(name, true)
	if err != nil {
		return err
	}
	if err := g.m.checkValue(v); err != nil {
		return err
	}
	if g.staged == nil {
		g.staged = make(map[uint32]Value)
	}
	if v.kind == kindBytes {
		v.b = append([]byte(nil), v.b...)
	}
	g.staged[r.slot] = v
	return nil
}

// Delete stages the removal of name's value; the variable then reads as
// missing, and Unlock frees its slot.
func (g *LockGroup) Delete(name []byte) error {
	r, err := g.ref(name, true)
	if err != nil {
		return err
	}
	if g.staged == nil {
		g.staged = make(map[uint32]Value)
	}
	g.staged[r.slot] = Value{}
	return nil
}

// Add stages name's integer plus delta and returns it.
func (g *LockGroup) Add(name []byte, delta int64) (int64, error) {
	cur, err := g.Get(name)
	if err != nil {
		return 0, err
	}
	if _, err := g.ref(name, true); err != nil {
		return 0, err
	}
	n, err := addTo(cur, delta)
	if err != nil {
		return 0, err
	}
	return n, g.Set(name, Int(n))
}

// SetCreateVersion makes every later Commit of the group give each
// variable it creates exactly version v, instead of the next version of the
// variable's slot; 0, the default, turns it off. A variable is created when
// it has no value (it was missing, or the group or another left it without
// one, as a committed Delete does) and the commit gives it one. Every other
// write keeps its rule: a variable that has a value, or keeps none, moves
// to its current version plus one, once per commit however many writes the
// group staged for it.
//
// Versions count per slot, so without it a variable's first version
// depends on which slot it takes and on that slot's past, which differ
// between files holding the same variables (after an Install, say). With
// it, files that apply the same writes with the same create versions give
// every variable the same version, whatever their slots.
//
// A slot's version only rises, from one incarnation of its variable to
// the next too, as every other write keeps it: v must be above the
// version of the created variable's slot, or Commit fails with
// ErrCreateVersion and writes nothing. A caller that gives each commit a
// rising v must keep it above every version its earlier commits can have
// left in a slot: a commit moves a slot by one (or to v), and freeing a
// variable left without a value (at Unlock, after a Delete or for a
// variable created but never set) moves the slot by one more.
func (g *LockGroup) SetCreateVersion(v uint64) { g.createVer = v }

// nextVersion is the version a commit gives r when it writes v: the
// create version if that is set, r has no value and v is one, else r's
// version plus one. ok is false if the create version is not above r's
// version.
func (g *LockGroup) nextVersion(r ref, v Value) (ver uint64, ok bool) {
	cur := atomic.LoadUint64(g.m.version(r.slot))
	if g.createVer == 0 || !v.Valid() || g.m.loadBuf(r.slot, cur).kind != kindAbsent {
		return cur + 1, true
	}
	return g.createVer, g.createVer > cur
}

// Commit makes the staged writes visible, all at once, through the lane's
// commit point (see Memory.commit): a crash before it leaves every old
// value; after it, recovery publishes the rest. It fails with
// ErrCreateVersion, having written nothing, if the group's create version
// (SetCreateVersion) is not above the version of a slot it would create a
// variable in; the writes stay staged until Unlock.
func (g *LockGroup) Commit() error {
	if g.done {
		return ErrClosed
	}
	if len(g.staged) == 0 {
		return nil
	}
	m := g.m
	vals := make([]Value, 0, len(g.staged))
	ws := make([]write, 0, len(g.staged))
	for _, r := range g.order {
		v, staged := g.staged[r.slot]
		if !staged {
			continue
		}
		ver, ok := g.nextVersion(r, v)
		if !ok {
			return fmt.Errorf("%w: %q would be created at version %d, its slot %d is at version %d",
				ErrCreateVersion, m.name(r.slot), ver, r.slot, atomic.LoadUint64(m.version(r.slot)))
		}
		vals = append(vals, v)
		ws = append(ws, write{slot: r.slot, ver: ver, val: &vals[len(vals)-1]})
	}
	for _, r := range g.order {
		if v, ok := g.staged[r.slot]; ok && !v.Valid() {
			g.deleted = append(g.deleted, r)
		}
	}
	if err := m.commit(g.ln, ws); err != nil {
		return err
	}
	g.logRedo()
	g.staged = nil
	return nil
}

// logRedo gives the redo log, if any, the records of the staged writes just
// committed, in one call; the group still holds the locks.
func (g *LockGroup) logRedo() {
	m := g.m
	j, ok := m.redoOn()
	if !ok {
		return
	}
	recs := make([]Record, 0, len(g.staged))
	for _, r := range g.order {
		if v, ok := g.staged[r.slot]; ok {
			recs = append(recs, Record{Name: m.name(r.slot), Value: v, Version: atomic.LoadUint64(m.version(r.slot)), Slot: r.slot, Inc: r.inc})
		}
	}
	j.Append(recs)
}
