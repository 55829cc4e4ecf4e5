package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dsm-dev/dsm/internal/planted"
)

// Client-held locks in a cluster are replicated state: a request, a
// release, a withdrawal and a lease's end are log entries, and every node
// applies them to the same LockTable. What the table holds is the single
// host's lock discipline (all or nothing, writer priority) with no clock
// in it: a lease is a length, and only the leader counts it down, on its
// own monotonic clock (see keepLeases). A grant's token is the log index
// of the entry that granted it, so tokens of one variable rise with every
// grant, and a write fenced by a token (FencedWrite) is refused once a
// newer grant exists.

// Lock table entries, told apart from the Applier's by their first
// argument (the Applier's start with a reply protocol, "2" or "3").
const (
	entryLock   = "\x00lock"   // op, then the op's arguments (lockOp)
	entryHeld   = "\x00held"   // request ID, then an Applier entry: a holder's write
	entryFenced = "\x00fenced" // token, then an Applier entry: a fenced write
)

// Operations on the lock table.
const (
	opLockRequest  = "request"  // holder, "R"|"W", wait ms, lease ms, names...
	opLockRelease  = "release"  // request ID: the holder lets go (UNLOCK, a closed connection)
	opLockExpire   = "expire"   // request ID: the leader ended the lease (a grant only)
	opLockWithdraw = "withdraw" // request ID: the waiter's node gave up (its WAIT ended)
	opLockLapse    = "lapse"    // request ID: the leader ended a wait (a waiter only)
)

// Errors of lock-table entries, applied alike on every node. Their texts
// are what a client sees (after "-"), so each starts with its error code.
var (
	// ErrLocked: a write names a variable that someone else holds. The
	// write was not applied; it may be sent again once the lock is gone.
	ErrLocked = errors.New("LOCKED a variable the command names is locked by another client")
	// ErrLockLost: the lock a holder's write or release names is no longer
	// held: its lease ended, or it was released.
	ErrLockLost = errors.New("LOCKLOST the lease of this connection's locks ended and they were released; UNLOCK to acknowledge, or LOCK again")
	// ErrFenced: a fenced write's token is older than the latest grant of
	// a variable it names.
	ErrFenced = errors.New("FENCED a newer lock was granted on a variable the command names: the token is stale and the command was not run")
	// ErrLockArgs: a lock-table entry is malformed.
	ErrLockArgs = errors.New("cluster: malformed lock entry")
)

// LockRequest is one LOCK in the table: held (Token set) or waiting.
type LockRequest struct {
	ID     uint64        // log index of the request: names it in later entries
	Holder string        // who asked (node and connection), for LOCKS
	Write  bool          // write (exclusive) or read (shared)
	Wait   time.Duration // how long it may wait for the grant
	Lease  time.Duration // how long a grant lasts unless released
	Names  []string      // sorted, no repeats
	Token  uint64        // log index of the grant; 0 while waiting
}

// lockName is one variable's state in the table.
type lockName struct {
	writer  uint64              // the request holding it for writing, 0 if none
	readers map[uint64]struct{} // the requests holding it for reading
	last    uint64              // the index of its latest grant: the fence
}

func (n *lockName) held() bool { return n.writer != 0 || len(n.readers) > 0 }

// LockTable is the replicated lock state of a node. The FSM's apply is its
// only writer; the server reads it from connection goroutines.
type LockTable struct {
	mu    sync.RWMutex
	index uint64 // the last lock entry applied
	at    uint64 // the applied index this state is the truth at (see FSM.loadLocks)
	reqs  map[uint64]*LockRequest
	queue []uint64 // waiting request IDs, in the order they came
	names map[string]*lockName

	// since is when this node applied each grant or request (or learned of
	// it at a start or an install): the start of its lease or wait as this
	// node counts. Not replicated: each node's own monotonic clock.
	since map[uint64]time.Time

	changed chan struct{} // closed (and replaced) when the table changes
}

