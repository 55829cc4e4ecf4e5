#!/usr/bin/env python3
"""The Python side of scripts/bench languages: add and get of one variable
through the dsm package (libdsm, the mapping) against redis-py's INCR and
GET over loopback, to dsmd (serving the same file) and to Redis.

Usage: bench.py --file FILE --dsmd PORT --redis PORT [--round R] [--local N] [--remote N]

Prints one tab-separated line per figure: python OP PATH NS_PER_OP. The
paths run in an order rotated by the round, so that none always runs first.
"""

from __future__ import annotations

import argparse
import time

import redis

import dsm


def timed(fn, n: int) -> float:
    for _ in range(n // 10):
        fn()
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--dsmd", type=int, required=True)
    ap.add_argument("--redis", type=int, required=True)
    ap.add_argument("--round", type=int, default=0)
    ap.add_argument("--local", type=int, default=200_000)
    ap.add_argument("--remote", type=int, default=20_000)
    args = ap.parse_args()

    m = dsm.Memory(args.file)
    m.set("pybench", 0)
    clients = {p: redis.Redis(host="127.0.0.1", port=port) for p, port in (("redis-py to dsmd", args.dsmd), ("redis-py to Redis", args.redis))}
    for c in clients.values():
        c.set("pybench", 0)
    runs = [
        ("add", "libdsm", lambda: m.add("pybench", 1), args.local),
        ("get", "libdsm", lambda: m.get("pybench"), args.local),
    ]
    for path, c in clients.items():
        runs.append(("add", path, lambda c=c: c.incr("pybench"), args.remote))
        runs.append(("get", path, lambda c=c: c.get("pybench"), args.remote))
    k = args.round % len(runs)
    for op, path, fn, n in runs[k:] + runs[:k]:
        print(f"python\t{op}\t{path}\t{timed(fn, n):.1f}", flush=True)
    m.close()


if __name__ == "__main__":
    main()
