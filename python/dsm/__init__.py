"""dsm's memory file from Python, at memory speed.

The package maps the file that dsmd serves (or any dsm memory file) into
this process through libdsm, the Go package shm built as a C library, and
calls it with ctypes: the same writer-priority locks inside the mapping, the
same crash safety and the same results as a Go program or the ``dsm -file``
command, with no daemon in the way. Remote clients of dsmd and other local
processes, in any language, see every write at once::

    import dsm

    with dsm.Memory("dsm.mem") as m:
        m.set("greeting", "hello")
        n = m.add("counter", 1)            # the new value
        value = m.get("counter")           # an int; bytes for a byte string
        with m.lock("a", "b") as held:     # both, all or nothing, any process
            held.add("a", 1)
            held.add("b", -1)

Values are ints (signed 64-bit) or bytes. A ``str`` is stored as its UTF-8
bytes, and, as in Redis and dsm, text that is the canonical decimal form of
an int64 is stored (and read back) as an int. Names are ``str`` (UTF-8) or
``bytes``; names that come back (``keys``, ``items``) are ``str``, with
bytes that are not UTF-8 kept as surrogate escapes.

Processes, threads and fork: every method may be called from several
threads (each call releases the GIL while it runs). The library carries a Go
runtime, which does not survive ``fork()`` without ``exec``: a child forked
from a process that loaded it gets :class:`ForkedError` from every call.
``multiprocessing`` users must use the ``spawn`` start method
(``multiprocessing.get_context("spawn")``, or
``multiprocessing.set_start_method("spawn")`` at start): ``fork`` is its
default on Linux before Python 3.14.

On a cluster node's file (a replicated file) reads come from the mapping and
writes go through the node's daemon, as for Go programs; with the daemon down
writes raise :class:`NoDaemonError`.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from ctypes import byref, c_int, c_int64, c_size_t, c_uint64
from typing import Iterable, Iterator, Mapping, Optional, Tuple, Union

from . import _lib

__all__ = [
    "Memory",
    "Locked",
    "Variable",
    "DsmError",
    "NotFoundError",
    "NotIntegerError",
    "DsmOverflowError",
    "FullError",
    "NameTooLongError",
    "EmptyNameError",
    "ValueTooLargeError",
    "TooManyError",
    "ClosedError",
    "DsmTimeoutError",
    "NoLaneError",
    "NotHeldError",
    "ReplicatedError",
    "NoDaemonError",
    "DaemonError",
    "FileError",
    "DamagedError",
    "FaultError",
    "InvalidArgumentError",
    "ForkedError",
    "LimitError",
]

Name = Union[str, bytes]
Value = Union[int, bytes]
#: What may be stored: an int, bytes, or a str (stored as UTF-8).
Storable = Union[int, bytes, str]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class DsmError(Exception):
    """An error of dsm: ``code`` is the error code of dsm.h, the message says
    what failed (the variable's name, the file's limit, the path)."""

    code: int = 23

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFoundError(DsmError, KeyError):
    """No such variable."""

    code = 1


class NotIntegerError(DsmError, ValueError):
    """The value is not an integer."""

    code = 2


class DsmOverflowError(DsmError, OverflowError):
    """An add would overflow a signed 64-bit integer; the value is unchanged."""

    code = 3


class FullError(DsmError):
    """The file has no room for another variable."""

    code = 4


class NameTooLongError(DsmError, ValueError):
    """The name is longer than the file allows."""

    code = 5


class EmptyNameError(DsmError, ValueError):
    """The name is empty."""

    code = 6


class ValueTooLargeError(DsmError, ValueError):
    """The value is longer than the file allows."""

    code = 7


class TooManyError(DsmError, ValueError):
    """More variables than one atomic group may hold."""

    code = 8


class ClosedError(DsmError):
    """The memory, lock group or variable handle is closed."""

    code = 9


class DsmTimeoutError(DsmError, TimeoutError):
    """A wait or a lock acquisition timed out."""

    code = 10


class NoLaneError(DsmError):
    """Every lock lane of this process is held by other lock groups."""

    code = 11


class NotHeldError(DsmError):
    """The lock group does not hold that variable (or holds it for reading)."""

    code = 12


class ReplicatedError(DsmError):
    """Write locks on a cluster node's file are its daemon's alone."""

    code = 13


class NoDaemonError(DsmError, ConnectionError):
    """A write to a cluster node's file found the node's daemon down."""

    code = 14


class DaemonError(DsmError):
    """The node's daemon refused the write (no leader, an unknown outcome)."""

    code = 15