func newLockTable() *LockTable {
	return &LockTable{reqs: make(map[uint64]*LockRequest), names: make(map[string]*lockName),
		since: make(map[uint64]time.Time), changed: make(chan struct{})}
}

// watch returns a channel closed at the table's next change: the lease
// keeper and the lock waits wake on what concerns them, not on every
// entry the node applies.
func (t *LockTable) watch() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// broadcastLocked wakes the watchers; t.mu must be held for writing.
func (t *LockTable) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// replace makes t hold src's state (a loaded lock file, a snapshot's
// table), in place: the node and its connections keep the one table.
func (t *LockTable) replace(src *LockTable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.index, t.at, t.reqs, t.queue, t.names, t.since = src.index, src.at, src.reqs, src.queue, src.names, src.since
	t.broadcastLocked()
}

func (t *LockTable) name(n string) *lockName {
	ln := t.names[n]
	if ln == nil {
		ln = &lockName{}
		t.names[n] = ln
	}
	return ln
}

// grantable reports whether r can be granted now, all its names at once:
// no holder conflicts, and no earlier waiter conflicts (earlier maps each
// name an earlier waiter still waits for to whether one of them writes),
// which is writer priority and first come, first served.
func (t *LockTable) grantable(r *LockRequest, earlier map[string]bool) bool {
	for _, n := range r.Names {
		ln := t.names[n]
		if ln != nil && (ln.writer != 0 || (r.Write && len(ln.readers) > 0)) {
			return false
		}
		if w, ok := earlier[n]; ok && (w || r.Write) {
			return false
		}
	}
	return true
}

func (t *LockTable) grant(r *LockRequest, index uint64, now time.Time) {
	r.Token = index
	t.since[r.ID] = now
	t.hold(r)
	for _, n := range r.Names {
		t.names[n].last = index
	}
}

// hold records the granted r as its variables' holder.
func (t *LockTable) hold(r *LockRequest) {
	for _, n := range r.Names {
		ln := t.name(n)
		if r.Write {
			ln.writer = r.ID
			continue
		}
		if ln.readers == nil {
			ln.readers = make(map[uint64]struct{})
		}
		ln.readers[r.ID] = struct{}{}
	}
}

// request applies a LOCK: granted at once when it can be, queued otherwise.
func (t *LockTable) request(r *LockRequest, now time.Time) {
	t.reqs[r.ID] = r
	if t.grantable(r, t.waiting()) {
		t.grant(r, r.ID, now)
		return
	}
	t.queue = append(t.queue, r.ID)
	t.since[r.ID] = now
}

// waiting maps the names of every waiting request to whether one of its
// waiters writes.
func (t *LockTable) waiting() map[string]bool {
	w := make(map[string]bool)
	for _, id := range t.queue {
		r := t.reqs[id]
		for _, n := range r.Names {
			w[n] = w[n] || r.Write
		}
	}
	return w
}

// drop removes request id, held or waiting, and grants the waiters that
// can go now, at index. It reports what id was: held, waiting, or unknown.
func (t *LockTable) drop(id, index uint64, now time.Time) (r *LockRequest, wasHeld bool) {
	r = t.reqs[id]
	if r == nil {
		return nil, false
	}
	delete(t.reqs, id)
	delete(t.since, id)
	if r.Token == 0 {
		t.queue = slices.DeleteFunc(t.queue, func(q uint64) bool { return q == id })
	} else {
		for _, n := range r.Names {
			ln := t.names[n]
			if ln.writer == id {
				ln.writer = 0
			}
			delete(ln.readers, id)
		}
	}
	t.grantWaiting(index, now)
	return r, r.Token != 0
}

// grantWaiting grants, in order, every waiter that can go.
func (t *LockTable) grantWaiting(index uint64, now time.Time) {
	earlier := make(map[string]bool)
	kept := t.queue[:0]
	for _, id := range t.queue {
		r := t.reqs[id]
		if t.grantable(r, earlier) {
			t.grant(r, index, now)
			continue
		}
		kept = append(kept, id)
		for _, n := range r.Names {
			earlier[n] = earlier[n] || r.Write
		}
	}
	t.queue = kept
}

