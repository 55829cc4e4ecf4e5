package main

/*
#include <stdlib.h>
#include "dsm.h"
int dsm__call_scan(dsm_scan_fn fn, void *name, size_t len, uint64_t version, void *arg);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dsm-dev/dsm/shm"
)

// memory is an open file and what the library keeps beside it.
type memory struct {
	m *shm.Memory
	// users counts calls in progress; closing is set once dsm_close began.
	// A call adds itself and then checks closing; dsm_close sets closing
	// and then waits for users to reach 0, so no call touches the mapping
	// after it is unmapped.
	users   atomic.Int64
	closing atomic.Bool
	// ctx ends at dsm_close, which ends waits and lock acquisitions.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex        // guards groups
	groups map[uint64]*group // lock groups held on this file; nil once closing
}

// variable is a dsm_var_t: a handle of a file.
type variable struct {
	mem *memory
	h   *shm.Handle
}

// group is a dsm_lock_t: locks held on a file.
type group struct {
	mem *memory
	mu  sync.Mutex // one call at a time; guards g
	g   *shm.LockGroup
}

// The handles C holds, by number.
var (
	memories table[memory]
	vars     table[variable]
	groups   table[group]
)

// enter finds the open file numbered id and counts a call on it; the call
// must end with exit. It returns nil for a number that is not open.
func enter(id C.dsm_t) *memory {
	mem := memories.get(uint64(id))
	if mem == nil || !mem.hold() {
		return nil
	}
	return mem
}

// hold counts a call on mem, or reports false if mem is closing.
func (mem *memory) hold() bool {
	mem.users.Add(1)
	if mem.closing.Load() {
		mem.users.Add(-1)
		return false
	}
	return true
}

// exit ends a call that enter began, deferred with the previous setting of
// debug.SetPanicOnFault: a memory fault in the mapping (a file truncated
// under it) becomes DSM_EFAULT in *rc rather than a crash of the caller's
// process. Any other panic is a bug and goes on.
func (mem *memory) exit(rc *C.int, onFault bool) {
	if r := recover(); r != nil {
		err := mem.m.FaultError(r)
		if err == nil {
			panic(r)
		}
		*rc = fail(err)
	}
	debug.SetPanicOnFault(onFault)
	mem.users.Add(-1)
}

// bytesOf is the C bytes at p as a slice, without a copy: valid only
// during the call. ok is false for a NULL pointer with a length.
func bytesOf(p unsafe.Pointer, n C.size_t) (b []byte, ok bool) {
	if n == 0 {
		return nil, true
	}
	if p == nil {
		return nil, false
	}
	return unsafe.Slice((*byte)(p), int(n)), true
}

// buffer is the caller's buffer as an empty slice of its capacity, to
// append to in place.
func buffer(p unsafe.Pointer, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))[:0]
}

// fits reports whether out, appended to buffer(p, n), stayed in the
// caller's buffer (append moved it to Go memory otherwise), and sets *ln.
func fits(out []byte, n C.size_t, ln *C.size_t) bool {
	if ln != nil {
		*ln = C.size_t(len(out))
	}
	return len(out) <= int(n)
}

func put64(p *C.uint64_t, v uint64) {
	if p != nil {
		*p = C.uint64_t(v)
	}
}

func putInt(p *C.int64_t, v int64) {
	if p != nil {
		*p = C.int64_t(v)
	}
}

func putBool(p *C.int, v bool) {
	if p != nil {
		*p = 0
		if v {
			*p = 1
		}
	}
}

// timeoutCtx is ctx bounded by a timeout in milliseconds (< 0: none).
func timeoutCtx(ctx context.Context, ms C.int64_t) (context.Context, context.CancelFunc) {
	if ms < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

//export dsmgo_open
func dsmgo_open(path *C.char, o *C.dsm_options, out *C.dsm_t) C.int {
	if path == nil || out == nil {
		return fail(fmt.Errorf("%w: dsm_open needs a path and an out pointer", errInvalid))
	}
	cfg := shm.Config{Path: C.GoString(path)}
	if o != nil {
		cfg.Vars, cfg.NameMax, cfg.ValueMax = int(o.vars), int(o.name_max), int(o.value_max)
		cfg.Procs, cfg.Lanes, cfg.GroupMax = int(o.procs), int(o.lanes), int(o.group_max)
		cfg.Mode, cfg.Seed = os.FileMode(o.mode&0o777), uint64(o.seed)
		if o.file_group != nil {
			cfg.FileGroup = C.GoString(o.file_group)
		}
	}
	m, err := shm.Open(cfg)
	if err != nil {
		setMessage(err)
		return openCode(err)
	}
	mem := &memory{m: m, groups: map[uint64]*group{}}
	mem.ctx, mem.cancel = context.WithCancel(context.Background())
	id, ok := memories.add(mem)
	if !ok {
		m.Close()
		return fail(errLimit)
	}
	*out = C.dsm_t(id)
	return C.DSM_OK
}

//export dsmgo_close
func dsmgo_close(id C.dsm_t) C.int {
	mem := memories.remove(uint64(id))
	if mem == nil {
		return fail(errClosed)
	}
	mem.closing.Store(true)
	mem.cancel()
	mem.mu.Lock()
	held := mem.groups
	mem.groups = nil
	mem.mu.Unlock()
	if err := mem.shut(held); err != nil {
		return fail(err)
	}
	return C.DSM_OK
}

// shut releases the groups held on mem, waits for the calls in progress
// and closes the file. A file truncated under the mapping faults here
// too; the fault becomes an error (the mapping then stays: the process
// should stop using the file).
func (mem *memory) shut(held map[uint64]*group) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if err = mem.m.FaultError(r); err == nil {
				panic(r)
			}
		}
	}()
	for gid, gr := range held {
		groups.remove(gid)
		gr.release()
	}
	for mem.users.Load() != 0 {
		time.Sleep(100 * time.Microsecond)
	}
	return mem.m.Close()
}

//export dsmgo_get_limits
func dsmgo_get_limits(id C.dsm_t, out *C.dsm_limits) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	if out == nil {
		return fail(errInvalid)
	}
	l := mem.m.Limits()
	out.vars, out.name_max, out.value_max = C.int64_t(l.Capacity), C.int64_t(l.NameMax), C.int64_t(l.ValueMax)
	out.group_max, out.procs, out.lanes = C.int64_t(l.GroupMax), C.int64_t(l.ProcSlots), C.int64_t(l.Lanes)
	out.file_size = C.int64_t(l.FileSize)
	return C.DSM_OK
}

// intResult stores v as an integer in *val, or fails with
// DSM_ENOTINTEGER.
func intResult(op string, name []byte, v shm.Value, version uint64, val *C.int64_t, ver *C.uint64_t) C.int {
	i, ok := v.Int()
	if !ok {
		return fail(fmt.Errorf("%s %q: %w", op, name, shm.ErrNotInteger))
	}
	putInt(val, i)
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_set
func dsmgo_set(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, value unsafe.Pointer, vlen C.size_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok1 := bytesOf(name, nlen)
	v, ok2 := bytesOf(value, vlen)
	if !ok1 || !ok2 {
		return fail(errInvalid)
	}
	version, err := mem.m.Set(n, shm.ParseValue(v))
	if err != nil {
		return fail(fmt.Errorf("set %q: %w", n, err))
	}
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_set_int
func dsmgo_set_int(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, value C.int64_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	version, err := mem.m.Set(n, shm.Int(int64(value)))
	if err != nil {
		return fail(fmt.Errorf("set %q: %w", n, err))
	}
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_add
func dsmgo_add(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, delta C.int64_t, res *C.int64_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	r, version, err := mem.m.Add(n, int64(delta))
	if err != nil {
		return fail(fmt.Errorf("add %q: %w", n, err))
	}
	putInt(res, r)
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_cas
func dsmgo_cas(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, old unsafe.Pointer, olen C.size_t, nw unsafe.Pointer, nwlen C.size_t, swapped *C.int, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok1 := bytesOf(name, nlen)
	o, ok2 := bytesOf(old, olen)
	v, ok3 := bytesOf(nw, nwlen)
	if !ok1 || !ok2 || !ok3 {
		return fail(errInvalid)
	}
	done, version, err := mem.m.CompareAndSwap(n, shm.ParseValue(o), shm.ParseValue(v))
	if err != nil {
		return fail(fmt.Errorf("cas %q: %w", n, err))
	}
	putBool(swapped, done)
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_cas_version
func dsmgo_cas_version(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, version C.uint64_t, nw unsafe.Pointer, nwlen C.size_t, swapped *C.int, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok1 := bytesOf(name, nlen)
	v, ok2 := bytesOf(nw, nwlen)
	if !ok1 || !ok2 {
		return fail(errInvalid)
	}
	done, after, err := mem.m.CompareVersionAndSwap(n, uint64(version), shm.ParseValue(v))
	if err != nil {
		return fail(fmt.Errorf("cas %q: %w", n, err))
	}
	putBool(swapped, done)
	put64(ver, after)
	return C.DSM_OK
}

//export dsmgo_delete
func dsmgo_delete(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, deleted *C.int) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	k, err := mem.m.Delete(n)
	if err != nil {
		return fail(fmt.Errorf("delete %q: %w", n, err))
	}
	putBool(deleted, k > 0)
	return C.DSM_OK
}

//export dsmgo_wait
func dsmgo_wait(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, after C.uint64_t, ms C.int64_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	ctx, cancel := timeoutCtx(mem.ctx, ms)
	defer cancel()
	v, err := mem.m.Wait(ctx, n, uint64(after))
	if err != nil {
		return fail(waitError("wait", n, mem, err))
	}
	put64(ver, v)
	return C.DSM_OK
}

//export dsmgo_sync
func dsmgo_sync(id C.dsm_t, ms C.int64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	ctx, cancel := timeoutCtx(mem.ctx, ms)
	defer cancel()
	if err := mem.m.SyncReads(ctx); err != nil {
		return fail(waitError("sync", nil, mem, err))
	}
	return C.DSM_OK
}

// waitError names why a wait for name ended: its timeout, or dsm_close.
func waitError(op string, name []byte, mem *memory, err error) error {
	if name != nil {
		op = fmt.Sprintf("%s %q", op, name)
	}
	switch {
	case mem.ctx.Err() != nil:
		return fmt.Errorf("%s: %w", op, errClosed)
	case errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, shm.ErrNoLane):
		return fmt.Errorf("%s: %w (%v)", op, errTimeout, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// namesOf copies n C names into Go slices that point at the C bytes.
func namesOf(n C.size_t, p *C.dsm_bytes) ([][]byte, bool) {
	if n > 0 && p == nil {
		return nil, false
	}
	cs := unsafe.Slice(p, int(n))
	out := make([][]byte, len(cs))
	for i, c := range cs {
		b, ok := bytesOf(c.ptr, c.len)
		if !ok {
			return nil, false
		}
		out[i] = b
	}
	return out, true
}

//export dsmgo_mget
func dsmgo_mget(id C.dsm_t, n C.size_t, names *C.dsm_bytes, items *C.dsm_item) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	ns, ok := namesOf(n, names)
	if !ok || (n > 0 && items == nil) {
		return fail(errInvalid)
	}
	got, err := mem.m.MGet(ns)
	if err != nil {
		return fail(fmt.Errorf("mget: %w", err))
	}
	short := false
	dst := unsafe.Slice(items, int(n))
	for i := range dst {
		out := got[i].Value.AppendText(buffer(dst[i].buf, dst[i].cap))
		if !fits(out, dst[i].cap, &dst[i].len) {
			short = true
		}
		putBool(&dst[i].found, got[i].Found)
		put64(&dst[i].version, got[i].Version)
	}
	if short {
		return fail(fmt.Errorf("mget: %w", errBuffer))
	}
	return C.DSM_OK
}

//export dsmgo_mset
func dsmgo_mset(id C.dsm_t, n C.size_t, names *C.dsm_bytes, values *C.dsm_bytes) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	ns, ok1 := namesOf(n, names)
	vs, ok2 := namesOf(n, values)
	if !ok1 || !ok2 {
		return fail(errInvalid)
	}
	vals := make([]shm.Value, len(vs))
	for i, v := range vs {
		vals[i] = shm.ParseValue(v)
	}
	if err := mem.m.MSet(ns, vals); err != nil {
		return fail(fmt.Errorf("mset: %w", err))
	}
	return C.DSM_OK
}

// scanned is one variable a scan found.
type scanned struct {
	name    []byte
	version uint64
}

//export dsmgo_scan
func dsmgo_scan(id C.dsm_t, cursor C.uint64_t, count C.size_t, fn C.dsm_scan_fn, arg unsafe.Pointer, next *C.uint64_t) C.int {
	if fn == nil {
		return fail(errInvalid)
	}
	found, after, rc := scanBatch(id, uint64(cursor), int(count))
	if rc != C.DSM_OK {
		return rc
	}
	// The callbacks run after the call on the file ended, so that they may
	// call the library, dsm_close included. Names reach them in C memory.
	buf := C.malloc(C.size_t(max(1, maxLen(found))))
	defer C.free(buf)
	for _, s := range found {
		copy(unsafe.Slice((*byte)(buf), len(s.name)), s.name)
		if C.dsm__call_scan(fn, buf, C.size_t(len(s.name)), C.uint64_t(s.version), arg) != 0 {
			break
		}
	}
	put64(next, after)
	return C.DSM_OK
}

// scanBatch lists at most count variables (0: all) from cursor on.
func scanBatch(id C.dsm_t, cursor uint64, count int) (found []scanned, next uint64, rc C.int) {
	mem := enter(id)
	if mem == nil {
		return nil, 0, fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	next, err := mem.m.Scan(cursor, func(name []byte, version uint64) bool {
		found = append(found, scanned{name: name, version: version})
		return count == 0 || len(found) < count
	})
	if err != nil {
		return nil, 0, fail(fmt.Errorf("scan: %w", err))
	}
	return found, next, C.DSM_OK
}

func maxLen(found []scanned) int {
	n := 0
	for _, s := range found {
		n = max(n, len(s.name))
	}
	return n
}

func main() {}
