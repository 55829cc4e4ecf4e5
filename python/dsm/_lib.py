"""The C functions of libdsm (libdsm/dsm.h), declared for ctypes."""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

# The library's path: DSM_LIBRARY if set (tests of a checkout), else the
# copy that `pip install` built into this package.
_HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY_ENV = "DSM_LIBRARY"


class Options(Structure):
    _fields_ = [
        ("vars", c_int64),
        ("name_max", c_int64),
        ("value_max", c_int64),
        ("procs", c_int64),
        ("lanes", c_int64),
        ("group_max", c_int64),
        ("mode", c_uint32),
        ("file_group", c_char_p),
        ("seed", c_uint64),
    ]


class Limits(Structure):
    _fields_ = [
        ("vars", c_int64),
        ("name_max", c_int64),
        ("value_max", c_int64),
        ("group_max", c_int64),
        ("procs", c_int64),
        ("lanes", c_int64),
        ("file_size", c_int64),
    ]


class Bytes(Structure):
    _fields_ = [("ptr", c_char_p), ("len", c_size_t)]


class Item(Structure):
    _fields_ = [
        ("buf", c_void_p),
        ("cap", c_size_t),
        ("len", c_size_t),
        ("version", c_uint64),
        ("found", c_int),
    ]


SCAN_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_uint64, c_void_p)

_P = POINTER
_NAME = (c_char_p, c_size_t)

# Each function's argument types; every one returns an int (the error code).
_PROTOTYPES = {
    "dsm_open": (c_char_p, _P(Options), _P(c_uint64)),
    "dsm_close": (c_uint64,),
    "dsm_get_limits": (c_uint64, _P(Limits)),
    "dsm_get": (c_uint64, *_NAME, c_void_p, c_size_t, _P(c_size_t), _P(c_uint64)),
    "dsm_get_int": (c_uint64, *_NAME, _P(c_int64), _P(c_uint64)),
    "dsm_set": (c_uint64, *_NAME, c_char_p, c_size_t, _P(c_uint64)),
    "dsm_set_int": (c_uint64, *_NAME, c_int64, _P(c_uint64)),
    "dsm_add": (c_uint64, *_NAME, c_int64, _P(c_int64), _P(c_uint64)),
    "dsm_cas": (c_uint64, *_NAME, c_char_p, c_size_t, c_char_p, c_size_t, _P(c_int), _P(c_uint64)),
    "dsm_cas_version": (c_uint64, *_NAME, c_uint64, c_char_p, c_size_t, _P(c_int), _P(c_uint64)),
    "dsm_delete": (c_uint64, *_NAME, _P(c_int)),
    "dsm_wait": (c_uint64, *_NAME, c_uint64, c_int64, _P(c_uint64)),
    "dsm_sync": (c_uint64, c_int64),
    "dsm_mget": (c_uint64, c_size_t, _P(Bytes), _P(Item)),
    "dsm_mset": (c_uint64, c_size_t, _P(Bytes), _P(Bytes)),
    "dsm_scan": (c_uint64, c_uint64, c_size_t, SCAN_FN, c_void_p, _P(c_uint64)),
    "dsm_lock": (c_uint64, c_size_t, _P(Bytes), c_int, c_int64, _P(c_uint64)),
    "dsm_lock_get": (c_uint64, *_NAME, c_void_p, c_size_t, _P(c_size_t), _P(c_uint64)),
    "dsm_lock_set": (c_uint64, *_NAME, c_char_p, c_size_t),
    "dsm_lock_add": (c_uint64, *_NAME, c_int64, _P(c_int64)),
    "dsm_lock_delete": (c_uint64, *_NAME, _P(c_int)),
    "dsm_unlock": (c_uint64,),
    "dsm_var": (c_uint64, *_NAME, c_int, _P(c_uint64)),
    "dsm_var_get": (c_uint64, c_void_p, c_size_t, _P(c_size_t), _P(c_uint64)),
    "dsm_var_set_int": (c_uint64, c_int64, _P(c_uint64)),
    "dsm_var_add": (c_uint64, c_int64, _P(c_int64), _P(c_uint64)),
    "dsm_var_free": (c_uint64,),
}

_lib: ctypes.CDLL | None = None
_lock = threading.Lock()


def path() -> str:
    """The path of the libdsm.so this package loads."""
    return os.environ.get(LIBRARY_ENV) or os.path.join(_HERE, "libdsm.so")


def load() -> ctypes.CDLL:
    """Loads libdsm once and declares its functions."""
    global _lib
    with _lock:
        if _lib is None:
            p = path()
            if not os.path.exists(p):
                raise ImportError(
                    f"libdsm not found at {p}: install the package with "
                    "`pip install --no-build-isolation ./python` (it builds the library with Go), "
                    f"or set {LIBRARY_ENV} to a libdsm.so built by libdsm/build"
                )
            lib = ctypes.CDLL(p)
            for name, args in _PROTOTYPES.items():
                fn = getattr(lib, name)
                fn.argtypes = args
                fn.restype = c_int
            lib.dsm_strerror.argtypes = (c_int,)
            lib.dsm_strerror.restype = c_char_p
            lib.dsm_errmsg.argtypes = (c_char_p, c_size_t)
            lib.dsm_errmsg.restype = c_size_t
            _lib = lib
        return _lib
