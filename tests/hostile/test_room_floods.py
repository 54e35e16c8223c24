"""Attacks on one room's memory and event loop through the sync socket (issue 20, items 1-3).

Each test opens real websockets to a real server (PostgreSQL and Redis behind it) and sends
what a hostile peer would: updates whose dependencies never arrive, no-op writes through a
view link on a large canvas, sync step 1 over and over without reading the answers."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
import websockets
from pycrdt import Doc, Map, Text

from sync import protocol as p
from sync.updates import read_update
from tests.conftest import run_server
from tests.integration.test_ws_bad_input import (
    assert_unharmed,
    bystander,
    close_code,
    new_room,
    raw_socket,
    url,
)
from tests.yclient import YClient, eventually


def _orphan_updates(count: int, size: int) -> list[bytes]:
    """Updates that each build on a change nobody ever sends: a client writes a first
    character (never sent), then ``size`` more bytes after it (sent)."""
    out = []
    for i in range(count):
        doc: Doc[Any] = Doc()
        text = doc.get("orphan", type=Text)
        text += "a"
        base = doc.get_state()
        text += chr(ord("b") + i % 20) * size
        out.append(doc.get_update(base))
    return out


async def _stored_bytes(srv: Any, room_id: str) -> int:
    """What PostgreSQL holds for the room, in bytes (every update row and snapshot)."""
    async with srv.services.store.pool.acquire() as conn:
        total = await conn.fetchval(
            "SELECT (SELECT coalesce(sum(octet_length(data)), 0) FROM room_updates"
            " WHERE room_id = $1) + (SELECT coalesce(sum(octet_length(data)), 0)"
            " FROM room_snapshots WHERE room_id = $1)", room_id)
        return int(total)


async def test_updates_whose_dependencies_never_arrive_do_not_grow_the_room(settings):
    """Attack: 24 updates of 150 KB each, every one building on a change that is never
    sent, against a 2 MB document cap. Applied as they are, they would sit in the
    document's pending set (3.6 MB, counted nowhere), be stored and sent to every joiner.
    They are dropped instead: the document, what is stored and what a joiner downloads stay
    small, and a person's ordinary edit still lands. [P6] [P8]"""
    cap = 2 << 20
    async with run_server(settings.replace(max_doc_bytes=cap)) as srv:
        room = await new_room(srv)
        keep = await bystander(srv, room)
        attacker = await raw_socket(srv, room)
        for update in _orphan_updates(24, 150_000):
            await attacker.send(p.sync_update(update))
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: room_obj.stats.updates_missing >= 24)
        assert len(room_obj.doc.get_update()) < 100_000
        assert room_obj.size < 100_000
        # what the server asked for instead: its state vector, so a real client can send
        # what the update builds on
        asked = await asyncio.wait_for(attacker.recv(), 5)
        while not (isinstance(asked, bytes) and asked[:2] == bytes((0, 0))):
            asked = await asyncio.wait_for(attacker.recv(), 5)
        await eventually(lambda: srv.services.rooms.stats.stored_updates > 0)
        joiner = await YClient.connect(url(srv, room))
        assert joiner.doc.get("orphan", type=Text).to_py() in ("", None)
        assert len(joiner.doc.get_update()) < 100_000
        await assert_unharmed(srv, room, keep)
        await attacker.close()
        await joiner.close()
        await keep.close()
        await srv.services.rooms.flush_all()
        assert await _stored_bytes(srv, room["room"]) < 200_000


async def test_a_peer_that_keeps_sending_updates_with_missing_dependencies_is_closed_4400(
        server):
    """Attack: a peer sends update after update that build on changes it never sends, and
    ignores the server's request (a sync step 1) for them. Past a small run it is closed
    with 4400, naming why; the room is unharmed. [P6] [C7]"""
    room = await new_room(server)
    keep = await bystander(server, room)
    attacker = await raw_socket(server, room)
    updates = _orphan_updates(80, 200)
    for update in updates:
        try:
            await attacker.send(p.sync_update(update))
        except websockets.ConnectionClosed:
            break
    code, reason = await close_code(attacker)
    assert code == 4400
    assert "missing_dependencies" in reason
    await assert_unharmed(server, room, keep)
    await keep.close()


