"""Tests of the dsm package: every method, the errors, threads, other
processes (spawned), a forked child and a process killed holding a lock."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import dsm


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "t.mem")


@pytest.fixture
def m(path):
    with dsm.Memory(path, vars=256, name_max=32, value_max=64) as mem:
        yield mem


def test_values(m):
    assert m.set("n", 41) > 0
    assert m.get("n") == 41
    assert m.add("n") == 42
    assert m.add("n", -2) == 40
    value, version = m.item("n")
    assert value == 40 and version == m.version("n")
    m.set("s", "héllo")
    assert m.get("s") == "héllo".encode()
    m.set("b", b"\x00\xff")
    assert m.get("b") == b"\x00\xff"
    # Redis' rule: the canonical decimal form of an int64 is an integer.
    m.set("t", b"42")
    assert m.get("t") == 42
    for text in (b"042", b"+1", b" 1", b"-0", b"1_0", b"99999999999999999999"):
        m.set("t", text)
        assert m.get("t") == text
    m.set("neg", -(1 << 63))
    assert m.get("neg") == -(1 << 63)
    assert m.get("missing") is None
    assert m.get("missing", 7) == 7
    assert "n" in m and "missing" not in m
    m["k"] = 3
    assert m["k"] == 3
    del m["k"]
    with pytest.raises(KeyError):
        m["k"]


def test_cas_delete(m):
    m.set("c", 5)
    assert not m.cas("c", 4, 6)
    assert m.cas("c", b"5", 6)  # compared as text
    v = m.version("c")
    assert not m.cas_version("c", v - 1, 7)
    assert m.cas_version("c", v, 7)
    assert m.get("c") == 7
    with pytest.raises(dsm.NotFoundError):
        m.cas("nothing", 1, 2)
    assert m.delete("c")
    assert not m.delete("c")
    assert m.get("c") is None


def test_errors(m):
    m.set("s", b"text")
    with pytest.raises(dsm.NotIntegerError, match="s"):
        m.add("s")
    m.set("big", (1 << 63) - 1)
    with pytest.raises(dsm.DsmOverflowError):
        m.add("big")
    assert m.get("big") == (1 << 63) - 1
    with pytest.raises(dsm.DsmOverflowError):
        m.set("x", 1 << 63)
    with pytest.raises(dsm.NameTooLongError):
        m.set("x" * 33, 1)
    with pytest.raises(dsm.EmptyNameError):
        m.set("", 1)
    with pytest.raises(dsm.ValueTooLargeError, match="value too large"):
        m.set("v", b"v" * 65)
    with pytest.raises(dsm.NotFoundError) as e:
        m.item("nope")
    assert isinstance(e.value, KeyError) and isinstance(e.value, dsm.DsmError)
    assert "nope" in str(e.value) and e.value.code == 1
    with pytest.raises(TypeError):
        m.set("x", 1.5)
    with pytest.raises(TypeError):
        m.get(3)


def test_open_errors(tmp_path):
    with pytest.raises(dsm.FileError, match="no/such"):
        dsm.Memory(str(tmp_path / "no/such/dir.mem"))
    bad = tmp_path / "bad"
    bad.write_bytes(b"x" * 20000)
    with pytest.raises(dsm.FileError, match="not a dsm memory file"):
        dsm.Memory(str(bad))
    with pytest.raises(dsm.InvalidArgumentError):
        dsm.Memory(str(tmp_path / "neg.mem"), vars=-1)


def test_closed(path):
    m = dsm.Memory(path)
    m.set("a", 1)
    m.close()
    m.close()
    with pytest.raises(dsm.ClosedError):
        m.get("a")
    with dsm.Memory(path) as again:
        assert again.get("a") == 1


def test_groups(m):
    m.mset({"a": 1, "b": b"two", "c": "3"})
    assert m.mget(["a", "b", "c", "d"]) == [1, b"two", 3, None]
    m.mset([("a", 10), ("b", 20)])
    assert m.mget(["a", "b"]) == [10, 20]
    with pytest.raises(dsm.ValueTooLargeError):
        m.mset({"a": 99, "b": b"x" * 100})
    assert m.mget(["a", "b"]) == [10, 20]  # all or nothing
    assert m.mget([]) == []


def test_keys_items(m):
    want = {f"k{i}": i for i in range(100)}
    m.mset(want)
    m.set("s", b"bytes")
    want["s"] = b"bytes"
    assert sorted(m.keys(batch=7)) == sorted(want)
    assert dict(m.items()) == want
    assert sorted(m) == sorted(want)


def test_wait(m):
    v = m.set("w", 1)
    with pytest.raises(dsm.DsmTimeoutError):
        m.wait("w", timeout=0.05)
    assert m.wait("w", after=v - 1, timeout=0) == v
    with pytest.raises(dsm.NotFoundError):
        m.wait("never", after=0, timeout=0)
    got = []
    t = threading.Thread(target=lambda: got.append(m.wait("w", timeout=10)))
    t.start()
    time.sleep(0.1)
    v2 = m.set("w", 2)
    t.join()
    assert got == [v2]


def test_wait_ended_by_close(path):
    m = dsm.Memory(path)
    m.set("w", 1)
    errors = []

    def waiter():
        try:
            m.wait("w")
        except dsm.DsmError as e:
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    m.close()
    t.join(5)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], dsm.ClosedError)


def test_lock(m):
    with m.lock("a", "b") as held:
        assert held.add("a", 5) == 5
        held.set("b", "x")
        assert held.get("b") == b"x"
        with pytest.raises(dsm.NotHeldError):
            held.add("other")
        # Another group waits for these variables, and times out.
        with pytest.raises(dsm.DsmTimeoutError):
            m.lock("a", timeout=0.1)
        assert held.delete("b")
    assert m.mget(["a", "b"]) == [5, None]
    with m.lock("a", read=True) as r1, m.lock("a", read=True) as r2:
        assert r1.get("a") == 5 and r2.get("a") == 5
        with pytest.raises(dsm.NotHeldError):
            r1.add("a")
    held = m.lock("a", timeout=0)
    held.release()
    held.release()


def test_variable(m):
    with pytest.raises(dsm.NotFoundError):
        m.variable("h", create=False)
    with m.variable("h") as v:
        assert v.get() is None
        v.set(10)
        assert v.add(5) == 15
        assert m.get("h") == 15
        m.delete("h")
        assert v.get() is None
        m.set("h", 3)
        assert v.get() == 3


def test_threads(m):
    def work():
        for _ in range(2000):
            m.add("t")

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert m.get("t") == 16000


def _spawned_adds(path: str, n: int) -> None:
    with dsm.Memory(path) as m:
        for _ in range(n):
            m.add("p")


def test_spawned_processes(m, path):
    ctx = multiprocessing.get_context("spawn")
    ps = [ctx.Process(target=_spawned_adds, args=(path, 500)) for _ in range(3)]
    for p in ps:
        p.start()
    for _ in range(500):
        m.add("p")
    for p in ps:
        p.join(60)
        assert p.exitcode == 0
    assert m.get("p") == 2000


def test_forked_child_gets_an_error(m):
    """A child forked without exec gets ForkedError at once, not a hang."""
    m.set("f", 1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.alarm(10)
        out = b"no error"
        try:
            m.get("f")
        except dsm.ForkedError as e:
            out = b"forked: " + str(e).encode()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = repr(e).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), status
    assert said.startswith(b"forked: ") and b"spawn" in said, said
    assert m.get("f") == 1  # the parent goes on


HOLDER = """
import sys, time, dsm
m = dsm.Memory(sys.argv[1])
with m.lock("L"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_killed_holder_frees_lock_within_1s(m, path):
    """Guarantee 4 from Python: a process killed while holding a lock
    releases it within 1 s of the SIGKILL."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, env=os.environ.copy())
    try:
        assert p.stdout.readline() == b"held\n"
        with pytest.raises(dsm.DsmTimeoutError):
            m.lock("L", timeout=0.1)
        killed = time.monotonic()
        p.kill()
        with m.lock("L", timeout=5):
            took = time.monotonic() - killed
    finally:
        p.kill()
        p.wait()
    assert took < 1.0, f"the lock came {took:.3f} s after the SIGKILL"
