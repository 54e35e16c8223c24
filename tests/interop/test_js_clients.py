"""Stock JS clients (yjs + y-websocket in Node) against the real server, next to the
Python test client: convergence, late joiners, restarts, awareness, view links, undo,
and many clients joining a cold room at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Map, Text

from tests.conftest import RunningServer, run_server
from tests.interop.node import JSClient
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(90)


async def create_room(base_url: str, title: str = "Interop") -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base_url}/api/rooms", json={"title": title})
    assert r.status_code == 201, r.text
    return dict(r.json())


def ws_url(srv: RunningServer, room: dict[str, str], role: str = "edit") -> str:
    return f"{srv.ws_url}/sync/{room['room']}?token={room[role + '_token']}"


def py_json(client: YClient) -> dict[str, Any]:
    """The Python client's document as JSON, the same shape ``client.js`` dumps."""
    return doc_json(client.doc)


def doc_json(doc: Doc[Any]) -> dict[str, Any]:
    return {name: doc.get(name, type=Map).to_py() or {} for name in ("blocks", "edges", "meta")}


def canon(value: Any) -> str:
    """JSON text with sorted keys and every number as a float (JS numbers are floats)."""

    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True)


def py_text(client: YClient, block: str) -> Text:
    text: Text = client.doc.get("blocks", type=Map)[block]["text"]
    return text


async def stored_json(srv: RunningServer, room: dict[str, str]) -> dict[str, Any]:
    """What is stored for the room, read straight from the store (not from a live room)."""
    stored = await srv.services.store.load_document(room["room"])
    doc: Doc[Any] = Doc()
    for update in stored.all():
        doc.apply_update(update)
    return doc_json(doc)


async def all_equal(clients: list[JSClient], *pys: YClient) -> str:
    states = [canon(await c.doc_json()) for c in clients] + [canon(py_json(y)) for y in pys]
    return states[0] if all(s == states[0] for s in states) else ""


# --- convergence ------------------------------------------------------------------------


async def test_two_js_clients_and_python_client_converge_on_interleaved_edits(settings, node):
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"])
        await b.connect(srv.ws_url, room["room"], room["edit_token"])
        py = await YClient.connect(ws_url(srv, room))
        try:
            await a.create_block("shared", "")
            await eventually(lambda: py.block_text("shared") == "", message="shared block")
            await eventually(lambda: _has_block(b, "shared"), message="b sees shared")
            # Interleaved inserts into the same Y.Text, without waiting for each other.
            for i in range(15):
                await a.insert("shared", 0, f"a{i};")
                await b.insert("shared", 0, f"b{i};")
                py_text(py, "shared").insert(0, f"p{i};")
                if i % 5 == 4:
                    await asyncio.sleep(0)  # let the Python client's sends go out
            # Each also works on a block of its own, and on one field they all set.
            await a.create_block("block-a", "from a", x=1, y=2)
            await b.create_block("block-b", "from b", x=3, y=4)
            py.add_text_block("block-p", "from python", x=5, y=6)
            await a.set("status", "running", block="shared")
            await b.set("title", "renamed by b")
            with py.doc.transaction():
                py_text(py, "shared").insert(len(str(py_text(py, "shared"))), "END")

            state = await eventually(lambda: all_equal([a, b], py), timeout=15,
                                     message="all three documents equal")
            doc = json.loads(state)
            text = doc["blocks"]["shared"]["text"]
            for i in range(15):
                for who in "abp":
                    assert f"{who}{i};" in text, (who, i, text)
            assert text.endswith("END")
            assert doc["blocks"]["block-a"]["text"] == "from a"
            assert doc["blocks"]["block-b"]["text"] == "from b"
            assert doc["blocks"]["block-p"]["text"] == "from python"
            assert doc["blocks"]["shared"]["status"] == "running"
            assert doc["meta"]["title"] == "renamed by b"
            assert await a.text("shared") == await b.text("shared") == str(py_text(py, "shared"))
            # Same state vectors too: nothing is missing anywhere.
            assert await a.state_vector() == await b.state_vector()
            # And the server stored exactly this.
            await eventually(lambda: _stored_is(srv, room, state), timeout=10,
                             message="stored state equals the clients'")
        finally:
            await py.close()


async def _has_block(c: JSClient, block: str) -> bool:
    return block in (await c.dump())["blocks"]


async def _stored_is(srv: RunningServer, room: dict[str, str], state: str) -> bool:
    return canon(await stored_json(srv, room)) == state
