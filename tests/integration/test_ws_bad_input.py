"""Every bad input on the socket closes that one connection with a clear code and
changes nothing, for the sender or anybody else."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
import websockets
from pycrdt import Doc, Map, Text

from sync import protocol as p
from tests.yclient import YClient, eventually


@pytest.fixture(params=["direct", "asgi"])
async def lane(request, settings):
    """The server on each websocket lane: the direct one (server/wsproto.py) and plain ASGI,
    which is what runs where the direct lane is unavailable."""
    from tests.conftest import run_server

    async with run_server(settings, direct=request.param == "direct") as srv:
        yield srv


async def new_room(srv) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.base_url}/api/rooms", json={"title": "t"})
    assert r.status_code == 201
    return dict(r.json())


def url(srv, room, token=None, **extra):
    q = {"token": room["edit_token"] if token is None else token, **extra}
    qs = "&".join(f"{k}={v}" for k, v in q.items() if v is not None)
    return f"{srv.ws_url}/sync/{room['room']}?{qs}"


async def bystander(srv, room) -> YClient:
    c = await YClient.connect(url(srv, room))
    c.add_text_block("keep", "unchanged")
    await eventually(lambda: srv.services.rooms.rooms[room["room"]].doc.get(
        "blocks", type=Map).get("keep") is not None)
    return c


async def assert_unharmed(srv, room, c: YClient) -> None:
    """The bystander is still connected and still syncs both ways."""
    c.add_text_block("after", "still works")
    other = await YClient.connect(url(srv, room))
    await eventually(lambda: other.block_text("after") == "still works")
    assert other.block_text("keep") == "unchanged"
    assert c.closed is None
    await other.close()


async def raw_socket(srv, room, token=None, params=None, **kw):
    return await websockets.connect(url(srv, room, token, **(params or {})), max_size=None,
                                    compression=None, **kw)


async def close_code(ws) -> tuple[int | None, str]:
    async with asyncio.timeout(10):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code if rcvd else None, rcvd.reason if rcvd else "")


@pytest.mark.parametrize(
    ("name", "frame", "code"),
    [
        ("text_frame", "hello", 1003),
        ("empty_binary_frame", b"", 4400),
        ("random_bytes", os.urandom(64) + b"\xff", None),
        ("truncated_sync_update", bytes([0, 2, 50]) + b"abc", 4400),
        ("unknown_message_type", bytes([7, 1, 2]), 4400),
        ("unknown_sync_step", bytes([0, 9, 0]), 4400),
        ("trailing_bytes_after_message", p.sync_update(b"\x00\x00") + b"junk", 4400),
        ("update_that_is_not_yjs", p.sync_update(b"\x01\x02\x03garbage"), 4400),
        ("awareness_with_invalid_json", p.awareness(p.encode_awareness([(1, 1, b"{nope")])), 4400),
        ("awareness_state_not_object", p.awareness(p.encode_awareness([(1, 1, b"[1,2]")])), 4400),
        ("varint_longer_than_64_bits", bytes([0x80] * 12), 4400),
        ("bad_state_vector_in_step1", p.sync_step1(b"\xff\xff\xff"), 4400),
    ],
)
async def test_bad_frame_closes_only_the_sender(lane, name, frame, code):
    """docs/protocol.md [P1] [P2] [C1] [C7]."""
    room = await new_room(lane)
    keep = await bystander(lane, room)
    ws = await raw_socket(lane, room)
    await ws.send(frame)
    got, reason = await close_code(ws)
    if code is None:  # random bytes: any protocol close, never a crash
        assert got in (4400, 1003), (got, reason)
    else:
        assert got == code, (got, reason)
    assert reason  # a reason a person can read
    await assert_unharmed(lane, room, keep)
    await keep.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
async def test_oversized_message_closes_with_1009(settings, direct):
    """docs/protocol.md [P2] [C2]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(max_message_bytes=4096), direct=direct) as srv:
        room = await new_room(srv)
        keep = await bystander(srv, room)
        ws = await raw_socket(srv, room)
        await ws.send(p.sync_update(os.urandom(5000)))
        got, reason = await close_code(ws)
        assert got == 1009
        assert "4096" in reason
        await assert_unharmed(srv, room, keep)
        await keep.close()


