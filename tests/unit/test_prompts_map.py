"""meta.prompts is one map however many people create it at once (sync/doc_schema.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map

from server.api.rooms import initial_document
from sync import doc_schema as schema
from sync.history import restore_into

WEB = Path(__file__).resolve().parents[2] / "web"


def _doc(update: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.apply_update(update)
    return doc


def _prompts(doc: Doc[Any]) -> dict[str, Any]:
    value = doc.get(schema.META, type=Map).get("prompts")
    assert isinstance(value, Map), f"meta.prompts is {value!r}"
    return dict(value.to_py() or {})


def _exchange(a: Doc[Any], b: Doc[Any]) -> None:
    b.apply_update(a.get_update(b.get_state()))
    a.apply_update(b.get_update(a.get_state()))


def _write(doc: Doc[Any], tool: str, text: str) -> None:
    """What a client does: make the map the shared way where it is missing, then write."""
    meta = doc.get(schema.META, type=Map)
    if not isinstance(meta.get("prompts"), Map):
        doc.apply_update(schema.prompts_map_update())
    prompts = meta["prompts"]
    prompts[tool] = text


def test_a_new_canvas_already_holds_the_shared_map() -> None:
    doc = _doc(initial_document("t"))
    assert _prompts(doc) == {}
    before = doc.get_state()
    doc.apply_update(schema.prompts_map_update())
    assert doc.get_state() == before, "the creation update added something: not the same item"


def test_two_first_edits_at_once_both_survive() -> None:
    a, b = Doc(), Doc()
    _write(a, "expand", "from a")
    _write(b, "twist", "from b")
    _exchange(a, b)
    assert _prompts(a) == _prompts(b) == {"expand": "from a", "twist": "from b"}


def test_restoring_a_state_from_before_prompts_empties_the_map_and_keeps_it() -> None:
    old: Doc[Any] = Doc()
    old.get(schema.META, type=Map)["title"] = "old"
    doc = _doc(initial_document("now"))
    _write(doc, "expand", "mine")
    restore_into(doc, old.get_update())
    assert _prompts(doc) == {}
    assert doc.get(schema.META, type=Map)["title"] == "old"
    other: Doc[Any] = Doc()
    _write(other, "twist", "theirs")  # someone offline who still made the map the shared way
    _exchange(doc, other)
    assert _prompts(doc) == {"twist": "theirs"}


@pytest.mark.skipif(shutil.which("node") is None or not (WEB / "node_modules" / "yjs").is_dir(),
                    reason="node or web/node_modules is missing: run `make web`")
def test_the_browser_makes_the_same_bytes() -> None:
    """The stock yjs with the client id from web/src/sync/schema.ts (what prompts.ts does)."""
    script = (
        "const Y = require('yjs');"
        "const d = new Y.Doc(); d.clientID = Number(process.argv[1]);"
        "d.getMap('meta').set('prompts', new Y.Map());"
        "process.stdout.write(JSON.stringify(Array.from(Y.encodeStateAsUpdate(d))))")
    out = subprocess.run(["node", "-e", script, str(schema.PROMPTS_CLIENT_ID)], cwd=WEB,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert bytes(json.loads(out)) == schema.prompts_map_update()
