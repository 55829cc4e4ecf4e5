package main

/*
#include "dsm.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/dsm-dev/dsm/shm"
)

// The Go side of the name cache of dsm.c. dsm_get and dsm_get_int keep, in
// C, a bounded map from (file, name) to a variable handle of that name;
// they call dsmgo_get and dsmgo_get_int with the handle they found (0: none)
// so that a get by name costs a C lookup and Go's handle get, in one call
// into Go. The handle is used only if it still refers to the name's
// variable on that file (its name is compared and its slot's incarnation
// checked); otherwise the get goes by name, and a fresh handle is
// resolved for the cache when it asks for one. A cache that held a wrong
// number thus costs time, never a wrong value.

// through returns the handle numbered vid if it is one of mem's, of name,
// and still current. Otherwise it frees vid (a stale handle of the cache)
// and, if next is not NULL, resolves a new handle of name for the cache
// and stores its number in *next (0 if name has no variable or the table
// is full); it returns that handle, or nil for the lookup by name. Called
// inside a call on mem (enter), since it reads the mapping.
func (mem *memory) through(vid C.dsm_var_t, name []byte, next *C.dsm_var_t) *shm.Handle {
	if vid != 0 {
		v := vars.get(uint64(vid))
		if v != nil && v.mem == mem && bytes.Equal(v.h.Name(), name) && v.h.Current() {
			return v.h
		}
		vars.remove(uint64(vid))
	}
	if next == nil {
		return nil
	}
	*next = 0
	h, err := mem.m.Handle(name, false)
	if err != nil {
		return nil // the lookup by name reports why
	}
	nid, ok := vars.add(&variable{mem: mem, h: h})
	if !ok {
		return nil
	}
	*next = C.dsm_var_t(nid)
	return h
}

//export dsmgo_get
func dsmgo_get(id C.dsm_t, vid C.dsm_var_t, next *C.dsm_var_t, name unsafe.Pointer, nlen C.size_t, buf unsafe.Pointer, bcap C.size_t, ln *C.size_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	var out []byte
	var version uint64
	var err error
	if h := mem.through(vid, n, next); h != nil {
		var val shm.Value
		val, version, err = h.Get()
		out = val.AppendText(buffer(buf, bcap))
	} else {
		out, version, err = mem.m.AppendText(buffer(buf, bcap), n)
	}
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", n, err))
	}
	if !fits(out, bcap, ln) {
		return fail(fmt.Errorf("get %q: %w: the value has %d bytes, the buffer %d", n, errBuffer, len(out), bcap))
	}
	put64(ver, version)
	return C.DSM_OK
}

//export dsmgo_get_int
func dsmgo_get_int(id C.dsm_t, vid C.dsm_var_t, next *C.dsm_var_t, name unsafe.Pointer, nlen C.size_t, val *C.int64_t, ver *C.uint64_t) (rc C.int) {
	mem := enter(id)
	if mem == nil {
		return fail(errClosed)
	}
	defer mem.exit(&rc, debug.SetPanicOnFault(true))
	n, ok := bytesOf(name, nlen)
	if !ok {
		return fail(errInvalid)
	}
	if h := mem.through(vid, n, next); h != nil {
		v, version, err := h.Get()
		if err != nil {
			return fail(fmt.Errorf("get %q: %w", n, err))
		}
		return intResult("get", n, v, version, val, ver)
	}
	v, version, err := mem.m.Get(n)
	if err != nil {
		return fail(fmt.Errorf("get %q: %w", n, err))
	}
	return intResult("get", n, v, version, val, ver)
}

// dsmgo_cache_drop frees a handle the cache let go of, quietly: it may
// have been freed already (through frees a stale one), and the get that
// drops it succeeded.
//
//export dsmgo_cache_drop
func dsmgo_cache_drop(vid C.dsm_var_t) {
	vars.remove(uint64(vid))
}