// apply applies one lock-table operation at index and returns its reply:
// "G token" (granted), "Q" (queued), "R count" (released), "W"
// (withdrawn), "N" (nothing to do).
func (t *LockTable) apply(index uint64, args [][]byte, now time.Time) ([]byte, error) {
	if len(args) == 0 {
		return nil, ErrLockArgs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.broadcastLocked()
	op, args := string(args[0]), args[1:]
	if op == opLockRequest {
		r, err := parseLockRequest(index, args)
		if err != nil {
			return nil, err
		}
		t.index, t.at = index, index
		t.request(r, now)
		if r.Token != 0 {
			return []byte("G " + strconv.FormatUint(r.Token, 10)), nil
		}
		return []byte("Q"), nil
	}
	if len(args) != 1 {
		return nil, ErrLockArgs
	}
	id, err := strconv.ParseUint(string(args[0]), 10, 64)
	if err != nil {
		return nil, ErrLockArgs
	}
	switch op {
	case opLockRelease, opLockExpire, opLockWithdraw, opLockLapse:
	default:
		return nil, fmt.Errorf("%w: unknown operation %q", ErrLockArgs, op)
	}
	t.index, t.at = index, index
	// The leader proposes an expiry or a lapse for what it saw when it
	// counted: a waiter granted since (a release came first in the log)
	// keeps its grant, which the holder was told of and now relies on.
	if r := t.reqs[id]; r != nil && (op == opLockExpire && r.Token == 0 || op == opLockLapse && r.Token != 0) {
		return []byte("N"), nil
	}
	r, held := t.drop(id, index, now)
	switch {
	case r == nil && op == opLockRelease:
		return nil, ErrLockLost
	case r == nil:
		return []byte("N"), nil
	case !held:
		return []byte("W"), nil
	}
	return []byte("R " + strconv.Itoa(len(r.Names))), nil
}

func parseLockRequest(index uint64, args [][]byte) (*LockRequest, error) {
	if len(args) < 5 {
		return nil, ErrLockArgs
	}
	wait, err1 := strconv.ParseInt(string(args[2]), 10, 64)
	lease, err2 := strconv.ParseInt(string(args[3]), 10, 64)
	mode := string(args[1])
	if err1 != nil || err2 != nil || wait < 0 || lease <= 0 || (mode != "R" && mode != "W") {
		return nil, ErrLockArgs
	}
	r := &LockRequest{ID: index, Holder: string(args[0]), Write: mode == "W",
		Wait: time.Duration(wait) * time.Millisecond, Lease: time.Duration(lease) * time.Millisecond}
	for _, n := range args[4:] {
		if len(n) == 0 || Reserved(n) {
			return nil, fmt.Errorf("%w: name %q", ErrLockArgs, n)
		}
		r.Names = append(r.Names, string(n))
	}
	slices.Sort(r.Names)
	r.Names = slices.Compact(r.Names)
	return r, nil
}

// checkWrite decides whether a write of names may be applied: by anyone
// (holder 0, token 0), by holder (the request ID of a holder's write), or
// fenced by token.
func (t *LockTable) checkWrite(names [][]byte, holder, token uint64) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if holder != 0 {
		r := t.reqs[holder]
		if r == nil || r.Token == 0 || !r.Write {
			return ErrLockLost
		}
		for _, n := range names {
			if _, ok := slices.BinarySearch(r.Names, string(n)); !ok {
				return fmt.Errorf("%w: %q is not among the holder's", ErrLocked, n)
			}
		}
		return nil
	}
	for _, n := range names {
		ln := t.names[string(n)]
		if ln == nil {
			continue
		}
		if token != 0 && ln.last > token {
			return ErrFenced
		}
		if ln.held() && !(token != 0 && ln.writer != 0 && t.reqs[ln.writer].Token == token) {
			return ErrLocked
		}
	}
	return nil
}

