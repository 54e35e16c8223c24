"""The direct websocket lane under a real server: a reader that stops reading is served
through its queue (merged, in order), and once it drains it is back on the direct lane,
and no message ever overtakes an earlier one."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from typing import Any

import httpx
import websockets
from pycrdt import Array, Doc

from server.ws import SocketPeer
from server.wsproto import ArborWebSocketProtocol, DirectSocket
from sync import protocol as p
from tests.yclient import YClient, eventually


async def new_room(srv: Any) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.base_url}/api/rooms", json={"title": "t"})
    assert r.status_code == 201
    return dict(r.json())


async def stalled_reader(srv: Any) -> tuple[YClient, Any, SocketPeer, Any]:
    """A writer and a raw reader in a new room; the reader has stopped reading."""
    room = await new_room(srv)
    url = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    writer = await YClient.connect(url)
    slow = await websockets.connect(url, max_size=None, compression=None, max_queue=None)
    await slow.send(p.sync_step1(b"\x00"))
    room_obj = srv.services.rooms.rooms[room["room"]]
    port = slow.local_address[1]
    await eventually(lambda: len(room_obj.peers) == 2)
    (peer,) = [x for x in room_obj.peers
               if isinstance(x, SocketPeer) and x.ws.client and x.ws.client.port == port]
    assert isinstance(peer.direct, DirectSocket)  # this server runs the direct lane

    sock = slow.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # fills sooner
    slow.transport.pause_reading()  # the kernel buffers fill, then uvicorn pauses writing
    return writer, slow, peer, room_obj


def reader(slow: Any, mirror: Doc[Any]) -> Any:
    """Read ``slow`` into ``mirror`` until its array has ``n`` items; every update must
    integrate at once: one that arrived before an update it depends on would integrate
    nothing now (Yjs keeps it pending)."""
    async def read_until(n: int) -> None:
        arr = mirror.get("bench", type=Array)
        async with asyncio.timeout(20):
            while len(arr) < n:
                msg = p.decode(await slow.recv())
                if isinstance(msg, (p.SyncStep2, p.SyncUpdate)):
                    before = len(arr)
                    mirror.apply_update(msg.update)
                    if isinstance(msg, p.SyncUpdate):
                        assert len(arr) > before, f"an update was overtaken at {before}"
    return read_until


async def test_a_stalled_reader_gets_everything_in_order_then_goes_direct_again(server):
    """docs/protocol.md [Q2] [P7]."""
    writer, slow, peer, room_obj = await stalled_reader(server)
    queued_seen = 0

    async def watch_queue() -> None:
        nonlocal queued_seen
        while True:
            queued_seen = max(queued_seen, len(peer._queue))
            await asyncio.sleep(0.001)

    watcher = asyncio.get_running_loop().create_task(watch_queue())
    items = writer.doc.get("bench", type=Array)
    for i in range(300):
        items.append(f"{i:04d}" + "x" * 20_000)
        if i % 10 == 0:
            await asyncio.sleep(0.01)
    await eventually(lambda: len(room_obj.doc.get("bench", type=Array)) == 300)
    await asyncio.sleep(0.05)
    watcher.cancel()
    assert queued_seen > 0, "the stalled reader was never served through its queue"

    mirror: Doc[Any] = Doc()
    read_until = reader(slow, mirror)

    slow.transport.resume_reading()
    await read_until(300)
    await eventually(lambda: not peer._queue and not peer._draining)
    for i in range(300, 320):  # the reader keeps up now: straight to its socket again
        items.append(f"{i:04d}")
        await asyncio.sleep(0.005)
        assert not peer._queue
    await read_until(320)
    arr = mirror.get("bench", type=Array)
    assert [str(x)[:4] for x in arr] == [f"{i:04d}" for i in range(320)]
    await slow.close()
    await writer.close()


async def test_an_update_at_the_moment_a_stalled_reader_turns_writable_waits_its_turn(server):
    # Tried: each time the stalled reader's socket turns writable again, the room gets a
    # new update in that very callback, before the queued message that was waiting for
    # the socket has been written. Taking the direct lane then would overtake it (with
    # `_lane` ignoring `_draining`, the reader gets an update it cannot integrate yet).
    """docs/protocol.md [Q2]."""
    writer, slow, peer, room_obj = await stalled_reader(server)
    proto = peer.direct._proto
    items = writer.doc.get("bench", type=Array)
    for i in range(400):  # 8 MB: more than the kernel's socket buffers hold
        items.append(f"{i:04d}" + "x" * 20_000)
        if i % 10 == 0:
            await asyncio.sleep(0.01)
    await eventually(lambda: len(room_obj.doc.get("bench", type=Array)) == 400)
    await eventually(lambda: peer._draining)  # a message waits for the socket

    injected: list[str] = []
    stock_resume = proto.resume_writing

    def resume_writing() -> None:
        stock_resume()
        if peer._draining:
            name = f"r{len(injected):03d}"
            injected.append(name)
            room_obj.transact(lambda doc: doc.get("bench", type=Array).append(name))

    proto.resume_writing = resume_writing
    mirror: Doc[Any] = Doc()
    read_until = reader(slow, mirror)
    slow.transport.resume_reading()
    await read_until(400)
    await eventually(lambda: not peer._queue and not peer._draining)
    proto.resume_writing = stock_resume
    assert injected, "the reader's socket never turned writable while a message waited"
    await read_until(400 + len(injected))
    got = [str(x) for x in mirror.get("bench", type=Array)]
    assert [x[:4] for x in got if not x.startswith("r")] == [f"{i:04d}" for i in range(400)]
    assert [x for x in got if x.startswith("r")] == injected
    await slow.close()
    await writer.close()


async def test_a_closed_connection_is_freed_at_once_not_by_the_collector(server):
    # Tried: a client joins a room and leaves, with the cyclic collector off. Its protocol
    # (and the fifty-odd objects around it) used to wait in reference cycles for a full
    # collection: 500 closed rooms left about 6 MB of such garbage (bench (e)).
    room = await new_room(server)
    url = f"{server.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    client = await YClient.connect(url)
    protocols = [weakref.ref(c) for c in server.server.server_state.connections
                 if isinstance(c, ArborWebSocketProtocol)]
    assert len(protocols) == 1
    gc.collect()
    gc.disable()
    try:
        await client.close()
        await eventually(lambda: protocols[0]() is None, timeout=5)
    finally:
        gc.enable()
