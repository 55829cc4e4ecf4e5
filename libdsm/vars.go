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

// enterVar finds the variable handle numbered id for one call; the call
// must end with v.mem.exit.
func enterVar(id C.dsm_var_t) *variable {
	v := vars.get(uint64(id))
	if v == nil || !v.mem.hold() {
		return nil
	}
	return v
}

//export dsmgo_var
func dsmgo_var(id C.dsm_t, name unsafe.Pointer, nlen C.size_t, create C.int, out *C.dsm_var_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok || out == nil {
		return fail(errInvalid)
	}
	h, err := mem.m.Handle(append([]byte(nil), n...), create != 0)
	if err != nil {
		return fail(fmt.Errorf("var %q: %w", n, err))
	}
	vid, ok := vars.add(&variable{mem: mem, h: h})
	if !ok {
		return fail(errLimit)
	}
	*out = C.dsm_var_t(vid)
	return C.DSM_OK
}

//export dsmgo_var_free
func dsmgo_var_free(id C.dsm_var_t) C.int {
	if vars.remove(uint64(id)) == nil {
		return fail(errClosed)
	}
	return C.DSM_OK
}

//export dsmgo_var_get
func dsmgo_var_get(id C.dsm_var_t, buf unsafe.Pointer, bcap C.size_t, ln *C.size_t, ver *C.uint64_t) (rc C.int) {
	v := enterVar(id)
	if v == nil {
		return fail(errClosed)
	}
	defer v.mem.exit(&rc, debug.SetPanicOnFault(true))
	val, version, err := v.h.Get()
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", v.h.Name(), err))
	}
	if !fits(val.AppendText(buffer(buf, bcap)), bcap, ln) {
		return fail(fmt.Errorf("get %q: %w", v.h.Name(), errBuffer))
	}
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_var_get_int
func dsmgo_var_get_int(id C.dsm_var_t, val *C.int64_t, ver *C.uint64_t) (rc C.int) {
	v := enterVar(id)
	if v == nil {
		return fail(errClosed)
	}
	defer v.mem.exit(&rc, debug.SetPanicOnFault(true))
	x, version, err := v.h.Get()
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", v.h.Name(), err))
	}
	return intResult("get", v.h.Name(), x, version, val, ver)
}

//export dsmgo_var_set_int
func dsmgo_var_set_int(id C.dsm_var_t, value C.int64_t, ver *C.uint64_t) (rc C.int) {
	v := enterVar(id)
	if v == nil {
		return fail(errClosed)
	}
	defer v.mem.exit(&rc, debug.SetPanicOnFault(true))
	version, err := v.h.Set(shm.Int(int64(value)))
	if err != nil {
		return fail(fmt.Errorf("set %q: %w", v.h.Name(), err))
	}
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_var_add
func dsmgo_var_add(id C.dsm_var_t, delta C.int64_t, res *C.int64_t, ver *C.uint64_t) (rc C.int) {
	v := enterVar(id)
	if v == nil {
		return fail(errClosed)
	}
	defer v.mem.exit(&rc, debug.SetPanicOnFault(true))
	r, version, err := v.h.Add(int64(delta))
	if err != nil {
		return fail(fmt.Errorf("add %q: %w", v.h.Name(), err))
	}
	putInt(res, r)
	put64(ver, version)
	return C.DSM_OK
}
