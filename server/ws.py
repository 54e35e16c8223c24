"""The websocket endpoint ``/sync/{room}``: y-websocket protocol over one Starlette socket.

Why not pycrdt-websocket's ASGI adapter: a text frame raises ``KeyError`` in it, random
bytes can stop the whole server, and a disconnect surfaces as "Exception in ASGI
application". Here each connection has its own bounded send queue drained by its own
task, so a slow or vanished client costs nobody else anything; every bad frame closes
that one connection with a code that says why (see ``CLOSE_CODES`` and
docs/architecture.md), and an ordinary disconnect is not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from pycrdt import merge_updates
from starlette.websockets import WebSocket, WebSocketDisconnect

from sync import protocol
from sync.doc_schema import PROTOCOL_VERSION
from sync.errors import (
    CapabilityError,
    CapabilityReason,
    DocumentTooLargeError,
    ProtocolError,
    ProtocolReason,
    RoomLoadError,
    StoreError,
)
from sync.persistence import BacklogFullError

from .capabilities import ROOM_ID, Role, hash_token, role_for
from .wsproto import EXTENSION, DirectSocket, binary_frame

if TYPE_CHECKING:
    from sync.room import Room

    from .app import Services

log = logging.getLogger(__name__)

CLOSE_CODES = {
    1003: "text frames are not part of the protocol",
    1009: "message too large",
    1011: "the canvas could not be loaded",
    1012: "server restarting",
    1013: "try again later (client too slow, storage backlog full, or too many connections "
          "from one address)",
    4099: "protocol version mismatch (do not retry)",
    4400: "malformed protocol message",
    4401: "missing, invalid or rotated link",
    4403: "not allowed (view link write, or origin not allowed)",
    4404: "no such canvas",
    4413: "the canvas is full",
}


_UPDATE_PREFIX = bytes((protocol.MSG_SYNC, protocol.SYNC_UPDATE))
_STEP2_PREFIX = bytes((protocol.MSG_SYNC, protocol.SYNC_STEP2))
_AWARENESS = bytes((protocol.MSG_AWARENESS,))
_MERGE_MAX = 64
# Merged runs of update messages, by the run: every peer of a room that fell behind by the
# same messages (the same objects, so the lookup is an identity compare) shares one merge.
_merged: dict[tuple[bytes, ...], bytes] = {}


def _next_message(queue: deque[bytes]) -> tuple[bytes, int]:
    """The next message to send: a run of queued document updates becomes one update.
    Also returns how many queued bytes it took off the queue."""
    first = queue.popleft()
    if not queue or not first.startswith(_UPDATE_PREFIX) \
            or not queue[0].startswith(_UPDATE_PREFIX):
        return first, len(first)
    run = [first]
    while queue and len(run) < _MERGE_MAX and queue[0].startswith(_UPDATE_PREFIX):
        run.append(queue.popleft())
    key = tuple(run)
    merged = _merged.get(key)
    if merged is None:
        try:
            updates = [_update_of(m) for m in run]
            merged = protocol.sync_update(merge_updates(*updates))
        except (ProtocolError, ValueError):  # not expected: send them one by one instead
            queue.extendleft(reversed(run[1:]))
            return first, len(first)
        if len(_merged) >= 256:
            _merged.clear()
        _merged[key] = merged
    return merged, sum(len(m) for m in run)


def _update_of(message: bytes) -> bytes:
    msg = protocol.decode(message)
    if not isinstance(msg, protocol.SyncUpdate):
        raise ProtocolError(ProtocolReason.BAD_UPDATE, "not an update message")
    return msg.update


# The frame of the last message sent. A broadcast hands the same message object to every
# peer in turn, so it is framed once, not once per reader (this holds a reference to the
# message, so an identity match is always the same bytes).
_last_message = b""
_last_frame = binary_frame(b"")


def _frame_of(message: bytes) -> bytes:
    global _last_message, _last_frame
    if message is not _last_message:
        _last_message, _last_frame = message, binary_frame(message)
    return _last_frame


_last_many: tuple[bytes, ...] = ()
_last_many_frames = b""


def _frames_of(messages: tuple[bytes, ...]) -> bytes:
    global _last_many, _last_many_frames
    if messages is not _last_many:
        _last_many = messages
        _last_many_frames = b"".join(binary_frame(m) for m in messages)
    return _last_many_frames


# Each this many bytes of a message cost one more token of its sender's budget: reading a
# peer's update is a pass over it (sync/updates.py), so a flood of large messages is held
# back like a flood of many small ones.
BYTES_PER_TOKEN = 4096


class MessageBudget:
    """A token bucket of incoming messages for one websocket: ``rate`` a second on average,
    ``burst`` at once, each message costing one token and one more per
    :data:`BYTES_PER_TOKEN` bytes. A client over it is read more slowly (see ``spend``),
    never cut off: a person's tab sends far fewer (dragging a block is about 60 updates a
    second), so only a flood waits, and it cannot take the process's event loop from every
    other room."""

    __slots__ = ("at", "burst", "holds", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.at = time.monotonic()
        self.holds = 0

    def spend(self, size: int = 0) -> float:
        """Count one message of ``size`` bytes received; the seconds to wait before reading
        the next (0.0: none). A client past its budget waits until it may send a few more
        (50 ms worth), so a flood costs one pause every few messages, not one per
        message."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        cost = 1.0 + size // BYTES_PER_TOKEN
        tokens = min(self.burst, self.tokens + (now - self.at) * self.rate) - cost
        self.at = now
        self.tokens = tokens
        if tokens >= 0:
            return 0.0
        self.holds += 1
        return (min(self.burst, max(1.0, self.rate * 0.05)) - tokens) / self.rate


