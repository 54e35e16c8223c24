"""Malformed input gets a 4xx problem, never a 5xx, a dropped connection or a dead process.

Each attack is made over real HTTP (or the real socket) against the real server; each
answer is a problem in the house format (``server/problems.py``), and nothing is logged
with a traceback or at ERROR (a storage error logged at ERROR is what an operator is paged
for). A deeply nested awareness state is in ``test_awareness_entries.py``.
"""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from pycrdt import Doc, Map

from tests.conftest import run_server
from tests.integration.test_ws_bad_input import new_room, url
from tests.yclient import YClient, eventually

DEEP_BODY = b"[" * 100_000 + b"]" * 100_000


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.exc_info or r.levelno >= logging.ERROR]


def assert_problem(r: httpx.Response, status: int, kind: str | None = None) -> None:
    """``r`` is a problem (RFC 9457, as ``server/problems.py`` writes them)."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if kind is not None:
        assert body["type"] == f"about:blank#{kind}", body


def browser(srv) -> dict[str, str]:
    """What the web app sends on a cookie-authenticated write (CSRF header, own origin)."""
    return {"X-Arbor-Csrf": "1", "Origin": srv.base_url}


def json_endpoints(room: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """Routes that read a JSON body, in an order each gets as far as reading it: (method,
    path, headers). The identity routes come first (no handle yet); publishing last, once
    the client has one."""
    rid, edit = room["room"], auth(room["edit_token"])
    return [
        ("POST", "/api/rooms", {}),
        ("POST", f"/api/rooms/{rid}/jobs", edit),
        ("POST", f"/api/rooms/{rid}/estimate", edit),
        ("POST", f"/api/rooms/{rid}/uploads", edit),
        ("PUT", f"/api/rooms/{rid}/keys/openai", edit),
        ("POST", "/api/identity", {}),
        ("POST", "/api/identity/recover", {}),
        ("CLAIM", "/api/identity", {}),
        ("POST", f"/api/rooms/{rid}/publish", edit),
    ]


async def test_a_100k_deep_json_body_is_refused_400_on_every_json_route(server, caplog):
    """Attack: a body of 100,000 nested arrays (a 500 and a traceback before) sent to every
    route that reads JSON."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        room = await new_room(server)
        for method, path, headers in json_endpoints(room):
            if method == "CLAIM":  # a handle, so that publishing reads its body
                r = await http.post(path, json={"handle": "deepbody"}, headers=browser(server))
                assert r.status_code == 201, r.text
                continue
            r = await http.request(method, path, content=DEEP_BODY,
                                   headers={**headers, **browser(server)})
            assert_problem(r, 400, "too_deep")
            assert "levels deep" in r.json()["detail"], (path, r.text)
    assert tracebacks(caplog) == []


async def test_a_body_past_one_mebibyte_is_refused_413_without_being_read_whole(server,
                                                                                 caplog):
    """Attack: a 2 MiB JSON body, once with its Content-Length and once chunked (no length
    stated), to a route anyone may call."""
    big = json.dumps({"title": "x" * (2 << 20)}).encode()

    async def chunks():
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_problem(await http.post("/api/rooms", content=big), 413, "too_large")
        assert_problem(await http.post("/api/rooms", content=chunks()), 413, "too_large")
        # An ordinary body still makes a canvas.
        assert (await http.post("/api/rooms", json={"title": "fine"})).status_code == 201
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("path", [
    "/api/people/%00",
    "/api/people/%00/follow",
    "/api/rooms/{room}/jobs/%00",
    "/api/rooms/{room}/jobs/%00/cancel",
    "/api/rooms/{room}/history/%00",
    "/api/rooms/{room}/uploads/%00/complete",
    "/api/models?room=%00",
    "/api/posts/%00",
])
async def test_a_nul_in_the_address_is_refused_400_before_any_query(server, caplog, path):
    """Attack: a NUL in a path segment or a query parameter (``/api/people/%00`` was a 503
    "storage is unavailable" logged at ERROR; ``/api/rooms/R/jobs/%00`` a 500)."""
    room = await new_room(server)
    path = path.replace("{room}", room["room"])
    method = "POST" if path.endswith(("/cancel", "/complete", "/follow")) else "GET"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.request(method, path, headers={**auth(room["edit_token"]),
                                                      **browser(server)})
    assert_problem(r, 400, "bad_address")
    assert tracebacks(caplog) == []