// Blocked reports whether a read (write false) or write of names by
// someone other than request own (0: nobody's) must wait: a write waits
// for every holder, a read for a writer holding or waiting (writer
// priority). A fenced write passes the holder its token names (token;
// 0 for none).
func (t *LockTable) Blocked(names [][]byte, write bool, own, token uint64) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var waiting map[string]bool
	for _, n := range names {
		if ln := t.names[string(n)]; ln != nil {
			if token != 0 && ln.last > token {
				return false // a stale fenced write: refused at once where it is applied
			}
			if ln.writer != 0 && ln.writer != own && (token == 0 || t.reqs[ln.writer].Token != token) {
				return true
			}
			if write {
				for id := range ln.readers {
					if id != own {
						return true
					}
				}
			}
		}
		if !write && own == 0 && len(t.queue) > 0 {
			if waiting == nil {
				waiting = t.waiting()
			}
			if waiting[string(n)] {
				return true
			}
		}
	}
	return false
}

// LockState is a request's state on this node.
type LockState int

const (
	LockGone    LockState = iota // released, expired, withdrawn, or never seen
	LockWaiting                  // queued
	LockHeld                     // granted
)

// State returns request id's state and, when held, its token.
func (t *LockTable) State(id uint64) (LockState, uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r := t.reqs[id]
	switch {
	case r == nil:
		return LockGone, 0
	case r.Token == 0:
		return LockWaiting, 0
	}
	return LockHeld, r.Token
}

// LockInfo is a request with its lease (or wait) left as this node counts.
type LockInfo struct {
	LockRequest
	Left time.Duration
}

// List returns every request, held ones first then waiters in order, with
// the time left of each: on the leader, the lease the leader enforces;
// elsewhere, counted from when this node applied the grant.
func (t *LockTable) List(now, leaderSince time.Time) []LockInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]LockInfo, 0, len(t.reqs))
	for _, id := range slices.Sorted(maps.Keys(t.reqs)) {
		r := t.reqs[id]
		due, _ := t.dueLocked(r, leaderSince)
		info := LockInfo{LockRequest: *r, Left: max(due.Sub(now), 0)}
		info.Names = slices.Clone(r.Names)
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b LockInfo) int {
		return boolInt(a.Token == 0) - boolInt(b.Token == 0)
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitGrace is how long past a waiter's WAIT the leader lapses it: its
// own node withdraws it at WAIT's end; the leader only clears waiters
// whose node is gone.
const waitGrace = time.Second

// dueLocked is when r's lease (held) or wait (waiting) ends, counted from
// when this node applied it or, if later, leaderSince: a new leader gives
// every lease its full length again.
func (t *LockTable) dueLocked(r *LockRequest, leaderSince time.Time) (time.Time, string) {
	start := t.since[r.ID]
	if start.Before(leaderSince) {
		start = leaderSince
	}
	if r.Token != 0 {
		if planted.On(planted.LeaseCutShort) {
			return start.Add(r.Lease / 2), opLockExpire
		}
		return start.Add(r.Lease), opLockExpire
	}
	return start.Add(r.Wait + waitGrace), opLockLapse
}

// due returns the operations whose time has come (each [op, id]) and
// when the next one will, for a leader since leaderSince.
func (t *LockTable) due(now, leaderSince time.Time) (ops [][2]string, next time.Time) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for id, r := range t.reqs {
		at, op := t.dueLocked(r, leaderSince)
		if !at.After(now) {
			ops = append(ops, [2]string{op, strconv.FormatUint(id, 10)})
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return ops, next
}

// Lock table encoding, in snapshots and the node's lock file; integers are
// uvarints:
//
//	index of the last lock entry, applied index the state is true at
//	count, then per request: ID, holder, mode byte (1 write, 0 read),
//	    wait ms, lease ms, token, name count, names (length, bytes)
//	count, then per variable ever granted: name, index of its last grant
func (t *LockTable) appendTo(b []byte, at uint64) []byte {
	b = binary.AppendUvarint(b, t.index)
	b = binary.AppendUvarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(t.reqs)))
	for _, id := range slices.Sorted(maps.Keys(t.reqs)) {
		r := t.reqs[id]
		b = binary.AppendUvarint(b, r.ID)
		b = appendLen(b, []byte(r.Holder))
		b = append(b, byte(boolInt(r.Write)))
		b = binary.AppendUvarint(b, uint64(r.Wait.Milliseconds()))
		b = binary.AppendUvarint(b, uint64(r.Lease.Milliseconds()))
		b = binary.AppendUvarint(b, r.Token)
		b = binary.AppendUvarint(b, uint64(len(r.Names)))
		for _, n := range r.Names {
			b = appendLen(b, []byte(n))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(t.names)))
	for _, n := range slices.Sorted(maps.Keys(t.names)) {
		b = appendLen(b, []byte(n))
		b = binary.AppendUvarint(b, t.names[n].last)
	}
	return b
}