async def test_document_over_size_cap_refuses_growth(settings):
    """docs/protocol.md [P8] [C11]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(max_doc_bytes=20_000)) as srv:
        room = await new_room(srv)
        c = await YClient.connect(url(srv, room))
        c.add_text_block("big", "x" * 15_000)
        await eventually(lambda: "big" in srv.services.rooms.rooms[room["room"]].doc.get(
            "blocks", type=Map))
        c.add_text_block("bigger", "y" * 10_000)
        closed = await c.wait_closed()
        assert closed.code == 4413
        assert "full" in closed.reason
        fresh = await YClient.connect(url(srv, room))
        assert fresh.block_text("big") is not None
        assert fresh.block_text("bigger") is None
        await fresh.close()


async def test_missing_token_is_refused_with_4401(server):
    """docs/protocol.md [H2] [C8]."""
    room = await new_room(server)
    ws = await raw_socket(server, room, token="")
    assert (await close_code(ws))[0] == 4401


async def test_forged_token_is_refused_with_4401(server):
    """docs/protocol.md [C8]."""
    room = await new_room(server)
    ws = await raw_socket(server, room, token="A" * 32)
    code, reason = await close_code(ws)
    assert code == 4401
    assert "not valid" in reason


async def test_token_of_room_a_never_opens_room_b(server):
    """docs/protocol.md [H1] [C8]."""
    a = await new_room(server)
    b = await new_room(server)
    ws = await websockets.connect(f"{server.ws_url}/sync/{b['room']}?token={a['edit_token']}")
    assert (await close_code(ws))[0] == 4401


async def test_unknown_room_is_refused_with_4404(server):
    """docs/protocol.md [C10]."""
    room = {"room": "doesnotexist123", "edit_token": "x"}
    ws = await raw_socket(server, room)
    assert (await close_code(ws))[0] == 4404


async def test_malformed_room_id_is_refused_with_4404(server):
    """docs/protocol.md [H2] [C10]."""
    ws = await websockets.connect(f"{server.ws_url}/sync/a..b?token=x")
    assert (await close_code(ws))[0] == 4404


async def test_foreign_browser_origin_is_refused_with_4403(server):
    """docs/protocol.md [H2] [C9]."""
    room = await new_room(server)
    ws = await raw_socket(server, room, origin="https://evil.example")
    code, reason = await close_code(ws)
    assert code == 4403
    assert "origin" in reason


async def test_same_origin_browser_is_accepted(server):
    """docs/protocol.md [H2]."""
    room = await new_room(server)
    c = await YClient.connect(url(server, room), origin=f"http://127.0.0.1:{server.port}")
    assert c.closed is None
    await c.close()


async def test_configured_origin_is_accepted(settings):
    """docs/protocol.md [H2]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(allowed_origins=("https://canvas.example",))) as srv:
        room = await new_room(srv)
        c = await YClient.connect(url(srv, room), origin="https://canvas.example")
        assert c.closed is None
        await c.close()


async def test_newer_protocol_version_is_refused_with_4099(server):
    """docs/protocol.md [H1] [C6]."""
    room = await new_room(server)
    ws = await raw_socket(server, room, params={"protocol": "99"})
    assert await close_code(ws) == (4099, "server_too_old")


