"""Stock JS clients (yjs + y-websocket in Node) against the real server, next to the
Python test client: convergence, late joiners, restarts, awareness, view links, undo,
and many clients joining a cold room at once."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Map, Text

from sync import protocol as p
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
    """docs/protocol.md [P7]."""
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


# --- late joiners and restarts -------------------------------------------------------------


async def test_late_js_joiner_gets_everything_and_state_survives_restart(settings, node):
    """docs/protocol.md [P3] [C4] [D5]."""
    proc = await node()
    a, late, after = proc.client("a"), proc.client("late"), proc.client("after")
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url, "Restart me")
        await a.connect(srv.ws_url, room["room"], room["edit_token"])
        py = await YClient.connect(ws_url(srv, room))
        try:
            await a.create_block("ja", "typed in node", x=10, y=20)
            py.add_text_block("pa", "typed in python", x=1.5, y=2.5)
            for i in range(20):
                await a.insert("ja", 0, f"{i},")
            await a.set("author", "someone", block="ja")
            want = await eventually(lambda: all_equal([a], py), message="a and py equal")
            assert "pa" in json.loads(want)["blocks"]

            await late.connect(srv.ws_url, room["room"], room["edit_token"])
            assert canon(await late.doc_json()) == want  # synced means: everything
        finally:
            await py.close()
        await late.destroy()
        closes_before = len(a.events("close"))
    # The server stopped with ``a`` still connected: it was told why (1012) and is offline.
    close = await a.wait_event("close", lambda e: e["code"] == 1012)
    assert len(a.events("close")) > closes_before, close
    await a.insert("ja", 0, "offline;")  # an edit made while no server runs
    async with run_server(settings) as srv:
        await after.connect(srv.ws_url, room["room"], room["view_token"])
        restored = json.loads(canon(await after.doc_json()))
        assert restored == json.loads(want), "the restarted server lost state"
        assert restored["meta"]["title"] == "Restart me"
        # ``a`` comes back (to the new address) and its offline edit reaches everyone.
        await a.reconnect(srv.ws_url)
        await a.wait_synced()
        await eventually(lambda: _text_is(after, "ja", lambda t: t.startswith("offline;")),
                         message="offline edit reaches the new server")
        final = await eventually(lambda: all_equal([a, after]), message="a and after equal")
        await eventually(lambda: _stored_is(srv, room, final), message="offline edit stored")


async def _text_is(c: JSClient, block: str, pred: Any) -> bool:
    d = await c.dump()
    return block in d["blocks"] and bool(pred(d["blocks"][block]["text"]))


# --- awareness ------------------------------------------------------------------------------

USER_A = {"id": "u-a", "name": "Ann", "color": "#f00"}
USER_B = {"id": "u-b", "name": "Bo", "color": "#0f0"}
USER_P = {"id": "u-p", "name": "Py", "color": "#00f"}


def py_peers(py: YClient) -> dict[int, Any]:
    return {cid: st for cid, st in py.awareness.items()
            if cid != py.doc.client_id and not (isinstance(st, dict) and "arbor" in st)}


def users(states: dict[int, Any]) -> list[Any]:
    return sorted((st.get("user") or {}).get("name", "") for st in states.values()
                  if isinstance(st, dict))


async def test_late_js_joiner_sees_current_awareness_within_a_second(settings, node):
    """docs/protocol.md [A6]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_A, "cursor": {"x": 1, "y": 2}})
        py = await YClient.connect(ws_url(srv, room))
        try:
            await py.set_awareness({"user": USER_P, "cursor": {"x": 5, "y": 6}})
            await eventually(lambda: users(py_peers(py)) == ["Ann"], message="py sees a")
            await eventually(lambda: _users_seen(a, ["Py"]), message="a sees py")
            # Nobody changes anything now: b can only learn of them from the server.
            loop = asyncio.get_running_loop()
            start = loop.time()
            await b.connect(srv.ws_url, room["room"], room["edit_token"], wait=False)
            await eventually(lambda: _users_seen(b, ["Ann", "Py"]), timeout=1.0,
                             interval=0.01, message="late joiner sees a's and py's presence")
            assert loop.time() - start < 1.0
            seen = await b.peers_awareness()
            by_name = {st["user"]["name"]: st for st in seen.values()}
            assert by_name["Ann"]["cursor"] == {"x": 1, "y": 2}
            assert by_name["Py"]["cursor"] == {"x": 5, "y": 6}
        finally:
            await py.close()


async def _users_seen(c: JSClient, names: list[str]) -> bool:
    return users(await c.peers_awareness()) == names


