"""The direct lane cuts client frames out of the byte stream itself (server/wsproto.py):
frames split across reads, several frames in one read, control frames and fragmented
messages between them, and malformed frames must all behave exactly as through the
stock parser. Bytes are written raw to the socket after a normal handshake."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import httpx
import pytest
import websockets
from pycrdt import Doc, Map, Text

from sync import protocol as p
from tests.yclient import eventually


def frame(payload: bytes, opcode: int = 0x2, fin: bool = True, masked: bool = True) -> bytes:
    """A client frame as RFC 6455 section 5.2 lays it out."""
    n = len(payload)
    out = bytearray([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if masked else 0
    if n < 126:
        out.append(mbit | n)
    elif n < 65536:
        out += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        out += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return bytes(out) + payload
    mask = os.urandom(4)
    return bytes(out) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def block_update(doc: Doc[Any], key: str, text: str) -> bytes:
    before = doc.get_state()
    blocks = doc.get("blocks", type=Map)
    blocks[key] = Map({"type": "text", "text": Text(text)})
    return p.sync_update(doc.get_update(before))


async def open_raw(srv: Any) -> tuple[Any, Any, str]:
    async with httpx.AsyncClient() as http:
        room = (await http.post(f"{srv.base_url}/api/rooms", json={"title": "t"})).json()
    url = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    ws = await websockets.connect(url, max_size=None, compression=None)
    ws.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rooms = srv.services.rooms.rooms
    await eventually(lambda: room["room"] in rooms and len(rooms[room["room"]].peers) == 1)
    room_obj = rooms[room["room"]]
    return ws, room_obj, room["room"]


def text_of(room_obj: Any, key: str) -> str | None:
    block = room_obj.doc.get("blocks", type=Map).get(key)
    return None if block is None else str(block["text"])


async def write_in_pieces(ws: Any, data: bytes, piece: int) -> None:
    for i in range(0, len(data), piece):
        ws.transport.write(data[i:i + piece])
        await asyncio.sleep(0.001)  # a read of its own on the server


@pytest.mark.parametrize("piece", [1, 3, 7, 64])
async def test_frames_split_across_reads_are_put_back_together(server, piece):
    """docs/protocol.md [P1]."""
    ws, room_obj, _ = await open_raw(server)
    doc: Doc[Any] = Doc()
    big = "y" * 70_000  # a 64-bit length header too
    small = frame(block_update(doc, "a", "small")) + frame(block_update(doc, "m", "x" * 300))
    large = frame(block_update(doc, "b", big))
    # (quickly: the client library answers the server's pings on this same socket)
    await write_in_pieces(ws, small + large[:20], piece)
    await write_in_pieces(ws, large[20:], 4093)
    await eventually(lambda: text_of(room_obj, "a") == "small" and text_of(room_obj, "b") == big
                     and text_of(room_obj, "m") == "x" * 300)
    await ws.close()


async def test_many_frames_in_one_read_are_all_applied_in_order(server):
    """docs/protocol.md [P1]."""
    ws, room_obj, _ = await open_raw(server)
    doc: Doc[Any] = Doc()
    ws.transport.write(b"".join(frame(block_update(doc, f"k{i}", str(i))) for i in range(50)))
    await eventually(lambda: all(text_of(room_obj, f"k{i}") == str(i) for i in range(50)))
    await ws.close()


async def test_ping_and_fragmented_messages_between_direct_frames(server):
    """docs/protocol.md [P1]."""
    ws, room_obj, _ = await open_raw(server)
    doc: Doc[Any] = Doc()
    first = block_update(doc, "one", "1")
    split = block_update(doc, "two", "2")
    last = block_update(doc, "three", "3")
    data = (frame(first) + frame(b"are you there", opcode=0x9)
            + frame(split[:5], opcode=0x2, fin=False) + frame(split[5:], opcode=0x0)
            + frame(last))
    await write_in_pieces(ws, data, 5)
    await eventually(lambda: [text_of(room_obj, k) for k in ("one", "two", "three")]
                     == ["1", "2", "3"])
    assert room_obj.peers  # still connected: the ping was answered, not taken as an error
    await ws.close()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("unmasked_client_frame", frame(p.sync_step1(b"\x00"), masked=False), 1002),
        ("reserved_bit_set", bytes([0xC2]) + frame(b"\x00\x00\x01\x00")[1:], 1002),
        ("declared_length_over_the_limit",
         bytes([0x82, 0xFF]) + (1 << 40).to_bytes(8, "big") + os.urandom(4), 1009),
        ("continuation_without_a_start", frame(b"\x00", opcode=0x0), 1002),
        ("text_frame", frame(b"hello", opcode=0x1), 1003),
    ],
)
async def test_malformed_frames_close_the_connection(server, name, data, code):
    """docs/protocol.md [P2] [C1]."""
    ws, room_obj, _ = await open_raw(server)
    ws.transport.write(data)
    async with asyncio.timeout(10):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    got = closed.value.rcvd.code if closed.value.rcvd else None
    assert got == code, (name, got, closed.value)
    await eventually(lambda: not room_obj.peers)