async def test_an_update_that_arrives_before_its_base_is_recovered_not_lost(server):
    """Around a reconnect a real client may send an edit before the server has what it
    builds on. The edit is not applied half-way: the server asks (sync step 1), the
    client answers with everything the server lacks, and both changes land whole. [P6]"""
    room = await new_room(server)
    ws = await raw_socket(server, room)
    doc: Doc[Any] = Doc()
    text = doc.get("late", type=Text)
    text += "first "
    base = doc.get_state()
    text += "second"
    await ws.send(p.sync_update(doc.get_update(base)))  # the second, without the first
    async with asyncio.timeout(5):
        while True:
            msg = p.decode(await ws.recv())
            if isinstance(msg, p.SyncStep1):
                break
    # the server's first step 1 (on join) shows it lacks both; a later one asks again
    await ws.send(p.sync_step2(doc.get_update(msg.state_vector)))
    room_obj = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: room_obj.doc.get("late", type=Text).to_py() == "first second")
    await ws.close()


def _count_document_passes() -> tuple[dict[str, int], Any]:
    """A profile hook counting calls of pycrdt's whole-document operations (encode, apply)
    made by the room (sync/room.py) in this thread, where the server runs
    (tests/conftest.run_server)."""
    counts = {"get_update": 0, "apply_update": 0}

    def hook(frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_name in counts and "pycrdt" in code.co_filename:
                caller = frame.f_back.f_code if frame.f_back is not None else None
                # only what handling a peer's message costs: the room's own writer may
                # store or checkpoint the canvas meanwhile, and that is not the message's
                if caller is not None and caller.co_filename.endswith("room.py"):
                    counts[code.co_name] += 1

    return counts, hook


async def test_no_op_writes_through_a_view_link_cost_no_pass_over_the_document(server):
    """Attack: 40 updates through a view link on a canvas of 20,000 entries, each a copy of
    something the canvas already holds (blocks it has, or its whole delete set, as a stock
    client's sync step 2 sends back). Deciding that they change nothing used to re-encode
    and re-apply the whole document for each one, stalling every room of the process. Now
    the server reads only
    the message: not one document encode or apply while they arrive (the one encode
    answers the viewer's sync step 1), and the view connection stays open; a write that
    does add something closes it with 4403, the canvas unchanged. [P9]"""
    room = await new_room(server)
    writer = await YClient.connect(url(server, room))
    blocks = writer.doc.get("blocks", type=Map)
    start = writer.doc.get_state()
    with writer.doc.transaction():
        for i in range(10):
            blocks[f"first{i}"] = Map({"kind": "text", "x": float(i)})
    first = writer.doc.get_update(start)  # ten blocks the room will hold
    with writer.doc.transaction():
        for i in range(20_000):
            blocks[f"b{i}"] = Map({"kind": "text", "x": float(i)})
        for i in range(0, 20_000, 2):
            del blocks[f"b{i}"]  # a delete set to send back
    room_obj = server.services.rooms.rooms[room["room"]]
    await eventually(lambda: len(room_obj.doc.get("blocks", type=Map)) == 10_010, timeout=60)
    copy = writer.doc.get_update()  # everything the room holds, deletions included
    deletions = writer.doc.get_update(writer.doc.get_state())  # the whole delete set
    state = room_obj.doc.get_state()
    viewer = await raw_socket(server, room, token=room["view_token"])
    counts, hook = _count_document_passes()
    sys.setprofile(hook)
    try:
        for i in range(40):
            await viewer.send(p.sync_update(first if i % 2 else deletions))
        # a round trip (its first sync step 1, answered at once): all 40 were handled
        await viewer.send(p.sync_step1(state))
        async with asyncio.timeout(10):
            while True:
                msg = p.decode(await viewer.recv())
                if isinstance(msg, p.SyncStep2) and not read_update(msg.update).structs:
                    break
    finally:
        sys.setprofile(None)
    # the one encode answers the round trip's sync step 1; the 40 writes cost none
    assert counts == {"get_update": 1, "apply_update": 0}, counts
    forged: Doc[Any] = Doc()
    forged.apply_update(copy)
    before = forged.get_state()
    forged.get("blocks", type=Map)["forged"] = Map({"kind": "text"})
    await viewer.send(p.sync_update(forged.get_update(before)))
    code, reason = await close_code(viewer)
    assert code == 4403, (code, reason)
    assert "forged" not in room_obj.doc.get("blocks", type=Map)
    await writer.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
async def test_repeated_sync_step_1_from_a_client_that_never_reads_queues_one_answer(
        settings, direct):
    """Attack: on a 3 MB canvas, a client asks for the whole document 60 times (sync step 1
    with an empty state vector) and never reads. Each answer used to be queued for it, a
    full copy of the document each (60 x 3 MB). Now a repeated ask is answered at most
    once while an answer waits, and what is queued for one socket is bounded in bytes. [P4]"""
    async with run_server(settings.replace(max_doc_bytes=8 << 20,
                                           send_queue_max_bytes=12 << 20),
                          direct=direct) as srv:
        room = await new_room(srv)
        writer = await YClient.connect(url(srv, room))
        writer.add_text_block("big", "")
        text = writer.doc.get("blocks", type=Map)["big"]["text"]
        for i in range(30):
            text += ("q" * 100_000) + str(i)
            await asyncio.sleep(0)
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: room_obj.size > 3_000_000, timeout=30)
        stuck = await websockets.connect(url(srv, room), max_size=None, compression=None,
                                         max_queue=1)
        stuck.transport.pause_reading()
        for _ in range(60):
            await stuck.send(p.sync_step1(b"\x00"))
        await eventually(lambda: room_obj.stats.step1_dropped >= 55, timeout=20)
        peer = list(room_obj.peers)[-1]  # the last to join
        queued = sum(len(m) for m in peer._queue)
        assert queued <= 2 * room_obj.size, queued
        assert peer.queued_bytes == queued
        stuck.transport.abort()
        await writer.close()