async def test_js_awareness_reaches_others_and_leaves_with_its_client(settings, node):
    """docs/protocol.md [A8]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc, other_proc = await node(), await node()
        a, b, crash = proc.client("a"), proc.client("b"), other_proc.client("crash")
        await a.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_A})
        await b.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_B})
        await crash.connect(srv.ws_url, room["room"], room["edit_token"],
                            awareness={"user": {"id": "u-c", "name": "Cy"}})
        py = await YClient.connect(ws_url(srv, room))
        try:
            await eventually(lambda: users(py_peers(py)) == ["Ann", "Bo", "Cy"],
                             message="py sees the three JS clients")
            # A change of a JS client's state reaches the JS and the Python peers.
            await a.set_awareness(cursor={"x": 42, "y": 7}, selection=["b1"])
            a_id = (await a.dump())["client_id"]
            await eventually(lambda: py.awareness.get(a_id, {}).get("cursor") == {"x": 42, "y": 7},
                             message="py sees a's cursor")
            await eventually(lambda: _state_of(b, a_id, "selection", ["b1"]),
                             message="b sees a's selection")
            # A client that disconnects cleanly is removed from everyone's awareness.
            b_id = (await b.dump())["client_id"]
            await b.disconnect()
            await eventually(lambda: b_id not in py.awareness, message="b gone for py")
            await eventually(lambda: _users_seen(a, ["Cy"]), message="b gone for a")
            # So is one whose process dies without a word (socket closed by the OS).
            await other_proc.close()
            await eventually(lambda: users(py_peers(py)) == ["Ann"], timeout=5,
                             message="crashed client gone for py")
            await eventually(lambda: _users_seen(a, []), timeout=5,
                             message="crashed client gone for a")
        finally:
            await py.close()


async def _state_of(c: JSClient, cid: int, key: str, value: Any) -> bool:
    st = (await c.dump())["awareness"].get(str(cid))
    return isinstance(st, dict) and st.get(key) == value


async def test_js_presence_returns_promptly_after_reconnect_and_after_clearing(settings, node):
    """docs/protocol.md [A2] [A5]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_A, "cursor": {"x": 1, "y": 1}})
        await b.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_B})
        a_id = (await a.dump())["client_id"]
        await eventually(lambda: _users_seen(b, ["Ann"]), message="b sees a")
        # a's connection drops and comes back with the same client id and an old clock:
        # b must see it gone, then back (not only after a renewal 15 s later).
        await a.disconnect()
        await eventually(lambda: _users_seen(b, []), message="a gone for b")
        await a.reconnect()
        await a.wait_synced()
        await eventually(lambda: _state_of(b, a_id, "cursor", {"x": 1, "y": 1}), timeout=1.0,
                         interval=0.01, message="a's presence back for b within 1 s")
        # a withdraws its presence (setLocalState(null)), then publishes again.
        await a.clear_awareness()
        await eventually(lambda: _users_seen(b, []), message="cleared presence gone for b")
        await a.set_awareness(user=USER_A, cursor={"x": 2, "y": 2})
        await eventually(lambda: _state_of(b, a_id, "cursor", {"x": 2, "y": 2}), timeout=1.0,
                         interval=0.01, message="renewed presence back for b within 1 s")
        # And a still sees b after all that.
        await eventually(lambda: _users_seen(a, ["Bo"]), message="a sees b")