async def test_view_link_write_closes_4403_and_changes_nothing(server):
    """docs/protocol.md [P9] [C9]."""
    room = await new_room(server)
    editor = await YClient.connect(url(server, room))
    editor.add_text_block("b1", "original")
    viewer = await YClient.connect(url(server, room, room["view_token"]))
    await eventually(lambda: viewer.block_text("b1") == "original")
    viewer.doc.get("blocks", type=Map)["b1"]["text"] += " defaced"
    closed = await viewer.wait_closed()
    assert closed.code == 4403
    assert "view link" in closed.reason
    await asyncio.sleep(0.3)  # give a wrongly relayed update time to arrive
    assert editor.block_text("b1") == "original"
    fresh = await YClient.connect(url(server, room))
    assert fresh.block_text("b1") == "original"
    await server.services.rooms.flush_all()
    stored = await server.services.store.load_document(room["room"])
    d = Doc()
    for u in stored.all():
        d.apply_update(u)
    assert str(d.get("blocks", type=Map)["b1"]["text"]) == "original"
    await editor.close()
    await fresh.close()


async def test_view_link_reconnect_with_known_state_is_not_a_write(server):
    """A viewer's sync step 2 that only repeats known content is accepted silently. [P9]"""
    room = await new_room(server)
    editor = await YClient.connect(url(server, room))
    editor.add_text_block("b1", "abc")
    blocks = editor.doc.get("blocks", type=Map)
    text = blocks["b1"]["text"]
    assert isinstance(text, Text)
    del text[0:1]  # a deletion: every full-state update now carries a delete set
    await eventually(lambda: server.services.rooms.rooms[room["room"]].doc.get(
        "blocks", type=Map)["b1"]["text"].to_py() == "bc")
    cached = Doc()
    cached.apply_update(editor.doc.get_update())
    viewer = await YClient.connect(url(server, room, room["view_token"]), doc=cached)
    await viewer.send(p.sync_step2(cached.get_update()))
    await viewer.send(p.query_awareness())
    await asyncio.sleep(0.2)
    assert viewer.closed is None
    await viewer.close()
    await editor.close()


async def test_awareness_for_another_client_id_is_ignored(server):
    """docs/protocol.md [A2]."""
    room = await new_room(server)
    alice = await YClient.connect(url(server, room))
    bob = await YClient.connect(url(server, room))
    await alice.set_awareness({"user": {"name": "Alice"}})
    await eventually(lambda: any(s.get("user", {}).get("name") == "Alice"
                                 for s in bob.awareness.values()))
    await bob.set_awareness({"user": {"name": "Bob"}})
    # Bob forges Alice's entry (overwrite, then removal).
    alice_id = alice.doc.client_id
    forged = json.dumps({"user": {"name": "Mallory"}}).encode()
    await bob.send(p.awareness(p.encode_awareness([(alice_id, 999, forged)])))
    await bob.send(p.awareness(p.encode_awareness([(alice_id, 1000, b"null")])))
    watcher = await YClient.connect(url(server, room))
    await eventually(lambda: len(watcher.awareness) >= 2)  # alice, bob
    names = {s.get("user", {}).get("name") for s in watcher.awareness.values()}
    assert "Alice" in names and "Mallory" not in names
    for c in (alice, bob, watcher):
        await c.close()


async def test_late_joiner_gets_current_awareness_at_once(server):
    """docs/protocol.md [A6]."""
    room = await new_room(server)
    peers = [await YClient.connect(url(server, room)) for _ in range(3)]
    for i, c in enumerate(peers):
        await c.set_awareness({"user": {"name": f"p{i}"}, "cursor": {"x": i, "y": i}})
    await eventually(lambda: len(server.services.rooms.rooms[room["room"]].awareness.states())
                     == 3)
    late = await YClient.connect(url(server, room))
    await eventually(lambda: {s.get("user", {}).get("name") for s in late.awareness.values()}
                     >= {"p0", "p1", "p2"}, timeout=1.0)
    for c in [*peers, late]:
        await c.close()


async def test_leaving_peer_is_removed_from_awareness(server):
    """docs/protocol.md [A8]."""
    room = await new_room(server)
    a = await YClient.connect(url(server, room))
    b = await YClient.connect(url(server, room))
    await a.set_awareness({"user": {"name": "A"}})
    await eventually(lambda: a.doc.client_id in b.awareness)
    await a.close()
    await eventually(lambda: a.doc.client_id not in b.awareness)
    await b.close()