async def test_a_client_that_stops_reading_is_dropped_at_the_byte_bound(settings):
    """Attack: a client joins a canvas and stops reading while another person
    writes large edits. Its queue is bounded in bytes, not only in messages: past
    ``ARBOR_SEND_QUEUE_MAX_BYTES`` it is closed (1013) and what was queued for it freed;
    the writer and a reading peer carry on. [Q2] [C5]"""
    async with run_server(settings.replace(send_queue_max_bytes=2 << 20,
                                           max_doc_bytes=64 << 20)) as srv:
        room = await new_room(srv)
        writer = await YClient.connect(url(srv, room))
        reader = await YClient.connect(url(srv, room))
        stuck = await websockets.connect(url(srv, room), max_size=None, compression=None,
                                         max_queue=1)
        stuck.transport.pause_reading()
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: len(room_obj.peers) == 3)
        writer.add_text_block("big", "")
        text = writer.doc.get("blocks", type=Map)["big"]["text"]
        # 60 edits of 300 KB: far fewer than ARBOR_SEND_QUEUE_MAX messages, and more than
        # the kernel's socket buffers hold
        for i in range(60):
            text += ("w" * 300_000) + str(i)
            await asyncio.sleep(0.005)
        await eventually(lambda: len(reader.block_text("big") or "") >= 18_000_000, timeout=30)
        await eventually(lambda: len(room_obj.peers) == 2, timeout=20,
                         message="the client that stopped reading to be dropped")
        assert srv.services.rooms.stats.closed_by_code.get(1013, 0) >= 1
        stuck.transport.abort()
        await writer.close()
        await reader.close()


async def test_a_flood_of_large_messages_is_held_back_by_its_bytes(settings):
    """Attack: a peer sends 60 updates of 40 KB each: far fewer messages than its burst
    allows, but each one is read (a pass over it) before it is applied. Its budget counts
    each 4 KiB as one more message, so it is read more slowly, not at once; a person in the
    same room carries on. [Q1]"""
    async with run_server(settings.replace(ws_messages_per_second=100.0,
                                           ws_messages_burst=200)) as srv:
        room = await new_room(srv)
        keep = await bystander(srv, room)
        ws = await raw_socket(srv, room)
        doc: Doc[Any] = Doc()
        text = doc.get("flood", type=Text)
        for i in range(60):
            before = doc.get_state()
            text += chr(ord("a") + i % 26) * 40_000
            await ws.send(p.sync_update(doc.get_update(before)))
        room_obj = srv.services.rooms.rooms[room["room"]]
        await eventually(lambda: len(room_obj.doc.get("flood", type=Text)) == 60 * 40_000,
                         timeout=30)
        assert room_obj.stats.ws_throttled > 0
        await assert_unharmed(srv, room, keep)
        await ws.close()
        await keep.close()
