"""Folding stored updates: each in a transaction of its own gives the same document as all
of them in one (the old way, quadratic in yrs; see bench/merge.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pycrdt import Array, Doc, Map, Text

from sync.room import Room
from sync.store.postgres import _merge

ROOT = Path(__file__).resolve().parents[2]


def edits() -> list[bytes]:
    """Two people editing at once: array pushes and deletes, text typed and cut, a map."""
    a: Doc[Any] = Doc()
    b: Doc[Any] = Doc()
    out: list[bytes] = []
    a.observe(lambda e: out.append(e.update))
    b.observe(lambda e: out.append(e.update))
    for i in range(150):
        doc = a if i % 3 else b
        doc.get("list", type=Array).append(i)
        doc.get("text", type=Text).insert(0, f"{i} ")
        if i % 10 == 9:
            del doc.get("list", type=Array)[0]
            del doc.get("text", type=Text)[0:2]
        doc.get("meta", type=Map)[f"k{i % 7}"] = i
        if i % 25 == 24:  # they exchange what they have now and then
            a.apply_update(b.get_update(a.get_state()))
            b.apply_update(a.get_update(b.get_state()))
    a.get("text", type=Text).insert(0, "last ")
    return out


def state_vector(doc: Doc[Any]) -> dict[int, int]:
    """The document's state vector as {client: clock} (its encoding's order may differ)."""
    data, pos = doc.get_state(), 0

    def varuint() -> int:
        nonlocal pos
        n, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return n

    count = varuint()
    return dict((varuint(), varuint()) for _ in range(count))


def one_transaction(updates: list[bytes]) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        for u in updates:
            doc.apply_update(u)
    return doc


def test_each_update_in_its_own_transaction_folds_to_the_same_document():
    ups = edits()
    assert len(ups) > 300
    want = one_transaction(ups)
    got: Doc[Any] = Doc()
    got.apply_update(_merge(ups))
    assert got.get("list", type=Array).to_py() == want.get("list", type=Array).to_py()
    assert str(got.get("text", type=Text)) == str(want.get("text", type=Text))
    assert got.get("meta", type=Map).to_py() == want.get("meta", type=Map).to_py()
    assert state_vector(got) == state_vector(want)
    # and a room loaded from the same rows holds that document too
    room = Room("r", max_doc_bytes=1 << 24, awareness_timeout=30.0, awareness_tick=0.02)
    room.load(ups)
    assert state_vector(room.doc) == state_vector(want)
    assert str(room.doc.get("text", type=Text)) == str(want.get("text", type=Text))


def test_the_merge_benchmark_runs_and_checks_both_folds_agree():
    r = subprocess.run([sys.executable, "bench/merge.py", "--sizes", "50,200"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.split()[:1] in (["50"],
                                                                                   ["200"])]
    assert [row[0] for row in rows] == ["50", "200"], r.stdout