async def test_silent_peer_expires_from_awareness(settings):
    """docs/protocol.md [A8]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(awareness_timeout=0.5)) as srv:
        room = await new_room(srv)
        a = await YClient.connect(url(srv, room))
        b = await YClient.connect(url(srv, room))
        await a.set_awareness({"user": {"name": "A"}})
        await eventually(lambda: a.doc.client_id in b.awareness)
        # a stays connected but never renews: after the timeout it is gone for b
        await eventually(lambda: a.doc.client_id not in b.awareness, timeout=8)
        await a.close()
        await b.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
async def test_client_that_stops_reading_is_dropped_without_stalling_others(settings, direct):
    """docs/protocol.md [Q2] [C5]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(send_queue_max=50), direct=direct) as srv:
        room = await new_room(srv)
        writer = await YClient.connect(url(srv, room))
        reader = await YClient.connect(url(srv, room))
        stuck = await websockets.connect(url(srv, room), max_size=None, compression=None,
                                         max_queue=1)
        # Make the stuck socket's kernel buffers small by never reading from it.
        stuck.transport.pause_reading()
        writer.add_text_block("big", "")
        text = writer.doc.get("blocks", type=Map)["big"]["text"]
        for i in range(400):
            text += ("z" * 2000) + str(i)
            if i % 10 == 0:  # a fast typist, not one burst: a healthy reader keeps up
                await asyncio.sleep(0.01)
        await eventually(lambda: len(reader.block_text("big") or "") >= 400 * 2000, timeout=20)
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: len(room_obj.peers) == 2, timeout=20,
                         message="the stuck client to be dropped")
        stuck.transport.abort()
        await writer.close()
        await reader.close()


async def test_disconnect_mid_broadcast_does_not_break_the_room(server):
    """docs/protocol.md [Q2]."""
    room = await new_room(server)
    writer = await YClient.connect(url(server, room))
    reader = await YClient.connect(url(server, room))
    quitters = [await YClient.connect(url(server, room)) for _ in range(5)]
    writer.add_text_block("t", "")
    text = writer.doc.get("blocks", type=Map)["t"]["text"]
    for i in range(50):
        text += f"{i},"
        if i == 10:
            for q in quitters:
                q.ws.transport.abort()  # vanish without a close frame
    expected = "".join(f"{i}," for i in range(50))
    await eventually(lambda: reader.block_text("t") == expected)
    await writer.close()
    await reader.close()


async def test_peer_whose_socket_goes_silent_is_dropped_by_ping(settings):
    """A client that stops answering pings (a dead network path, no close frame) is
    dropped, and leaves everyone's awareness. [Q3] [A8]"""
    from tests.conftest import run_server

    async with run_server(settings.replace(ping_interval=0.3)) as srv:
        room = await new_room(srv)
        a = await YClient.connect(url(srv, room), ping_interval=None)
        b = await YClient.connect(url(srv, room), ping_interval=None)
        await a.set_awareness({"user": {"name": "A"}})
        await eventually(lambda: a.doc.client_id in b.awareness)
        a.ws.transport.pause_reading()  # a's side no longer reads, so never answers pings
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: len(room_obj.peers) == 1, timeout=10)
        await eventually(lambda: a.doc.client_id not in b.awareness, timeout=5)
        a.ws.transport.abort()
        await b.close()