class SocketPeer:
    """One websocket in a room. ``send`` and ``close`` never block and never raise.

    ``send`` writes straight to the socket (the server's direct lane, see
    :mod:`server.wsproto`) when nothing is queued before it and the socket is writable;
    otherwise it queues the message for this peer's sender task, which drains the queue
    through ordinary ASGI sends, waiting for the client to read. The queue is bounded in
    messages and in bytes: a client that stops reading is closed with 1013 (and one that
    reads nothing at all is closed by the ping timeout, since its pong never comes).
    """

    def __init__(self, ws: WebSocket, role: Role, token_hash: bytes, queue_max: int,
                 direct: DirectSocket | None = None, wants_saved: bool = False,
                 budget: MessageBudget | None = None,
                 queue_max_bytes: int = 32 << 20) -> None:
        self.ws = ws
        self.budget = budget if budget is not None else MessageBudget(0.0, 1)
        self.role = role
        self.wants_saved = wants_saved  # asked for the server's entry (``saved=1``)
        self.token_hash = token_hash
        self.queue_max = queue_max
        self.queue_max_bytes = queue_max_bytes
        self.direct = direct
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._answers = 0  # sync step 2 messages in the queue (see Room._answer_step1)
        self._draining = False  # the sender task holds a message it has not written yet
        self._closed = False
        # Futures made only while someone waits (not an Event each, with its own deque):
        # the sender waiting for messages, the connection's handler for the close.
        self._wake: asyncio.Future[None] | None = None
        self.closed_waiter: asyncio.Future[None] | None = None
        self.close_code = 1000
        self.close_reason = ""

    @property
    def can_write(self) -> bool:
        return self.role is Role.EDIT

    @property
    def is_closing(self) -> bool:
        return self._closed

    @property
    def answer_queued(self) -> bool:
        return self._answers > 0

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def _lane(self) -> DirectSocket | None:
        """The direct lane, when a message may take it: nothing is queued before it."""
        return None if self._queue or self._draining else self.direct

    def send(self, message: bytes) -> None:
        if self._closed:
            return
        lane = self._lane()
        if lane is not None and lane.write(_frame_of(message)):
            return
        queue = self._queue
        if len(queue) >= self.queue_max \
                or self._queued_bytes + len(message) > self.queue_max_bytes:
            log.warning("dropping a client that stopped reading (%d messages, %d bytes "
                        "queued)", len(queue), self._queued_bytes)
            self.close(1013, "too slow: messages piled up; reconnect")
            return
        queue.append(message)
        self._queued_bytes += len(message)
        if message.startswith(_STEP2_PREFIX):
            self._answers += 1
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def send_many(self, messages: tuple[bytes, ...]) -> None:
        if self._closed:
            return
        lane = self._lane()
        if lane is not None and lane.write(_frames_of(messages)):
            return
        for message in messages:
            self.send(message)

    def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.close_code = code
        self.close_reason = reason.encode()[:120].decode(errors="ignore")
        self._queue.clear()
        self._queued_bytes = self._answers = 0
        if self.direct is not None:
            self.direct.on_bytes = None
        waiter = self.closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run_sender(self) -> None:
        ws = self.ws
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                self._wake = loop.create_future()
                try:
                    await self._wake
                finally:
                    self._wake = None
            self._draining = True
            try:
                while queue:
                    if queue[0].startswith(_STEP2_PREFIX):
                        self._answers -= 1
                    message, taken = _next_message(queue)
                    self._queued_bytes -= taken
                    await ws.send_bytes(message)
            finally:
                self._draining = False