async def test_forged_awareness_for_another_client_id_is_ignored(settings, node):
    """docs/protocol.md [A2]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_A, "cursor": {"x": 1, "y": 1}})
        await b.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_B})
        a_id = (await a.dump())["client_id"]
        await eventually(lambda: _users_seen(b, ["Ann"]), message="b sees a")
        forger = await YClient.connect(ws_url(srv, room))
        try:
            await eventually(lambda: users(py_peers(forger)) == ["Ann", "Bo"],
                             message="forger sees a and b")
            clock = forger.awareness_clocks[a_id]
            evil = json.dumps({"user": {"id": "u-a", "name": "Mallory"},
                               "cursor": {"x": 666, "y": 666}}).encode()
            # Overwrite a's entry (a newer clock, as its first message), then remove it.
            await forger.send(p.awareness(p.encode_awareness([(a_id, clock + 10, evil)])))
            await forger.send(p.awareness(p.encode_awareness([(a_id, clock + 20, b"null")])))
            # Both at once with a legitimate entry of its own, and once more after it.
            await forger.set_awareness({"user": USER_P})
            await forger.send(p.awareness(p.encode_awareness(
                [(a_id, clock + 30, evil),
                 (forger.doc.client_id, 50, b'{"user":{"name":"Py2"}}')])))
            await forger.send(p.awareness(p.encode_awareness([(a_id, clock + 40, b"null")])))
            # A marker sent last on the same socket: once b has it, the forgeries were handled.
            await forger.send(p.awareness(p.encode_awareness(
                [(forger.doc.client_id, 60, b'{"user":{"name":"Py3"}}')])))
            await eventually(lambda: _users_seen(b, ["Ann", "Py3"]),
                             message="b sees the forger's own last state")
            for viewer in (a, b):
                d = await viewer.dump()
                st = d["awareness"].get(str(a_id))
                assert st == {"user": USER_A, "cursor": {"x": 1, "y": 1}}, (viewer.name, st)
            assert forger.closed is None or forger.closed.code is None
        finally:
            await forger.close()


async def test_invalid_awareness_json_closes_only_the_sender(settings, node):
    """docs/protocol.md [A1] [P2]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_A})
        await b.connect(srv.ws_url, room["room"], room["edit_token"],
                        awareness={"user": USER_B})
        await a.create_block("b1", "before")
        bad = await YClient.connect(ws_url(srv, room))
        watcher = await YClient.connect(ws_url(srv, room))
        try:
            await eventually(lambda: users(py_peers(bad)) == ["Ann", "Bo"], message="bad sees")
            await bad.send(p.awareness(p.encode_awareness(
                [(bad.doc.client_id, 1, b'{"user": {"name": "Eve"')])))
            closed = await bad.wait_closed()
            assert closed.code == 4400, closed
            # Everyone else is still connected, never saw the garbage, and still works.
            await a.set_awareness(cursor={"x": 3, "y": 4})
            await b.insert("b1", 0, "after;")
            await eventually(lambda: watcher.block_text("b1") == "after;before",
                             message="edit after the bad frame reaches py")
            await eventually(lambda: _text_is(a, "b1", lambda t: t == "after;before"),
                             message="edit after the bad frame reaches a")
            a_id = (await a.dump())["client_id"]
            await eventually(lambda: _state_of(b, a_id, "cursor", {"x": 3, "y": 4}),
                             message="awareness after the bad frame reaches b")
            for c in (a, b):
                d = await c.dump()
                assert d["status"] == "connected" and d["closes"] == [], (c.name, d["closes"])
                assert str(bad.doc.client_id) not in d["awareness"]
            assert watcher.closed is None
            assert bad.doc.client_id not in watcher.awareness
        finally:
            await bad.close()
            await watcher.close()


# --- view links -----------------------------------------------------------------------------


async def test_js_view_link_reads_live_but_its_edit_is_refused_with_4403(settings, node):
    """docs/protocol.md [P9] [C9]."""
    proc = await node()
    editor, viewer = proc.client("editor"), proc.client("viewer")
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        await editor.connect(srv.ws_url, room["room"], room["edit_token"],
                             awareness={"user": USER_A})
        await editor.create_block("b1", "hello")
        py = await YClient.connect(ws_url(srv, room))
        try:
            await viewer.connect(srv.ws_url, room["room"], room["view_token"],
                                 awareness={"user": USER_B})
            assert (await viewer.doc_json())["blocks"]["b1"]["text"] == "hello"
            # Live updates and awareness flow to the viewer ...
            await editor.insert("b1", 5, " world")
            await eventually(lambda: _text_is(viewer, "b1", lambda t: t == "hello world"),
                             message="viewer gets a live edit")
            await editor.set_awareness(cursor={"x": 9, "y": 9})
            editor_id = (await editor.dump())["client_id"]
            await eventually(lambda: _state_of(viewer, editor_id, "cursor", {"x": 9, "y": 9}),
                             message="viewer gets the editor's awareness")
            # ... and the viewer's own awareness reaches the editors.
            await viewer.set_awareness(cursor={"x": 1, "y": 1})
            viewer_id = (await viewer.dump())["client_id"]
            await eventually(lambda: _state_of(editor, viewer_id, "cursor", {"x": 1, "y": 1}),
                             message="editor sees the viewer's cursor")
            await eventually(lambda: py.awareness.get(viewer_id, {}).get("cursor")
                             == {"x": 1, "y": 1}, message="py sees the viewer's cursor")
            assert (await viewer.dump())["closes"] == []

            # The viewer edits: refused, the connection closes with 4403, for good.
            await viewer.create_block("forbidden", "should never arrive")
            await viewer.insert("b1", 0, "VIEWER;")
            closed = await viewer.wait_event("closed")
            assert closed["code"] == 4403, closed
            assert (await viewer.dump())["closes"][0]["code"] == 4403
            # The viewer's presence goes with its connection.
            await eventually(lambda: viewer_id not in py.awareness,
                             message="viewer presence removed")
            # An editor's change made after the refusal reaches py: anything the viewer
            # sent before it would have arrived first.
            await editor.set("status", "done", block="b1")
            await eventually(lambda: py.blocks().get("b1", {}).get("status") == "done",
                             message="later edit reaches py")
            for state in (py_json(py), await editor.doc_json(), await stored_json(srv, room)):
                assert "forbidden" not in state["blocks"]
                assert state["blocks"]["b1"]["text"] == "hello world"
            # It does not come back on its own (4403 is final for the stock client).
            d = await viewer.dump()
            assert d["should_connect"] is False and d["status"] == "disconnected"
        finally:
            await py.close()
    async with run_server(settings) as srv:
        fresh = await YClient.connect(ws_url(srv, room, "view"))
        try:
            assert "forbidden" not in fresh.blocks()
            assert fresh.block_text("b1") == "hello world"
        finally:
            await fresh.close()


