"""The checkpoint reader's own program (``sync/_checkpoint_child.py``): what it answers is
what the server did on its event loop before (the same preview, the same restore), and
its framing survives bad input."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from pycrdt import Doc, Map, Text

from sync import _checkpoint_child as child
from sync.history import MAX_DEPTH, preview, restore_into


def canvas(texts: dict[str, str]) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    blocks = doc.get("blocks", type=Map)
    with doc.transaction():
        for key, text in texts.items():
            block = Map({"kind": "text", "x": 1.5, "y": 2.0})
            blocks[key] = block
            block["text"] = Text(text)
    return doc


def frame(op: bytes, *args: bytes) -> bytes:
    return op + b"".join(struct.pack(">Q", len(a)) + a for a in args)


def answers(raw: bytes) -> list[tuple[bytes, bytes]]:
    out, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack(">Q", raw[at + 1:at + 9])
        out.append((raw[at:at + 1], raw[at + 9:at + 9 + n]))
        at += 9 + n
    return out


def test_the_preview_is_the_one_the_server_rendered_before():
    data = canvas({"a": "héllo", "b": "world"}).get_update()
    assert json.loads(child.render_preview(data)) == preview(data)


def test_a_restore_change_makes_the_room_what_restore_into_makes_it():
    old = canvas({"a": "first", "gone": "x"}).get_update()
    room = canvas({"a": "second", "new": "y"})
    expected = canvas({"a": "second", "new": "y"})
    restore_into(expected, old)
    room.apply_update(child.restore_change(room.get_update(), old))
    assert room.get("blocks", type=Map).to_py() == expected.get("blocks", type=Map).to_py()
    assert str(room.get("blocks", type=Map)["a"]["text"]) == "first"


def test_the_child_answers_each_request_in_turn_and_stops_at_the_end_of_its_input():
    good = canvas({"a": "one"}).get_update()
    deep = canvas({})
    inner = deep.get("blocks", type=Map)
    for _ in range(MAX_DEPTH + 2):
        inner["c"] = Map()
        inner = inner["c"]
    out = io.BytesIO()
    child.serve(io.BytesIO(frame(child.PREVIEW, good) + frame(child.PREVIEW, b"\xff" * 9)
                           + frame(child.PREVIEW, deep.get_update())
                           + frame(child.RESTORE, good, good)), out)
    (done, body), (bad, _), (too_deep, limit), (restored, change) = answers(out.getvalue())
    assert (done, json.loads(body)["blocks"]["a"]["text"]) == (child.DONE, "one")
    assert bad == child.UNREADABLE
    assert (too_deep, int(limit)) == (child.TOO_DEEP, MAX_DEPTH)
    assert restored == child.DONE and change  # nothing to change: an empty update


def test_a_cut_off_request_ends_the_child_without_an_answer():
    out = io.BytesIO()
    child.serve(io.BytesIO(frame(child.RESTORE, b"abc")[:-1]), out)
    assert out.getvalue() == b""