def origin_allowed(ws: WebSocket, allowed: tuple[str, ...], public_url: str) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin on websockets
    origin = origin.rstrip("/")
    if "*" in allowed or origin in allowed:
        return True
    if public_url and origin == _origin_of(public_url):
        return True
    host = ws.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    await ws.accept()
    await ws.close(code, reason)


async def sync_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    s = services.settings
    room_id = ws.path_params["room"]
    if not origin_allowed(ws, s.allowed_origins, s.public_url):
        await _refuse(ws, 4403, "origin not allowed")
        return
    version = ws.query_params.get("protocol")
    if version is not None and version != str(PROTOCOL_VERSION):
        newer = version.isdigit() and int(version) > PROTOCOL_VERSION
        await _refuse(ws, 4099, "server_too_old" if newer else "client_too_old")
        return
    if not ROOM_ID.match(room_id):
        await _refuse(ws, 4404, "no such canvas")
        return
    ip = services.client_ip(ws)
    held = services.sockets_by_ip.get(ip, 0)
    if s.ws_connections_per_ip and held >= s.ws_connections_per_ip:
        # Counted before the room is looked up: a flood of sockets costs no query.
        services.rate_limited["websockets"] = services.rate_limited.get("websockets", 0) + 1
        await _refuse(ws, 1013, f"too many connections from your address (the limit is "
                                f"{s.ws_connections_per_ip}); try again later")
        return
    services.sockets_by_ip[ip] = held + 1
    try:
        await _open(ws, services, room_id)
    finally:
        left = services.sockets_by_ip[ip] - 1
        if left:
            services.sockets_by_ip[ip] = left
        else:
            del services.sockets_by_ip[ip]


async def _open(ws: WebSocket, services: Services, room_id: str) -> None:
    s = services.settings
    token = ws.query_params.get("token")
    try:
        record = await services.store.get_room(room_id)
        if record is None:
            await _refuse(ws, 4404, "no such canvas")
            return
        role = role_for(record, token)
    except CapabilityError as exc:
        await _refuse(ws, 4401, str(exc))
        return
    except StoreError:
        await _refuse(ws, 1011, "the canvas could not be loaded; retrying")
        return
    await ws.accept()
    try:
        room = await services.rooms.acquire(room_id)
    except RoomLoadError as exc:
        log.error("room %s could not be loaded: %s", room_id, exc, extra={"room": room_id})
        await ws.close(1011, "the canvas could not be loaded; retrying")
        return
    direct = ws.scope.get("extensions", {}).get(EXTENSION)
    peer = SocketPeer(ws, role, hash_token(token or ""), s.send_queue_max,
                      direct if isinstance(direct, DirectSocket) else None,
                      wants_saved=ws.query_params.get("saved") == "1",
                      budget=MessageBudget(s.ws_messages_per_second, s.ws_messages_burst),
                      queue_max_bytes=s.send_queue_max_bytes)
    services.rooms.stats.connections_total += 1
    try:
        await _serve(ws, room, peer, s.max_message_bytes)
    finally:
        room.leave(peer)
        await services.rooms.release(room)