class FileError(DsmError):
    """The memory file cannot be opened (path, permissions, not a dsm file,
    a newer format, a damaged header)."""

    code = 16


class DamagedError(DsmError):
    """The variable's slot in the file is damaged."""

    code = 17


class FaultError(DsmError):
    """The file under the mapping was truncated or replaced."""

    code = 18


class InvalidArgumentError(DsmError, ValueError):
    """An invalid argument or option."""

    code = 20


class ForkedError(DsmError):
    """Called in a child forked (without exec) from a process that had loaded
    libdsm: use the ``spawn`` start method of multiprocessing."""

    code = 21


class LimitError(DsmError):
    """Too many memories, lock groups or variable handles open in this process."""

    code = 22


_ERRORS = {
    cls.code: cls
    for cls in (
        NotFoundError,
        NotIntegerError,
        DsmOverflowError,
        FullError,
        NameTooLongError,
        EmptyNameError,
        ValueTooLargeError,
        TooManyError,
        ClosedError,
        DsmTimeoutError,
        NoLaneError,
        NotHeldError,
        ReplicatedError,
        NoDaemonError,
        DaemonError,
        FileError,
        DamagedError,
        FaultError,
        InvalidArgumentError,
        ForkedError,
        LimitError,
    )
}

_EBUFFER = 19


def _error(lib: ctypes.CDLL, rc: int) -> DsmError:
    """The exception for error code rc, with this thread's message."""
    buf = ctypes.create_string_buffer(1024)
    lib.dsm_errmsg(buf, len(buf))
    msg = buf.value.decode("utf-8", "replace") or lib.dsm_strerror(rc).decode()
    return _ERRORS.get(rc, DsmError)(msg, rc)


def _name(name: Name) -> bytes:
    if isinstance(name, str):
        return name.encode("utf-8", "surrogateescape")
    if isinstance(name, (bytes, bytearray, memoryview)):
        return bytes(name)
    raise TypeError(f"a dsm name is str or bytes, not {type(name).__name__}")


