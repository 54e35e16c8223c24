"""sync.updates reads what a Yjs update inserts, needs and deletes without applying it.

Checked against pycrdt itself: for updates made by several documents editing together and
then delivered in a random order, ``missing`` says "nothing" exactly when pycrdt integrates
the update whole (nothing left pending), and what it reads as inserted is what pycrdt holds
afterwards."""

from __future__ import annotations

import random

import pytest
from pycrdt import Array, Doc, Map, Text, XmlElement, XmlFragment, XmlText

from sync.updates import UpdateFormatError, read_state_vector, read_update


def _edit(doc: Doc, rnd: random.Random) -> None:
    m = doc.get("m", type=Map)
    t = doc.get("t", type=Text)
    a = doc.get("a", type=Array)
    k = rnd.random()
    if k < 0.2:
        m[f"k{rnd.randint(0, 5)}"] = rnd.choice(
            [1, 2.5, "s", None, True, {"a": [1, {"b": "c"}]}, b"bin", [1, 2]])
    elif k < 0.45:
        t.insert(rnd.randint(0, len(t)), rnd.choice(["hi", "😀é", "x" * rnd.randint(1, 20)]))
    elif k < 0.55 and len(t) > 2:
        del t[0:rnd.randint(1, len(t) - 1)]
    elif k < 0.7:
        a.append(rnd.choice([1, "two", Map({"z": 1}), Text("nested"), Array([1, 2])]))
    elif k < 0.75 and len(a):
        del a[rnd.randrange(len(a))]
    elif k < 0.85:
        m["sub"] = Map({"q": Text("abc"), "r": 5})
    elif k < 0.9 and len(t):
        t.format(0, min(2, len(t)), {"bold": True})
    else:
        doc.get("x", type=XmlFragment).children.append(
            XmlElement("p", {"class": "c"}, [XmlText("hello")]))


def _history(seed: int) -> list[bytes]:
    """Incremental updates of three documents editing together and syncing now and then."""
    rnd = random.Random(seed)
    docs = [Doc() for _ in range(3)]
    out: list[bytes] = []
    for _ in range(40):
        i = rnd.randrange(3)
        before = docs[i].get_state()
        _edit(docs[i], rnd)
        out.append(docs[i].get_update(before))
        if rnd.random() < 0.4:
            j = rnd.randrange(3)
            docs[j].apply_update(docs[i].get_update(docs[j].get_state()))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_missing_is_none_exactly_when_pycrdt_integrates_the_update_whole(seed: int) -> None:
    """docs/protocol.md [P6]."""
    rnd = random.Random(seed)
    history = _history(seed)
    order = list(range(len(history)))
    rnd.shuffle(order)
    doc = Doc()
    for n in order:
        update = history[n]
        summary = read_update(update)
        clocks = read_state_vector(doc.get_state())
        missing = summary.missing(clocks)
        probe = Doc()
        probe.apply_update(doc.get_update())
        probe.apply_update(update)
        after = read_state_vector(probe.get_state())
        whole = all(after.get(c, 0) >= end for c, end in summary.ends.items())
        if missing is None:
            assert whole, f"update {n}: read as complete but pycrdt left part pending"
            doc.apply_update(update)
        else:
            assert not whole or summary.deletes, (
                f"update {n}: read as missing {missing} but pycrdt integrated it")


def test_what_is_read_as_inserted_is_what_the_document_then_holds() -> None:
    """docs/protocol.md [P5]."""
    rnd = random.Random(7)
    doc = Doc()
    for _ in range(60):
        _edit(doc, rnd)
    update = doc.get_update()
    assert read_update(update).ends == {
        c: e for c, e in read_state_vector(doc.get_state()).items() if e}


@pytest.mark.parametrize("bad", [
    b"", b"\x01", b"\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x00\x00\x00", b"\x01\x01\x05\x00\x1f", b"\x01\x01\x05\x00\x08\x01\x01\x00",
])
def test_malformed_updates_are_refused_not_misread(bad: bytes) -> None:
    """docs/protocol.md [P2] [P5]."""
    with pytest.raises(UpdateFormatError):
        read_update(bad)


def test_numbers_past_2_53_are_refused() -> None:
    """A client id past 2^53 - 1 (as a browser cannot hold it) is no update. [P5]"""
    value, out = 1 << 60, bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    with pytest.raises(UpdateFormatError):
        read_update(b"\x01\x01" + bytes(out) + b"\x00\x00\x00")
