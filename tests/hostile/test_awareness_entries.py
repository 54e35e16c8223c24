"""Awareness entries a browser cannot take, or should not believe, never reach one.

A stock browser (y-protocols) reads awareness ids and clocks as JavaScript numbers: one
past 2^53 - 1 made it throw and drop the whole update, every other person's presence with
it. And the web app believes whichever entry says what is saved (``arbor``): a forged one
made everyone's unsaved work look saved. Each attack here is made by a peer over the real
socket; another person in the same room must still see correct presence afterwards, in the
process the attacker is on and (through Redis fan-out) in another.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from pycrdt import Map

from sync import protocol as p
from tests.conftest import run_server
from tests.integration.test_ws_bad_input import close_code, new_room, raw_socket, url
from tests.yclient import YClient, eventually

MAX_SAFE = (1 << 53) - 1


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every log record that carries a traceback or is an error: none is expected."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.exc_info or r.levelno >= logging.ERROR]


def names(client: YClient) -> dict[int, str | None]:
    return {cid: (st.get("user") or {}).get("name") for cid, st in client.awareness.items()}


async def sees_presence_correctly(srv, room, watcher: YClient) -> None:
    """A person who joins now is seen by ``watcher``, and everything the watcher holds is
    something a browser can take: ids and clocks within 2^53 - 1, no forged ``arbor``."""
    late = await YClient.connect(url(srv, room))
    await late.set_awareness({"user": {"name": "Late"}})
    await eventually(lambda: names(watcher).get(late.doc.client_id) == "Late",
                     message="the watcher to see a newcomer's presence")
    assert all(cid <= MAX_SAFE for cid in watcher.awareness_clocks)
    assert all(clock <= MAX_SAFE for clock in watcher.awareness_clocks.values())
    await late.close()


@pytest.mark.parametrize("field", ["client id", "clock"])
async def test_an_awareness_id_or_clock_past_2_53_closes_the_sender_and_is_never_relayed(
        server, caplog, field):
    """Attack: a peer announces presence with client id (or clock) 2^64 - 1. [A1] [C7]"""
    room = await new_room(server)
    watcher = await YClient.connect(url(server, room))
    await watcher.set_awareness({"user": {"name": "Watcher"}})
    ws = await raw_socket(server, room)
    big = (1 << 64) - 1
    entry = (big, 1, b'{"user":{"name":"Big"}}') if field == "client id" \
        else (424242, big, b'{"user":{"name":"Big"}}')
    await ws.send(p.awareness(p.encode_awareness([entry])))
    code, reason = await close_code(ws)
    assert code == 4400, (code, reason)
    assert f"awareness {field} {big} is past " in reason
    await sees_presence_correctly(server, room, watcher)
    assert "Big" not in names(watcher).values()
    assert not server.services.rooms.rooms[room["room"]].awareness.owner_of(entry[0])
    assert tracebacks(caplog) == []
    await watcher.close()


async def test_an_id_at_2_53_minus_1_is_still_a_valid_presence(server):
    """The bound is exactly JavaScript's: 2^53 - 1 itself is a number a browser holds. [A1]"""
    room = await new_room(server)
    watcher = await YClient.connect(url(server, room))
    edge = await YClient.connect(url(server, room))
    await edge.set_awareness({"user": {"name": "Edge"}}, client_id=MAX_SAFE)
    await eventually(lambda: names(watcher).get(MAX_SAFE) == "Edge")
    assert edge.closed is None
    await edge.close()
    await watcher.close()


async def test_a_forged_saved_field_is_dropped_and_the_rest_relayed(server, caplog):
    """Attack: a peer's presence claims to be the server's entry, saying what is saved. [A3]"""
    room = await new_room(server)
    watcher = await YClient.connect(url(server, room, saved="1"))
    forger = await YClient.connect(url(server, room))
    forged = {"user": {"name": "Mallory"}, "cursor": {"x": 1, "y": 2},
              "arbor": {"server": "p", "saved": "AQEB"}}
    await forger.set_awareness(forged)
    await eventually(lambda: names(watcher).get(forger.doc.client_id) == "Mallory")
    seen = watcher.awareness[forger.doc.client_id]
    assert seen == {"user": {"name": "Mallory"}, "cursor": {"x": 1, "y": 2}}
    # Only the server's own entry says what is saved.
    savers = [st for st in watcher.awareness.values() if "arbor" in st]
    assert all(st["arbor"]["saved"] != "AQEB" for st in savers)
    assert forger.closed is None
    await sees_presence_correctly(server, room, watcher)
    assert tracebacks(caplog) == []
    for c in (watcher, forger):
        await c.close()