async def _serve(ws: WebSocket, room: Room, peer: SocketPeer, max_bytes: int) -> None:
    room.join(peer)
    if peer.direct is not None:
        direct = peer.direct

        def on_bytes(data: bytes) -> float:
            if not handle_message(room, peer, data, max_bytes):
                direct.on_bytes = None
                return 0.0
            return _spend(room, peer, len(data))

        direct.on_bytes = on_bytes
    loop = asyncio.get_running_loop()
    reader = loop.create_task(_read(ws, room, peer, max_bytes))
    sender = loop.create_task(peer.run_sender())
    closed = peer.closed_waiter = loop.create_future()  # a future, not a third task
    if peer.is_closing:
        closed.set_result(None)
    tasks: set[asyncio.Future[None]] = {reader, sender, closed}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if peer.direct is not None:
            peer.direct.on_bytes = None
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError,
                                     RuntimeError):
                await t
    if peer.is_closing:
        room.stats.closed(peer.close_code)
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError, TimeoutError):
            await asyncio.wait_for(ws.close(peer.close_code, peer.close_reason), 2)


async def _read(ws: WebSocket, room: Room, peer: SocketPeer, max_bytes: int) -> None:
    """Messages that take the ordinary ASGI path (all of them without the direct lane),
    and the disconnect."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            peer.close(1003, "text frames are not part of the protocol")
            return
        if not handle_message(room, peer, data, max_bytes):
            return
        wait = _spend(room, peer, len(data))
        if wait:
            await asyncio.sleep(wait)  # uvicorn reads no more while its queue is full


def _spend(room: Room, peer: SocketPeer, size: int) -> float:
    """Count a message against the peer's budget; how long to hold its next one."""
    wait = peer.budget.spend(size)
    if wait:
        room.stats.ws_throttled += 1
        if peer.budget.holds == 1:
            log.warning("a client in room %s sends more than %g messages a second; reading "
                        "it more slowly", room.id, peer.budget.rate, extra={"room": room.id})
    return wait


def handle_message(room: Room, peer: SocketPeer, data: bytes, max_bytes: int) -> bool:
    """Handle one binary message from a peer; ``False`` once the peer is being closed."""
    if peer.is_closing:
        return False
    if len(data) > max_bytes:
        peer.close(1009, f"message of {len(data)} bytes; the limit is {max_bytes}")
        return False
    if data[:1] == _AWARENESS:
        stats = room.stats
        stats.awareness_in += 1
        if room.is_echo(data, peer):
            stats.awareness_echoes += 1
            return True
    try:
        room.receive(peer, protocol.decode(data))
    except ProtocolError as exc:
        peer.close(4400, f"{exc.reason.value}: {exc.detail}")
    except CapabilityError as exc:
        code = 4403 if exc.reason is CapabilityReason.READ_ONLY else 4401
        peer.close(code, str(exc))
    except DocumentTooLargeError as exc:
        peer.close(4413, str(exc))
    except BacklogFullError as exc:
        peer.close(1013, str(exc))
    except Exception:  # a defect: this connection ends, the room and the server go on
        log.exception("unexpected error handling a message in room %s", room.id,
                      extra={"room": room.id})
        peer.close(1011, "internal error")
    return not peer.is_closing