def _text(value: Storable) -> bytes:
    """The bytes that store value (an int as its decimal text)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        _check_int(value)
        return str(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"a dsm value is int, bytes or str, not {type(value).__name__}")


def _check_int(value: int) -> None:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise DsmOverflowError(f"{value} does not fit in a signed 64-bit integer")


def _value(raw: bytes) -> Value:
    """A value's text as Python: an int for the canonical decimal form of an
    int64 (Redis' rule, which dsm applies on every write), else bytes."""
    if raw and len(raw) <= 20 and (raw[0] == 45 or 48 <= raw[0] <= 57):
        try:
            n = int(raw)
        except ValueError:
            return raw
        if _INT64_MIN <= n <= _INT64_MAX and str(n).encode() == raw:
            return n
    return raw


def _show(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")


class _Buffers(threading.local):
    """Each thread's buffer for values, sized to the file's longest value."""

    buf: Optional[ctypes.Array] = None


class Memory:
    """An open dsm memory file.

    ``Memory(path)`` opens the file, creating it with the given capacities
    if it does not exist (an existing file keeps its own: see ``limits``).
    Close it with :meth:`close`, or use it as a context manager. A Memory may
    be used by several threads at once.
    """

    def __init__(
        self,
        path: Union[str, bytes, os.PathLike],
        *,
        vars: int = 0,
        name_max: int = 0,
        value_max: int = 0,
        procs: int = 0,
        lanes: int = 0,
        group_max: int = 0,
        mode: int = 0,
        file_group: Optional[str] = None,
        seed: int = 0,
    ) -> None:
        self._lib = lib = _lib.load()
        self._h = 0
        opts = _lib.Options(
            vars, name_max, value_max, procs, lanes, group_max, mode,
            file_group.encode() if file_group else None, seed,
        )
        h = c_uint64()
        rc = lib.dsm_open(os.fsencode(path), byref(opts), byref(h))
        if rc:
            raise _error(lib, rc)
        self._h = h.value
        self.path = os.fsdecode(path)
        lim = _lib.Limits()
        self._call(lib.dsm_get_limits, self._h, byref(lim))
        self._limits = {f: getattr(lim, f) for f, _ in _lib.Limits._fields_}
        # An integer's text is at most 20 bytes.
        self._bufsize = max(int(lim.value_max), 20)
        self._buffers = _Buffers()

    def _call(self, fn, *args) -> None:
        rc = fn(*args)
        if rc:
            raise _error(self._lib, rc)

    def _buf(self) -> ctypes.Array:
        b = self._buffers.buf
        if b is None:
            b = self._buffers.buf = ctypes.create_string_buffer(self._bufsize)
        return b

    # ---- life ----

    def close(self) -> None:
        """Closes the file: releases this Memory's lock groups, ends its waits
        in other threads (with :class:`ClosedError`) and unmaps the file.
        Closing twice does nothing."""
        h, self._h = self._h, 0
        if h:
            self._call(self._lib.dsm_close, h)

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def limits(self) -> dict:
        """The file's capacities: vars, name_max, value_max, group_max,
        procs, lanes and file_size."""
        return dict(self._limits)

    # ---- one variable ----

    def item(self, name: Name) -> Tuple[Value, int]:
        """Returns name's value and version; raises NotFoundError."""
        n = _name(name)
        buf = self._buf()
        ln, ver = c_size_t(), c_uint64()
        rc = self._lib.dsm_get(self._h, n, len(n), buf, len(buf), byref(ln), byref(ver))
        if rc:
            raise _error(self._lib, rc)
        return _value(buf.raw[: ln.value]), ver.value

    def get(self, name: Name, default: Optional[Value] = None) -> Optional[Value]:
        """Returns name's value (int or bytes), or default if it has none."""
        try:
            return self.item(name)[0]
        except NotFoundError:
            return default

    def __getitem__(self, name: Name) -> Value:
        return self.item(name)[0]

    def __setitem__(self, name: Name, value: Storable) -> None:
        self.set(name, value)

    def __delitem__(self, name: Name) -> None:
        if not self.delete(name):
            raise NotFoundError(f"no such variable: {name!r}")

    def __contains__(self, name: Name) -> bool:
        return self.get(name) is not None

    def version(self, name: Name) -> int:
        """Returns name's version (it rises on every change); raises
        NotFoundError."""
        return self.item(name)[1]

    def set(self, name: Name, value: Storable) -> int:
        """Stores value, creating the variable if needed; returns the new
        version."""
        n = _name(name)
        ver = c_uint64()
        if isinstance(value, int) and not isinstance(value, bool):
            _check_int(value)
            rc = self._lib.dsm_set_int(self._h, n, len(n), value, byref(ver))
        else:
            v = _text(value)
            rc = self._lib.dsm_set(self._h, n, len(n), v, len(v), byref(ver))
        if rc:
            raise _error(self._lib, rc)
        return ver.value

    def add(self, name: Name, delta: int = 1) -> int:
        """Adds delta to name's integer (a missing variable counts as 0) and
        returns the new value."""
        n = _name(name)
        _check_int(delta)
        r = c_int64()
        rc = self._lib.dsm_add(self._h, n, len(n), delta, byref(r), None)
        if rc:
            raise _error(self._lib, rc)
        return r.value

    def cas(self, name: Name, old: Storable, new: Storable) -> bool:
        """Stores new if name's value is old (compared as text, so 5 equals
        b"5"); returns whether it did. Raises NotFoundError if name has no
        value."""
        n, o, v = _name(name), _text(old), _text(new)
        swapped = c_int()
        self._call(self._lib.dsm_cas, self._h, n, len(n), o, len(o), v, len(v), byref(swapped), None)
        return bool(swapped.value)

    def cas_version(self, name: Name, version: int, new: Storable) -> bool:
        """Stores new if name's version is version; returns whether it did."""
        n, v = _name(name), _text(new)
        swapped = c_int()
        self._call(self._lib.dsm_cas_version, self._h, n, len(n), version, v, len(v), byref(swapped), None)
        return bool(swapped.value)

    def delete(self, name: Name) -> bool:
        """Removes name; returns whether it had a value."""
        n = _name(name)
        deleted = c_int()
        self._call(self._lib.dsm_delete, self._h, n, len(n), byref(deleted))
        return bool(deleted.value)

    def wait(self, name: Name, after: Optional[int] = None, timeout: Optional[float] = None) -> int:
        """Blocks until name's version is greater than after (default: its
        version now) and returns the new version. A change by any process,
        local or remote, wakes it. Raises DsmTimeoutError after timeout
        seconds (None: no limit), NotFoundError if the variable does not
        exist or is deleted. Ctrl-C interrupts it."""
        n = _name(name)
        if after is None:
            after = self.version(name)
        deadline = None if timeout is None else time.monotonic() + timeout
        ver = c_uint64()
        while True:
            # Slices of at most 200 ms, so that signal handlers run between them.
            ms = 200
            if deadline is not None:
                ms = max(0, min(ms, int((deadline - time.monotonic()) * 1000)))
            rc = self._lib.dsm_wait(self._h, n, len(n), after, ms, byref(ver))
            if rc == 0:
                return ver.value
            if rc != DsmTimeoutError.code or (deadline is not None and time.monotonic() >= deadline):
                raise _error(self._lib, rc)

    def sync(self, timeout: Optional[float] = 10.0) -> None:
        """Makes the reads that follow linearizable on a cluster node's file
        (they may lag the leader otherwise): returns once this mapping holds
        every write acknowledged anywhere in the cluster before the call.
        Does nothing on a file that is not replicated."""
        ms = -1 if timeout is None else int(timeout * 1000)
        self._call(self._lib.dsm_sync, self._h, ms)

    # ---- several variables ----

    def mget(self, names: Iterable[Name]) -> list:
        """Reads the names as one snapshot; returns their values in order,
        None for a name without a value."""
        ns = [_name(x) for x in names]
        if not ns:
            return []
        cnames = (_lib.Bytes * len(ns))(*[(x, len(x)) for x in ns])
        bufs = [ctypes.create_string_buffer(self._bufsize) for _ in ns]
        items = (_lib.Item * len(ns))(
            *[(ctypes.cast(b, ctypes.c_void_p), len(b), 0, 0, 0) for b in bufs]
        )
        self._call(self._lib.dsm_mget, self._h, len(ns), cnames, items)
        return [_value(b.raw[: it.len]) if it.found else None for b, it in zip(bufs, items)]

    def mset(self, values: Union[Mapping[Name, Storable], Iterable[Tuple[Name, Storable]]]) -> None:
        """Stores every pair, all or nothing (also across a crash)."""
        pairs = list(values.items() if isinstance(values, Mapping) else values)
        if not pairs:
            return
        ns = [_name(k) for k, _ in pairs]
        vs = [_text(v) for _, v in pairs]
        cn = (_lib.Bytes * len(ns))(*[(x, len(x)) for x in ns])
        cv = (_lib.Bytes * len(vs))(*[(x, len(x)) for x in vs])
        self._call(self._lib.dsm_mset, self._h, len(ns), cn, cv)

    def update(self, values: Union[Mapping[Name, Storable], Iterable[Tuple[Name, Storable]]]) -> None:
        """The same as :meth:`mset`."""
        self.mset(values)

    def keys(self, batch: int = 256) -> Iterator[str]:
        """Yields the name of every variable that has a value. As Redis'
        SCAN: a variable that exists for the whole iteration comes once;
        one created or deleted meanwhile may or may not."""
        cursor = 0
        while True:
            found: list = []

            def one(name, length, version, arg):
                found.append(ctypes.string_at(name, length))
                return 0

            nxt = c_uint64()
            self._call(self._lib.dsm_scan, self._h, cursor, batch, _lib.SCAN_FN(one), None, byref(nxt))
            for n in found:
                yield _show(n)
            cursor = nxt.value
            if cursor == 0:
                return

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def items(self) -> Iterator[Tuple[str, Value]]:
        """Yields (name, value) for every variable that has a value (see
        :meth:`keys`); each value is read when its name comes."""
        for n in self.keys():
            v = self.get(n)
            if v is not None:
                yield n, v

    # ---- locks and handles ----

    def lock(self, *names: Name, read: bool = False, timeout: Optional[float] = 10.0) -> "Locked":
        """Takes the locks of the names at once, as one group: write locks
        (missing variables are created so that they can be locked), or
        shared read locks with read=True. Waits up to timeout seconds (None:
        no limit; 0: one try), then raises DsmTimeoutError. Use the result as
        a context manager; until it is released, every other reader and
        writer of these variables, in any process, waits. A process that
        dies holding it releases it within 1 s."""
        ns = [_name(x) for x in names]
        cn = (_lib.Bytes * len(ns))(*[(x, len(x)) for x in ns])
        ms = -1 if timeout is None else int(timeout * 1000)
        g = c_uint64()
        self._call(self._lib.dsm_lock, self._h, len(ns), cn, 1 if read else 0, ms, byref(g))
        return Locked(self, g.value)

    def variable(self, name: Name, create: bool = True) -> "Variable":
        """Resolves name once, for hot paths (see :class:`Variable`)."""
        n = _name(name)
        v = c_uint64()
        self._call(self._lib.dsm_var, self._h, n, len(n), 1 if create else 0, byref(v))
        return Variable(self, v.value, _show(n))


class Locked:
    """Locks held on several variables (:meth:`Memory.lock`). Its writes take
    effect at once. Release it with :meth:`release` or by leaving the
    ``with`` block. One thread uses it at a time."""

    def __init__(self, memory: Memory, handle: int) -> None:
        self._m, self._lib, self._g = memory, memory._lib, handle

    def _call(self, fn, *args) -> None:
        rc = fn(*args)
        if rc:
            raise _error(self._lib, rc)

    def get(self, name: Name, default: Optional[Value] = None) -> Optional[Value]:
        """name's value as the group sees it, or default."""
        n = _name(name)
        buf = self._m._buf()
        ln = c_size_t()
        rc = self._lib.dsm_lock_get(self._g, n, len(n), buf, len(buf), byref(ln), None)
        if rc == NotFoundError.code:
            return default
        if rc:
            raise _error(self._lib, rc)
        return _value(buf.raw[: ln.value])

    def set(self, name: Name, value: Storable) -> None:
        """Stores value into a variable the group holds for writing."""
        n, v = _name(name), _text(value)
        self._call(self._lib.dsm_lock_set, self._g, n, len(n), v, len(v))

    def add(self, name: Name, delta: int = 1) -> int:
        """Adds delta to a variable the group holds; returns the new value."""
        n = _name(name)
        _check_int(delta)
        r = c_int64()
        self._call(self._lib.dsm_lock_add, self._g, n, len(n), delta, byref(r))
        return r.value

    def delete(self, name: Name) -> bool:
        """Removes a variable the group holds; returns whether it had a value."""
        n = _name(name)
        d = c_int()
        self._call(self._lib.dsm_lock_delete, self._g, n, len(n), byref(d))
        return bool(d.value)

    def release(self) -> None:
        """Releases the locks. Releasing twice does nothing."""
        g, self._g = self._g, 0
        if g:
            rc = self._lib.dsm_unlock(g)
            if rc and rc != ClosedError.code:  # closed: the Memory released it
                raise _error(self._lib, rc)

    def __enter__(self) -> "Locked":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Variable:
    """A variable resolved once (:meth:`Memory.variable`): its operations
    skip the name lookup. If the variable is deleted, the next call finds
    the name again. Free it with :meth:`free`, or use it as a context
    manager."""

    def __init__(self, memory: Memory, handle: int, name: str) -> None:
        self._m, self._lib, self._v, self.name = memory, memory._lib, handle, name

    def _call(self, fn, *args) -> None:
        rc = fn(*args)
        if rc:
            raise _error(self._lib, rc)

    def get(self, default: Optional[Value] = None) -> Optional[Value]:
        """The value, or default if the variable has none."""
        buf = self._m._buf()
        ln = c_size_t()
        rc = self._lib.dsm_var_get(self._v, buf, len(buf), byref(ln), None)
        if rc == NotFoundError.code:
            return default
        if rc:
            raise _error(self._lib, rc)
        return _value(buf.raw[: ln.value])

    def set(self, value: int) -> int:
        """Stores an integer; returns the new version."""
        _check_int(value)
        ver = c_uint64()
        self._call(self._lib.dsm_var_set_int, self._v, value, byref(ver))
        return ver.value

    def add(self, delta: int = 1) -> int:
        """Adds delta; returns the new value."""
        _check_int(delta)
        r = c_int64()
        self._call(self._lib.dsm_var_add, self._v, delta, byref(r), None)
        return r.value

    def free(self) -> None:
        """Frees the handle. Freeing twice does nothing."""
        v, self._v = self._v, 0
        if v:
            self._lib.dsm_var_free(v)

    def __enter__(self) -> "Variable":
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()
