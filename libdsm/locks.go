package main

/*
#include "dsm.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/dsm-dev/dsm/shm"
)

// release unlocks the group's locks once; later calls do nothing.
func (gr *group) release() {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if gr.g != nil {
		gr.g.Unlock()
		gr.g = nil
	}
}

// enterGroup finds the lock group numbered id for one call and holds its
// mutex; the call must end with gr.exit.
func enterGroup(id C.dsm_lock_t) *group {
	gr := groups.get(uint64(id))
	if gr == nil || !gr.mem.hold() {
		return nil
	}
	gr.mu.Lock()
	if gr.g == nil {
		gr.mu.Unlock()
		gr.mem.users.Add(-1)
		return nil
	}
	return gr
}

func (gr *group) exit(rc *C.int, onFault bool) {
	gr.mu.Unlock()
	gr.mem.exit(rc, onFault)
}

//export dsmgo_lock
func dsmgo_lock(id C.dsm_t, n C.size_t, names *C.dsm_bytes, flags C.int, ms C.int64_t, out *C.dsm_lock_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	ns, ok := namesOf(n, names)
	if !ok || out == nil {
		return fail(errInvalid)
	}
	// Copies: the group keeps its names.
	for i, b := range ns {
		ns[i] = append([]byte(nil), b...)
	}
	write := flags&C.DSM_READ == 0
	ctx, cancel := timeoutCtx(mem.ctx, ms)
	defer cancel()
	g, err := mem.m.Lock(ctx, ns, write, write)
	if err != nil {
		return fail(waitError(fmt.Sprintf("lock %q", ns), nil, mem, err))
	}
	gr := &group{mem: mem, g: g}
	gid, ok := groups.add(gr)
	if !ok {
		g.Unlock()
		return fail(errLimit)
	}
	mem.mu.Lock()
	closing := mem.groups == nil // dsm_close has taken the list of groups to release
	if !closing {
		mem.groups[gid] = gr
	}
	mem.mu.Unlock()
	if closing {
		groups.remove(gid)
		gr.release()
		return fail(fmt.Errorf("lock %q: %w", ns, errClosed))
	}
	*out = C.dsm_lock_t(gid)
	return C.DSM_OK
}

//export dsmgo_unlock
func dsmgo_unlock(id C.dsm_lock_t) (rc C.int) {
	gr := groups.remove(uint64(id))
	if gr == nil {
		return fail(errClosed)
	}
	mem := gr.mem
	if !mem.hold() {
		return C.DSM_OK // dsm_close releases it
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	gr.release()
	mem.mu.Lock()
	delete(mem.groups, uint64(id))
	mem.mu.Unlock()
	return C.DSM_OK
}

//export dsmgo_lock_get
func dsmgo_lock_get(id C.dsm_lock_t, name unsafe.Pointer, nlen C.size_t, buf unsafe.Pointer, bcap C.size_t, ln *C.size_t, ver *C.uint64_t) (rc C.int) {
	gr := enterGroup(id)
	if gr == nil {
		return fail(errClosed)
	}
	defer gr.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	it, err := gr.found(n)
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", n, err))
	}
	if !fits(it.Value.AppendText(buffer(buf, bcap)), bcap, ln) {
		return fail(fmt.Errorf("get %q: %w", n, errBuffer))
	}
	put64(ver, it.Version)
	return C.DSM_OK
}

// found is name's item through the group, or ErrNotFound.
func (gr *group) found(name []byte) (shm.Item, error) {
	it, err := gr.g.Get(name)
	if err == nil && !it.Found {
		err = shm.ErrNotFound
	}
	return it, err
}

//export dsmgo_lock_get_int
func dsmgo_lock_get_int(id C.dsm_lock_t, name unsafe.Pointer, nlen C.size_t, val *C.int64_t, ver *C.uint64_t) (rc C.int) {
	gr := enterGroup(id)
	if gr == nil {
		return fail(errClosed)
	}
	defer gr.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	it, err := gr.found(n)
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", n, err))
	}
	return intResult("get", n, it.Value, it.Version, val, ver)
}

// commit makes the write staged for name visible, if err is nil.
func (gr *group) commit(op string, name []byte, err error) C.int {
	if err == nil {
		err = gr.g.Commit()
	}
	if err != nil {
		return fail(fmt.Errorf("%s %q: %w", op, name, err))
	}
	return C.DSM_OK
}

//export dsmgo_lock_set
func dsmgo_lock_set(id C.dsm_lock_t, name unsafe.Pointer, nlen C.size_t, value unsafe.Pointer, vlen C.size_t) (rc C.int) {
	gr := enterGroup(id)
	if gr == nil {
		return fail(errClosed)
	}
	defer gr.exit(&rc, debug.SetPanicOnFault(true))
	n, ok1 := bytesOf(name, nlen)
	v, ok2 := bytesOf(value, vlen)
	if !ok1 || !ok2 {
		return fail(errInvalid)
	}
	return gr.commit("set", n, gr.g.Set(n, shm.ParseValue(v)))
}

//export dsmgo_lock_add
func dsmgo_lock_add(id C.dsm_lock_t, name unsafe.Pointer, nlen C.size_t, delta C.int64_t, res *C.int64_t) (rc C.int) {
	gr := enterGroup(id)
	if gr == nil {
		return fail(errClosed)
	}
	defer gr.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	r, err := gr.g.Add(n, int64(delta))
	if rc := gr.commit("add", n, err); rc != C.DSM_OK {
		return rc
	}
	putInt(res, r)
	return C.DSM_OK
}

//export dsmgo_lock_delete
func dsmgo_lock_delete(id C.dsm_lock_t, name unsafe.Pointer, nlen C.size_t, deleted *C.int) (rc C.int) {
	gr := enterGroup(id)
	if gr == nil {
		return fail(errClosed)
	}
	defer gr.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	it, err := gr.g.Get(n)
	if err == nil && it.Found {
		err = gr.g.Delete(n)
	}
	if rc := gr.commit("delete", n, err); rc != C.DSM_OK {
		return rc
	}
	putBool(deleted, it.Found)
	return C.DSM_OK
}
