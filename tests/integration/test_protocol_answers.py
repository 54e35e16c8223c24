"""What the server sends, and when, over the real socket: the rules of docs/protocol.md that
no attack or fault test already pins down (the join sequence, the answer to a sync step 1,
where an update goes, the answer to a query, one awareness message per tick)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from pycrdt import Doc, Map

from sync import protocol as p
from sync.updates import read_state_vector, read_update
from tests.yclient import YClient, eventually


async def new_room(srv: Any) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.base_url}/api/rooms", json={"title": "rules"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def url(srv: Any, room: dict[str, str], **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": room["edit_token"], **extra}.items())
    return f"{srv.ws_url}/sync/{room['room']}?{query}"


async def next_message(ws: Any) -> p.Message:
    async with asyncio.timeout(10):
        frame = await ws.recv()
    assert isinstance(frame, bytes), frame
    return p.decode(frame)


async def next_awareness(ws: Any) -> dict[int, Any]:
    """The entries of the next awareness message (other messages are skipped)."""
    while True:
        msg = await next_message(ws)
        if isinstance(msg, p.AwarenessMessage):
            entries = p.decode_awareness(msg.payload, max_clock=p.MAX_SAFE_INTEGER)
            return {e.client_id: e.state for e in entries}


def awareness_ids(frames: list[bytes]) -> set[int]:
    ids: set[int] = set()
    for frame in frames:
        msg = p.decode(frame)
        if isinstance(msg, p.AwarenessMessage):
            ids.update(e.client_id for e in p.decode_awareness(
                msg.payload, max_clock=p.MAX_SAFE_INTEGER))
    return ids


async def test_a_joiner_is_sent_sync_step_1_then_everyones_presence_and_step_2_only_if_it_asks(
        server):
    """[H3] [A6] The first message is the room's state vector, the second every current
    presence entry; the document itself comes only as the answer to the joiner's step 1."""
    room = await new_room(server)
    alice = await YClient.connect(url(server, room))
    alice.add_text_block("b1", "hello")
    await alice.set_awareness({"user": {"name": "Alice"}})
    held = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: alice.doc.client_id in held.awareness.states())
    async with websockets.connect(url(server, room), compression=None) as ws:
        first = await next_message(ws)
        assert isinstance(first, p.SyncStep1)
        assert read_state_vector(first.state_vector) == read_state_vector(held.doc.get_state())
        second = await next_message(ws)
        assert isinstance(second, p.AwarenessMessage)
        entries = p.decode_awareness(second.payload, max_clock=p.MAX_SAFE_INTEGER)
        assert {e.client_id: e.state for e in entries} == {
            alice.doc.client_id: {"user": {"name": "Alice"}}}
        await ws.send(p.sync_step1(Doc().get_state()))
        third = await next_message(ws)
        assert isinstance(third, p.SyncStep2), third
        joined: Doc[Any] = Doc()
        joined.apply_update(third.update)
        assert str(joined.get("blocks", type=Map)["b1"]["text"]) == "hello"
    await alice.close()


async def test_sync_step_1_is_answered_with_what_its_state_vector_lacks(server):
    """[P3] A client that holds part of the document is sent the rest, not all of it."""
    room = await new_room(server)
    alice = await YClient.connect(url(server, room))
    alice.add_text_block("old", "x" * 5000)
    known = alice.doc.get_update()
    alice.add_text_block("new", "fresh")
    held = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: read_state_vector(held.doc.get_state())
                     == read_state_vector(alice.doc.get_state()))
    partial: Doc[Any] = Doc()
    partial.apply_update(known)
    async with websockets.connect(url(server, room), compression=None) as ws:
        await ws.send(p.sync_step1(partial.get_state()))
        while not isinstance(answer := await next_message(ws), p.SyncStep2):
            pass
        assert len(answer.update) < 1000 < len(known)  # the new block only
        partial.apply_update(answer.update)
        assert read_state_vector(partial.get_state()) == read_state_vector(held.doc.get_state())
        assert str(partial.get("blocks", type=Map)["new"]["text"]) == "fresh"
    await alice.close()