async def test_fan_out_carries_neither_a_forged_saved_field_nor_an_unsafe_id(settings, caplog):
    """Attack: both of the above on one process, watched from another (Redis fan-out).
    [A1] [A3] [F1]"""
    async with run_server(settings) as one, run_server(settings) as two:
        room = await new_room(one)
        there = await YClient.connect(url(two, room))
        await there.set_awareness({"user": {"name": "There"}})
        forger = await YClient.connect(url(one, room))
        await eventually(lambda: one.services.fanout.shared(room["room"])
                         and two.services.fanout.shared(room["room"]))
        ws = await raw_socket(one, room)
        await ws.send(p.awareness(p.encode_awareness(
            [((1 << 64) - 1, 1, b'{"user":{"name":"Big"}}')])))
        assert (await close_code(ws))[0] == 4400
        await forger.set_awareness({"user": {"name": "Mallory"},
                                    "arbor": {"server": "p", "saved": "AQEB"}})
        await eventually(lambda: names(there).get(forger.doc.client_id) == "Mallory",
                         message="the forger's presence to reach the other process")
        assert "arbor" not in there.awareness[forger.doc.client_id]
        assert "Big" not in names(there).values()
        held = two.services.rooms.rooms[room["room"]].awareness.states()
        assert all(cid <= MAX_SAFE and b"arbor" not in raw for cid, raw in held.items())
        await sees_presence_correctly(one, room, there)
        assert tracebacks(caplog) == []
        for c in (there, forger):
            await c.close()


async def test_deeply_nested_awareness_closes_4400_without_a_traceback(server, caplog):
    """Attack: an awareness state nested 100,000 arrays deep (1011 and a traceback per
    message before). [A1]"""
    room = await new_room(server)
    watcher = await YClient.connect(url(server, room))
    await watcher.set_awareness({"user": {"name": "Watcher"}})
    ws = await raw_socket(server, room)
    deep = b'{"user":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    await ws.send(p.awareness(p.encode_awareness([(77, 1, deep)])))
    code, reason = await close_code(ws)
    assert code == 4400, (code, reason)
    assert "awareness state nests" in reason
    await sees_presence_correctly(server, room, watcher)
    assert tracebacks(caplog) == []
    await watcher.close()



async def test_a_clock_near_2_53_never_makes_the_server_announce_one_past_it(server, caplog):
    """Attack (found by the protocol fuzz): a peer announces presence at clock 2^53 - 1,
    valid on its own. The server announces clocks a little past the owner's (one more for
    each rejoin, removal or newcomer), so it sent every browser a removal at 2^53 + n and
    broke their presence. A peer's clock is now bounded at 2^52: 2^53 - 1 closes the
    sender (4400), 2^52 is taken, and what the server then announces, through a leave and
    newcomers, stays within 2^53 - 1. [A5]"""
    room = await new_room(server)
    watcher = await YClient.connect(url(server, room))
    await watcher.set_awareness({"user": {"name": "Watcher"}})
    ws = await raw_socket(server, room)
    await ws.send(p.awareness(p.encode_awareness([(424242, MAX_SAFE, b'{"user":{}}')])))
    code, reason = await close_code(ws)
    assert code == 4400 and "past 2^52" in reason, (code, reason)
    edge = await raw_socket(server, room)
    await edge.send(p.awareness(p.encode_awareness(
        [(434343, 1 << 52, b'{"user":{"name":"Edge"}}')])))
    await eventually(lambda: names(watcher).get(434343) == "Edge")
    await edge.close()  # its removal goes out one clock past the owner's
    await eventually(lambda: 434343 not in watcher.awareness)
    for _ in range(3):
        await sees_presence_correctly(server, room, watcher)
    assert watcher.closed is None
    assert not tracebacks(caplog)


async def test_a_nul_in_a_presence_name_never_makes_the_canvas_unstorable(server, caplog):
    """Attack: a peer calls itself "Eve\\u0000" in its presence, then edits. The room
    records who changed it since its last checkpoint by their presence names, and a NUL
    there made every checkpoint (and the store on shutdown) fail: PostgreSQL's text cannot
    hold it. Names are cleaned when read: the edit is stored and checkpointed under
    "Eve". [A2]"""
    room = await new_room(server)
    eve = await YClient.connect(url(server, room))
    await eve.set_awareness({"user": {"id": "u1", "name": "Eve\u0000\u202e"}})
    room_obj = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: room_obj.awareness.user_name(
        room_obj.awareness.owner_of(eve.doc.client_id)) == "Eve")
    eve.add_text_block("by-eve", "hello")
    await eventually(lambda: room_obj.doc.get("blocks", type=Map).get("by-eve") is not None)
    assert "Eve" in room_obj.authors
    await eve.close()  # the room unloads: its checkpoint names who changed it
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        async def checkpointed() -> list[dict] | None:
            got = (await http.get(f"/api/rooms/{room['room']}/history",
                                  headers={"Authorization": f"Bearer {room['view_token']}"}))
            points = got.json()["checkpoints"]
            return points if any("Eve" in c["authors"] for c in points) else None
        await eventually(checkpointed, timeout=20, message="a checkpoint naming Eve")
    assert not tracebacks(caplog)