async def send_flood(flooder: YClient, n: int) -> None:
    """``n`` updates sent at once, each appending its number to the array ``flood``."""
    from pycrdt import Array

    src: Doc = Doc()
    updates: list[bytes] = []
    src.observe(lambda e: updates.append(e.update))
    items = src.get("flood", type=Array)
    for i in range(n):
        items.append(i)
    for u in updates:
        await flooder.send(p.sync_update(u))


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
async def test_a_flood_of_updates_is_read_at_the_clients_budget_and_nothing_is_lost(
        settings, direct):
    """docs/protocol.md [Q1]."""
    from pycrdt import Array

    from tests.conftest import run_server

    # One client sends 600 updates at once; its budget is 100 at once, then 200 a second.
    s = settings.replace(ws_messages_per_second=200.0, ws_messages_burst=100)
    async with run_server(s, direct=direct) as srv:
        room, elsewhere = await new_room(srv), await new_room(srv)
        reader = await YClient.connect(url(srv, room))
        calm = await bystander(srv, elsewhere)
        flooder = await YClient.connect(url(srv, room))
        await send_flood(flooder, 600)
        await asyncio.sleep(0.2)
        held = srv.services.rooms.rooms[room["room"]].doc.get("flood", type=Array)
        assert 0 < len(held) < 600, "the server read the flood at once"
        assert srv.services.rooms.stats.ws_throttled > 0
        # Meanwhile another room on the same process is served as usual.
        await assert_unharmed(srv, elsewhere, calm)
        # Nothing is dropped: the rest is read when due, in order, and nobody was closed.
        want = list(range(600))
        await eventually(lambda: reader.doc.get("flood", type=Array).to_py() == want,
                         timeout=20, message="every update of the flood to arrive in order")
        assert flooder.closed is None and reader.closed is None
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{srv.base_url}/metrics")).text
        assert any(line.startswith("arbor_ws_throttled_total ") and float(line.split()[1]) > 0
                   for line in metrics.splitlines()), metrics[:2000]
        for c in (reader, calm, flooder):
            await c.close()


async def test_a_flood_longer_than_the_ping_timeout_is_still_read_and_not_dropped(settings):
    """A flooder's pong waits behind its own messages, which are read at its budget's pace:
    here 300 updates at 100 a second against a 0.3 s pong deadline. It is not dropped for
    a ping "timeout" that is the server's own doing, and nothing it sent is lost. [Q1] [Q3]"""
    from pycrdt import Array

    from tests.conftest import run_server

    s = settings.replace(ws_messages_per_second=100.0, ws_messages_burst=10, ping_interval=0.3)
    async with run_server(s) as srv:
        room = await new_room(srv)
        reader = await YClient.connect(url(srv, room))
        flooder = await YClient.connect(url(srv, room))
        await send_flood(flooder, 300)
        want = list(range(300))
        await eventually(lambda: reader.doc.get("flood", type=Array).to_py() == want,
                         timeout=20, message="every update of the flood to arrive in order")
        assert flooder.closed is None, f"the flooder was closed: {flooder.closed}"
        assert len(srv.services.rooms.rooms[room["room"]].peers) == 2
        # Held no more, it answers pings again and stays.
        await asyncio.sleep(1.0)
        assert flooder.closed is None and reader.closed is None
        for c in (reader, flooder):
            await c.close()


async def test_more_sockets_from_one_address_than_the_limit_are_refused_with_1013(settings):
    """docs/protocol.md [H2] [C5]."""
    from tests.conftest import run_server

    async with run_server(settings.replace(ws_connections_per_ip=3)) as srv:
        a, b = await new_room(srv), await new_room(srv)
        held = [await YClient.connect(url(srv, a)), await YClient.connect(url(srv, a)),
                await YClient.connect(url(srv, b))]
        # The fourth from 127.0.0.1, to either room, and even to a room that does not exist
        # (it is counted before the room is looked up).
        for room in (a, b, {"room": "0" * 16, "edit_token": "x"}):
            code, reason = await close_code(await raw_socket(srv, room))
            assert code == 1013, (code, reason)
            assert "too many connections from your address" in reason
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{srv.base_url}/metrics")).text
        assert 'arbor_rate_limited_total{what="websockets"} 3.0' in metrics
        # Those held are untouched, and one leaving frees a place.
        held[0].add_text_block("still", "here")
        await eventually(lambda: held[1].block_text("still") == "here")
        await held[0].close()
        await eventually(lambda: sum(srv.services.sockets_by_ip.values()) == 2)
        again = await YClient.connect(url(srv, a))
        await eventually(lambda: again.block_text("still") == "here")
        for c in (*held[1:], again):
            await c.close()
        await eventually(lambda: not srv.services.sockets_by_ip,
                         message="every socket's place to be given back")