async def test_an_update_reaches_every_other_peer_and_never_comes_back_to_its_sender(server):
    """[P7] Alice's edit reaches Bob and Carol; Alice is sent Bob's edit, made after hers,
    and nothing that carries her own change."""
    room = await new_room(server)
    alice, bob, carol = [await YClient.connect(url(server, room)) for _ in range(3)]
    alice.add_text_block("a", "from alice")
    await eventually(lambda: bob.block_text("a") == "from alice"
                     and carol.block_text("a") == "from alice")
    bob.add_text_block("b", "from bob")
    await eventually(lambda: alice.block_text("b") == "from bob")
    inserted: set[int] = set()
    for frame in alice.received:
        msg = p.decode(frame)
        if isinstance(msg, (p.SyncStep2, p.SyncUpdate)):
            inserted.update(read_update(msg.update).ends)
    assert bob.doc.client_id in inserted
    assert alice.doc.client_id not in inserted
    for c in (alice, bob, carol):
        await c.close()


async def test_query_awareness_is_answered_with_the_others_presence_and_the_servers_on_request(
        server):
    """[P10] [S2] The answer holds everyone's entry but the asker's own; the server's own
    entry only for a connection that asked for it with ``saved=1``."""
    room = await new_room(server)
    alice = await YClient.connect(url(server, room))
    await alice.set_awareness({"user": {"name": "Alice"}})
    held = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: alice.doc.client_id in held.awareness.states())
    async with websockets.connect(url(server, room, saved="1"), compression=None) as asks, \
            websockets.connect(url(server, room), compression=None) as plain:
        assert alice.doc.client_id in await next_awareness(plain)  # the joiner's message
        mine = json.dumps({"user": {"name": "Plain"}}).encode()
        await plain.send(p.awareness(p.encode_awareness([(4242, 1, mine)])))
        await eventually(lambda: 4242 in held.awareness.states())
        await plain.send(p.query_awareness())
        assert await next_awareness(plain) == {alice.doc.client_id: {"user": {"name": "Alice"}}}
        await next_awareness(asks)  # the joiner's message
        await asks.send(p.query_awareness())
        answer = await next_awareness(asks)
        while alice.doc.client_id not in answer:  # a tick with Plain's entry may come first
            answer = await next_awareness(asks)
        server_entries = [s for s in answer.values() if s and "arbor" in s]
        assert len(server_entries) == 1 and 4242 in answer
    await alice.close()


async def test_presence_changes_within_a_tick_reach_each_peer_as_one_message_without_its_own(
        settings):
    """[A4] Three people change presence at once: a watcher is sent at most two messages
    (the first change may go out at once, the rest wait for the tick), and nobody is sent
    their own entry back."""
    from tests.conftest import run_server

    async with run_server(settings.replace(awareness_tick=0.5)) as srv:
        room = await new_room(srv)
        watcher = await YClient.connect(url(srv, room))
        people = [await YClient.connect(url(srv, room)) for _ in range(3)]
        for i, person in enumerate(people):
            await person.set_awareness({"user": {"name": f"p{i}"}, "cursor": {"x": 0}})
        ids = {person.doc.client_id for person in people}
        await eventually(lambda: set(watcher.awareness) == ids)
        before = watcher.awareness_messages
        for i, person in enumerate(people):
            await person.set_awareness({"user": {"name": f"p{i}"}, "cursor": {"x": 1}})
        await eventually(lambda: all(s["cursor"] == {"x": 1} for s in watcher.awareness.values()))
        assert watcher.awareness_messages - before <= 2
        for person in people:
            assert person.doc.client_id not in awareness_ids(person.received)
        for c in (watcher, *people):
            await c.close()