async def test_a_nul_or_lone_surrogate_in_a_json_string_is_refused_400_before_storage(
        server, caplog):
    """Attack: JSON strings PostgreSQL text cannot hold (``\\u0000``, ``\\ud800``) in the
    fields that are stored: a handle's display name, a job's author, an upload's name."""
    room = await new_room(server)
    rid, edit = room["room"], auth(room["edit_token"])
    bodies = [
        ("POST", "/api/identity", browser(server),
         b'{"handle": "nulname", "display_name": "a\\u0000b"}'),
        ("POST", "/api/identity", browser(server),
         b'{"handle": "surrogate", "display_name": "\\ud800"}'),
        ("POST", f"/api/rooms/{rid}/uploads", edit,
         b'{"filename": "a\\u0000.png", "content_type": "image/png", "size": 10}'),
        ("POST", f"/api/rooms/{rid}/jobs", edit,
         b'{"tool": "split", "inputs": ["b"], "author": "x\\u0000"}'),
        ("POST", "/api/rooms", {}, b'{"title": "t", "\\u0000": 1}'),
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for method, path, headers, body in bodies:
            r = await http.request(method, path, content=body,
                                   headers={**headers, "Content-Type": "application/json"})
            assert_problem(r, 400, "bad_text")
        # Nothing was stored: the handle is still free.
        r = await http.post("/api/identity", json={"handle": "nulname", "display_name": "ok"},
                            headers=browser(server))
        assert r.status_code == 201, r.text
    assert tracebacks(caplog) == []


def cursor(raw: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("name", "query"), [
    ("likes_past_int32", "sort=top&cursor=" + cursor(
        ["top", "2026-01-01T00:00:00+00:00", "AAAAAAAAAAAA", str(1 << 40)])),
    ("negative_likes", "sort=top&cursor=" + cursor(
        ["top", "2026-01-01T00:00:00+00:00", "AAAAAAAAAAAA", "-1"])),
    ("nul_in_id", "cursor=" + cursor(["new", "2026-01-01T00:00:00+00:00", "A\u0000"])),
    ("deeply_nested", "cursor=" + base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()),
])
async def test_a_cursor_the_server_never_gave_is_refused_400(server, caplog, name, query):
    """Attack: a gallery cursor whose like count is past PostgreSQL's integer (a 503
    "storage is unavailable" before), or that holds a NUL, or nests deeply."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get(f"/api/posts?{query}")
        assert_problem(r, 400, "bad_cursor")
        r = await http.get(f"/api/people/nobodyhere?{query}")
        assert r.status_code in (400, 404), r.text
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("limit", [str(1 << 31), str(1 << 63), "9" * 30, "-1", "²"])
async def test_a_limit_past_int32_is_refused_400(server, caplog, limit):
    """Attack: a page size past every integer type (and a Unicode digit)."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_problem(await http.get(f"/api/posts?limit={limit}"), 400)
        assert_problem(await http.get(f"/api/people/nobodyhere?limit={limit}"), 404)
    assert tracebacks(caplog) == []


def nested_map_update(base: bytes, block_id: str, field: str, levels: int) -> bytes:
    """An update that sets ``blocks[block_id][field]`` to maps nested ``levels`` deep."""
    doc: Doc = Doc()
    doc.apply_update(base)
    before = doc.get_state()
    with doc.transaction():
        block = Map({"kind": "text", "x": 0.0, "y": 0.0})
        doc.get("blocks", type=Map)[block_id] = block
        inner = Map()
        block[field] = inner
        for _ in range(levels):
            nxt = Map()
            inner["c"] = nxt
            inner = nxt
    return doc.get_update(before)


async def test_a_checkpoint_holding_a_deeply_nested_map_is_refused_422(settings, caplog):
    """Attack: an edit peer writes maps nested 3,000 deep into the canvas; the checkpoint
    taken of it then made preview and restore answer 500."""
    from sync import protocol as p

    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(srv)
        rid = room["room"]
        c = await YClient.connect(url(srv, room))
        c.add_text_block("keep", "kept")
        await c.send(p.sync_update(nested_map_update(c.doc.get_update(), "deep", "nest",
                                                     3000)))
        await eventually(lambda: "deep" in srv.services.rooms.rooms[rid].doc.get(
            "blocks", type=Map))
        await c.close()
        await eventually(lambda: rid not in srv.services.rooms.rooms
                         and not srv.services.rooms._unloading)
        listed = (await http.get(f"/api/rooms/{rid}/history",
                                 headers=auth(room["view_token"]))).json()["checkpoints"]
        deep = listed[0]["id"]
        r = await http.get(f"/api/rooms/{rid}/history/{deep}", headers=auth(room["view_token"]))
        assert_problem(r, 422, "document_too_deep")
        r = await http.post(f"/api/rooms/{rid}/history/{deep}/restore",
                            headers=auth(room["edit_token"]))
        assert_problem(r, 422, "document_too_deep")
        # The refused restore changed nothing, and the room still works.
        d = await YClient.connect(url(srv, room))
        assert d.block_text("keep") == "kept"
        d.add_text_block("after", "still works")
        await eventually(lambda: "after" in srv.services.rooms.rooms[rid].doc.get(
            "blocks", type=Map))
        await d.close()
    assert tracebacks(caplog) == []


async def test_a_block_field_nested_past_the_native_stack_does_not_take_the_server_down(
        settings, caplog):
    """Attack: an edit peer sets a block's ``kind`` and ``text`` to maps nested 30,000
    deep, then asks for an estimate and a run on it (with the view link, for the estimate).
    Turning such a map into a string overflowed the native stack: the whole process died
    (every room on it), not one request."""
    from sync import protocol as p

    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(srv)
        rid = room["room"]
        c = await YClient.connect(url(srv, room))
        base = c.doc.get_update()
        for field in ("kind", "text"):
            await c.send(p.sync_update(nested_map_update(base, f"deep_{field}", field,
                                                         30_000)))
        await eventually(lambda: {"deep_kind", "deep_text"} <= set(
            srv.services.rooms.rooms[rid].doc.get("blocks", type=Map).keys()), timeout=30)
        for block in ("deep_kind", "deep_text"):
            r = await http.post(f"/api/rooms/{rid}/estimate",
                                json={"tool": "expand", "inputs": [block]},
                                headers=auth(room["view_token"]))
            assert r.status_code < 500, r.text
            r = await http.post(f"/api/rooms/{rid}/jobs",
                                json={"tool": "split", "inputs": [block]},
                                headers=auth(room["edit_token"]))
            assert r.status_code < 500, r.text
        # The process is alive and serves the room.
        c.add_text_block("after", "alive")
        other = await YClient.connect(url(srv, room))
        await eventually(lambda: other.block_text("after") == "alive")
        for x in (c, other):
            await x.close()
    assert tracebacks(caplog) == []


def deep_value_update(levels: int) -> bytes:
    """A hand-made v1 update setting ``blocks.x`` to a value (lib0 "any") of ``levels``
    nested arrays: about two bytes a level, so a 100 KB message nests 50,000 deep."""
    from sync.protocol import write_bytes, write_uint

    value = b"\x75\x01" * levels + b"\x75\x00"  # array of one element, ..., empty array
    item = (bytes([0x28]) + write_uint(1) + write_bytes(b"blocks") + write_bytes(b"x")
            + write_uint(1) + value)  # content "any" with a parent key, in root "blocks"
    return write_uint(1) + write_uint(1) + write_uint(12345) + write_uint(0) + item \
        + write_uint(0)


async def test_an_update_holding_a_value_nested_past_the_native_stack_is_refused_4400(
        server, caplog):
    """Attack: a 100 KB update whose one value nests 50,000 arrays deep. pycrdt decodes such
    a value recursively in native code: applying it overflowed the stack and killed the
    process, every room on it (it is refused now by the reader of sync/updates.py). [P5] [C7]"""
    from sync import protocol as p
    from tests.integration.test_ws_bad_input import close_code, raw_socket

    room = await new_room(server)
    keep = await YClient.connect(url(server, room))
    ws = await raw_socket(server, room)
    await ws.send(p.sync_update(deep_value_update(50_000)))
    code, reason = await close_code(ws)
    assert code == 4400, (code, reason)
    assert "nested too deeply" in reason
    keep.add_text_block("after", "alive")
    other = await YClient.connect(url(server, room))
    await eventually(lambda: other.block_text("after") == "alive")
    assert "x" not in other.doc.get("blocks", type=Map)
    for c in (keep, other):
        await c.close()
    assert tracebacks(caplog) == []
