#!/usr/bin/env python3
"""The seed's scene, with local processes: a relay on the shared `value`.

Local Python processes map the memory file (the dsm package, no network)
while remote clients reach the same `value` through dsmd: seed clients with
the seed's own one-byte protocol (R reads the int32, W writes one) and
redis-cli (GET, SET). They pass a baton: participant i of P moves `value`
from v to v+1 only when v % P == i, so the relay reaches its end only if
every participant sees every other's writes, whichever path they took.

    dsmd -file dsm.mem &
    python3 examples/python/relay.py --file dsm.mem --addr 127.0.0.1:12345

Needs the dsm package (`pip install --no-build-isolation ./python`, or
PYTHONPATH=python with DSM_LIBRARY=libdsm/build/libdsm.so after libdsm/build)
and redis-cli for the redis participant (--redis 0 leaves it out).
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import struct
import subprocess
import sys
import threading
import time

import dsm

NAME = "value"


def local(path: str, i: int, players: int, end: int, out) -> None:
    """A local process: waits for changes through the mapping (woken by any
    writer, local or remote) and passes the baton on its turns."""
    turns = 0
    with dsm.Memory(path) as m:
        while True:
            v, version = m.item(NAME)
            if v >= end:
                break
            if v % players == i:
                m.set(NAME, v + 1)
                turns += 1
                continue
            try:
                m.wait(NAME, after=version, timeout=30)
            except dsm.DsmTimeoutError:
                out.put((f"local {i}", -1))
                return
    out.put((f"local {i} (pid {multiprocessing.current_process().pid})", turns))


def seed(addr: tuple, i: int, players: int, end: int, results: list) -> None:
    """A remote seed client: polls with R, writes with W, as the seed's
    client does, on one connection."""
    turns = 0
    with socket.create_connection(addr) as s:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s.sendall(b"R")
            (v,) = struct.unpack("<i", recv(s, 4))
            if v >= end:
                break
            if v % players == i:
                s.sendall(b"W" + struct.pack("<i", v + 1))
                if recv(s, 2) != b"OK":
                    raise RuntimeError("seed W was not answered OK")
                turns += 1
            else:
                time.sleep(0.001)
    results.append((f"seed client {i}", turns))


def recv(s: socket.socket, n: int) -> bytes:
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise RuntimeError("dsmd closed the connection")
        b += chunk
    return b


def redis(host: str, port: str, i: int, players: int, end: int, results: list) -> None:
    """redis-cli, one command per process, as a shell script would."""
    turns = 0
    cli = ["redis-cli", "-h", host, "-p", port]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        v = int(subprocess.run(cli + ["GET", NAME], capture_output=True, check=True, text=True).stdout)
        if v >= end:
            break
        if v % players == i:
            subprocess.run(cli + ["SET", NAME, str(v + 1)], capture_output=True, check=True)
            turns += 1
        else:
            time.sleep(0.002)
    results.append((f"redis-cli {i}", turns))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", required=True, help="the memory file dsmd serves")
    ap.add_argument("--addr", default="127.0.0.1:12345", help="dsmd's address")
    ap.add_argument("--locals", type=int, default=3, help="local Python processes")
    ap.add_argument("--seeds", type=int, default=2, help="seed-protocol clients")
    ap.add_argument("--redis", type=int, default=1, help="redis-cli participants")
    ap.add_argument("--laps", type=int, default=5, help="turns of each participant")
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    players = args.locals + args.seeds + args.redis
    end = players * args.laps

    with dsm.Memory(args.file) as m:
        m.set(NAME, 0)
    # spawn, not fork: the Go runtime inside libdsm does not survive fork.
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=local, args=(args.file, i, players, end, out)) for i in range(args.locals)]
    results: list = []
    threads = [
        threading.Thread(target=seed, args=((host, int(port)), args.locals + i, players, end, results))
        for i in range(args.seeds)
    ] + [
        threading.Thread(target=redis, args=(host, port, args.locals + args.seeds + i, players, end, results))
        for i in range(args.redis)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        results.append(out.get(timeout=60))
        p.join()
    with dsm.Memory(args.file) as m:
        final = m.get(NAME)
    for who, turns in sorted(results):
        print(f"{who}: {turns} turns")
    ok = final == end and all(turns == args.laps for _, turns in results)
    print(f"value = {final} after {time.monotonic() - start:.2f} s: "
          + ("every participant saw every other's writes" if ok else f"FAILED (want {end})"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
