"""Folding a room's stored updates into one: each update in a transaction of its own (what
Arbor does, ``sync/store/postgres.py`` ``_merge`` and ``Room.load``) against all of them in
one transaction (what it did before), in the same run.

    python bench/merge.py [--sizes 500,2000,8000]

The updates are shaped like the load generator's: one array push each from one client, as
a person's edits arrive one by one. yrs merges a transaction's new blocks into their
neighbours when it commits, at a cost that grows with the square of their number, and the
compaction runs in a worker thread that holds the GIL meanwhile: the event loop of the
whole process waits. Prints milliseconds per fold and the ratio; nothing here asserts a
time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from pycrdt import Array, Doc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.room import Room
from sync.store.postgres import _merge


def updates(n: int) -> list[bytes]:
    src: Doc[Any] = Doc()
    arr = src.get("bench", type=Array)
    out: list[bytes] = []
    sub = src.observe(lambda e: out.append(e.update))
    for i in range(n):
        arr.append([0, i, 1_000_000.5 + i])
    src.unobserve(sub)
    return out


def one_transaction(ups: list[bytes]) -> bytes:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        for u in ups:
            doc.apply_update(u)
    return doc.get_update()


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(3):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best * 1000, out


def load_room(ups: list[bytes]) -> Room:
    room = Room("bench", max_doc_bytes=1 << 30, awareness_timeout=30.0, awareness_tick=0.02)
    room.load(ups)
    return room


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500,2000,8000",
                    help="numbers of stored updates, comma-separated")
    args = ap.parse_args()
    print("# Folding stored updates (best of 3, ms)")
    print(f"{'updates':>8} {'one txn':>10} {'each own':>10} {'ratio':>7} {'Room.load':>10}")
    for n in (int(x) for x in args.sizes.split(",")):
        ups = updates(n)
        base_ms, base = timed(one_transaction, ups)
        ms, merged = timed(_merge, ups)
        if merged != base:  # same document either way (byte-identical encoding)
            raise SystemExit(f"{n} updates: the two folds differ")
        load_ms, room = timed(load_room, ups)
        if len(room.doc.get("bench", type=Array)) != n:
            raise SystemExit(f"{n} updates: Room.load lost items")
        print(f"{n:>8} {base_ms:>10.1f} {ms:>10.1f} {ms / base_ms:>7.3f} {load_ms:>10.1f}")


if __name__ == "__main__":
    main()