func appendLen(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeLockTable reads what appendTo wrote; every request is dated now.
func decodeLockTable(d *decoder, now time.Time) *LockTable {
	t := newLockTable()
	t.index, t.at = d.uvarint(), d.uvarint()
	count := d.uvarint()
	for i := uint64(0); i < count && d.err == nil; i++ {
		r := &LockRequest{ID: d.uvarint(), Holder: string(d.bytes())}
		r.Write = d.byte() == 1
		r.Wait = time.Duration(d.uvarint()) * time.Millisecond
		r.Lease = time.Duration(d.uvarint()) * time.Millisecond
		r.Token = d.uvarint()
		nn := d.uvarint()
		for j := uint64(0); j < nn && d.err == nil; j++ {
			r.Names = append(r.Names, string(d.bytes()))
		}
		t.reqs[r.ID] = r
		t.since[r.ID] = now
		if r.Token == 0 {
			t.queue = append(t.queue, r.ID)
			continue
		}
		t.hold(r)
	}
	count = d.uvarint()
	for i := uint64(0); i < count && d.err == nil; i++ {
		t.name(string(d.bytes())).last = d.uvarint()
	}
	return t
}

const locksMagic = "DSMLOCKS1\n"

// LockFile is where a node keeps its lock table, beside its memory file:
// the table changes only at lock entries, so it is written then, whole,
// before the entry's applied index is committed to the file.
func LockFile(memPath string) string { return memPath + ".locks" }

// writeLockFile replaces the lock file with t, atomically (a rename).
// It needs no fsync: a process crash keeps the page cache, and after a
// host crash the node discards its memory file and this one with it.
func writeLockFile(path string, t *LockTable) error {
	t.mu.RLock()
	b := t.appendTo([]byte(locksMagic), t.at)
	t.mu.RUnlock()
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readLockFile reads a lock file; a missing one is an empty table.
func readLockFile(path string, now time.Time) (*LockTable, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newLockTable(), nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) < len(locksMagic)+4 || !bytes.HasPrefix(b, []byte(locksMagic)) ||
		crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: %s is damaged", ErrBadSnapshot, filepath.Base(path))
	}
	d := decoder{b: b[len(locksMagic) : len(b)-4]}
	t := decodeLockTable(&d, now)
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %s is malformed", ErrBadSnapshot, filepath.Base(path))
	}
	return t, nil
}

// Empty reports whether the table has never held a lock request: writes then
// need no check.
func (t *LockTable) Empty() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.names) == 0 && len(t.reqs) == 0
}

// lastIndex is the index of the last lock entry applied.
func (t *LockTable) lastIndex() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.index
}

// encode returns the table as a snapshot at applied holds it.
func (t *LockTable) encode(applied uint64) []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.appendTo(nil, applied)
}

// longest is the longest lease or wait of the requests in the table.
func (t *LockTable) longest() time.Duration {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var d time.Duration
	for _, r := range t.reqs {
		d = max(d, r.Lease, r.Wait)
	}
	return d
}