# --- undo -----------------------------------------------------------------------------------


async def test_js_undo_reverts_only_its_own_change(settings, node):
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        proc = await node()
        a, b = proc.client("a"), proc.client("b")
        await a.connect(srv.ws_url, room["room"], room["edit_token"])
        await b.connect(srv.ws_url, room["room"], room["edit_token"])
        py = await YClient.connect(ws_url(srv, room))
        try:
            py.add_text_block("shared", "base")
            await eventually(lambda: _text_is(a, "shared", lambda t: t == "base"), message="a")
            await eventually(lambda: _text_is(b, "shared", lambda t: t == "base"), message="b")
            # Text: a and b both type into the same Y.Text; a undoes.
            await a.insert("shared", 0, "AAA")
            await eventually(lambda: _text_is(b, "shared", lambda t: t == "AAAbase"),
                             message="b sees a's text")
            await b.insert("shared", 7, "BBB")
            await eventually(lambda: _text_is(a, "shared", lambda t: t == "AAAbaseBBB"),
                             message="a sees b's text")
            await a.undo()
            assert await a.text("shared") == "baseBBB"
            await eventually(lambda: _text_is(b, "shared", lambda t: t == "baseBBB"),
                             message="b gets a's undo")
            await eventually(lambda: py.block_text("shared") == "baseBBB", message="py undo")

            # Blocks and fields: a's new block goes, b's block and b's field stay.
            await a.create_block("only-a", "mine", x=1, y=1)
            await b.create_block("only-b", "theirs", x=2, y=2)
            await a.set("status", "queued", block="shared")
            await eventually(lambda: _has_all(a, ["only-a", "only-b"]), message="a sees both")
            await b.set("status", "running", block="shared")  # b overwrites a's field after
            await eventually(lambda: _field_is(a, "shared", "status", "running"),
                             message="a sees b's status")
            await a.undo()  # a's status change: already overwritten by b, stays "running"
            await a.undo()  # a's block
            d = await a.doc_json()
            assert "only-a" not in d["blocks"] and "only-b" in d["blocks"]
            assert d["blocks"]["shared"]["status"] == "running"
            assert d["blocks"]["shared"]["text"] == "baseBBB"
            state = await eventually(lambda: all_equal([a, b], py), message="converged")
            final = json.loads(state)
            assert set(final["blocks"]) == {"shared", "only-b"}
            assert final["blocks"]["only-b"]["text"] == "theirs"
        finally:
            await py.close()


async def _has_all(c: JSClient, blocks: list[str]) -> bool:
    have = (await c.dump())["blocks"]
    return all(b in have for b in blocks)


async def _field_is(c: JSClient, block: str, key: str, value: Any) -> bool:
    return bool((await c.dump())["blocks"].get(block, {}).get(key) == value)


# --- a crowd at a cold room -----------------------------------------------------------------


async def test_ten_js_clients_joining_a_cold_room_at_once_all_sync(settings, node):
    """docs/protocol.md [H4]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url, "Cold room")
        assert room["room"] not in srv.services.rooms.rooms  # not loaded yet
        procs = [await node(), await node()]
        clients = [procs[i % 2].client(f"c{i}") for i in range(10)]
        await asyncio.gather(*(c.connect(srv.ws_url, room["room"], room["edit_token"],
                                         awareness={"user": {"name": c.name}}, wait=False)
                               for c in clients))
        await asyncio.gather(*(c.wait_synced(timeout=10) for c in clients))
        assert srv.services.rooms.stats.loads == 1  # one shared load for the ten
        for c in clients:
            assert (await c.doc_json())["meta"]["title"] == "Cold room", c.name
        # Every one of them is live: each adds a block, all see all.
        await asyncio.gather(*(c.create_block(f"blk-{c.name}", c.name) for c in clients))
        state = await eventually(lambda: all_equal(clients), timeout=15, message="ten equal")
        assert sorted(json.loads(state)["blocks"]) == sorted(f"blk-{c.name}" for c in clients)
        names = sorted(c.name for c in clients)
        for c in clients:
            others = sorted(set(names) - {c.name})
            await eventually(partial(_names_seen, c, others),
                             message=f"{c.name} sees the nine others")


async def _names_seen(c: JSClient, names: list[str]) -> bool:
    return users(await c.peers_awareness()) == names
