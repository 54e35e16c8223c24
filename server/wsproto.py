"""uvicorn's sans-I/O websocket protocol with a direct lane for the sync hot path.

Every document update goes to every other socket of its room, so one writer and 100
readers at 50 updates/s is 5,000 socket writes a second. Through ASGI each write is an
event set, a task wake-up, Starlette's state checks, uvicorn's ``send`` coroutine and a
frame built by ``websockets`` for every reader; each read is a queue put, a
``pause_reading``/``resume_reading`` pair and a task wake-up. Measured with
``bench/sync_load.py``, that machinery (not the socket) was most of the server's CPU.

This subclass adds one ASGI extension, :data:`EXTENSION`, holding a :class:`DirectSocket`:

- ``write(frame)`` puts an already framed server message (see :func:`binary_frame`; server
  frames are not masked, so one frame serves every reader of a broadcast) straight onto
  the transport, when nothing stops it: handshake done, no close sent, not disconnected,
  and the transport not paused by flow control. It returns ``False`` otherwise, and the
  caller falls back to ordinary ASGI sends (which wait for the transport to drain).
- ``on_bytes``: when the application sets it, each complete binary message is handed to it
  synchronously from ``data_received`` instead of going through the ASGI receive queue,
  as long as that queue is empty (so messages are never reordered). It returns how many
  seconds to wait before the next message (``0.0``: none): a client sending faster than
  its budget has the rest of what arrived kept here, and reading from its socket paused,
  until then (TCP pushes back on it; no other socket waits). Such a frame (final,
  binary, masked, no reserved bits, within the size limit) is cut from the byte stream and
  unmasked here; every other frame (text, fragments, ping, pong, close, anything
  malformed) is handed whole to the stock parser, which stays at a frame boundary and
  answers it as before. The ASGI ``websocket.disconnect`` event still arrives through
  ``receive()``.

Where the extension is absent (another server, the test client) the application uses
plain ASGI, which stays correct, only slower. The protocol's attributes used here are
checked when this module is imported (:data:`SUPPORTED`): on a uvicorn that no longer has
them, ``arbor serve`` uses the stock protocol and says so in its log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

try:  # websockets' C unmasking, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without the C extension
    from websockets.utils import apply_mask

log = logging.getLogger(__name__)

EXTENSION = "arbor.direct"

_ATTRIBUTES = ("queue", "writable", "close_sent", "disconnected", "handshake_complete",
               "transport", "conn", "read_paused", "loop")
_METHODS = ("handle_connect", "data_received")


def _supported() -> bool:
    """Whether the installed uvicorn's protocol still has what this subclass relies on."""
    init = getattr(WebSocketsSansIOProtocol.__init__, "__code__", None)
    assigned = init.co_names if init is not None else ()
    return all(a in assigned for a in _ATTRIBUTES) and all(
        callable(getattr(WebSocketsSansIOProtocol, m, None)) for m in _METHODS)


SUPPORTED = _supported()


def binary_frame(payload: bytes) -> bytes:
    """A final, unmasked binary websocket frame (RFC 6455 section 5.2) holding ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((0x82, n)) + payload
    if n < 65536:
        return b"\x82\x7e" + n.to_bytes(2, "big") + payload
    return b"\x82\x7f" + n.to_bytes(8, "big") + payload


def frame_header(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """(header length with the mask, payload length) of the frame at ``buf[pos:end]``, or
    ``None`` while its header is incomplete."""
    if end - pos < 2:
        return None
    b1 = buf[pos + 1]
    size, head = b1 & 0x7F, 2
    if size == 126:
        if end - pos < 4:
            return None
        size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
    elif size == 127:
        if end - pos < 10:
            return None
        size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
    return (head + 4 if b1 & 0x80 else head), size


class DirectSocket:
    """The direct lane of one connection (see the module docstring)."""

    __slots__ = ("_proto", "on_bytes")

    def __init__(self, proto: ArborWebSocketProtocol) -> None:
        self._proto: ArborWebSocketProtocol | None = proto  # None once released
        self.on_bytes: Callable[[bytes], float] | None = None

    def write(self, frame: bytes) -> bool:
        proto = self._proto
        if proto is None or proto.close_sent or proto.disconnected or not proto.handshake_complete \
                or not proto.writable.is_set():
            return False
        transport = proto.transport
        if transport.is_closing():
            return False
        transport.write(frame)
        return True


class ArborWebSocketProtocol(WebSocketsSansIOProtocol):
    """Passed to uvicorn as ``ws=``; behaves as the stock protocol plus :data:`EXTENSION`."""

    direct: DirectSocket | None = None
    _partial = b""  # the start of a frame whose end has not arrived yet
    _fragmented = False  # the stock parser is inside a fragmented message
    _stock = False  # everything goes to the stock parser from now on
    _held = False  # the client is over its budget: what arrives waits in _partial
    _hold_ended = float("-inf")  # loop time the last hold ended

    _app_done = False  # the application's task has returned
    _lost = False  # the transport reported the connection lost

    async def run_asgi(self) -> None:
        try:
            await super().run_asgi()
        finally:
            self._app_done = True
            self._release()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        self._release()

    def _release(self) -> None:
        """Once the connection is lost and the application has returned, nothing uses this
        protocol again: cut the reference cycles it sits in (with its transport, its
        direct lane, and the websockets parser's generator), so its objects (about fifty a
        connection) are freed at once rather than at the collector's next full pass. 500
        closed rooms otherwise left some 6 MB of such garbage waiting (bench (e))."""
        if not (self._lost and self._app_done):
            return
        direct = self.direct
        if direct is not None:
            direct.on_bytes = None
            direct._proto = None
            self.direct = None
        self.conn.parser = None  # type: ignore[assignment]
        self.transport = None  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            # The application's task was created above but has not run yet: it sees this.
            self.direct = DirectSocket(self)
            scope["extensions"][EXTENSION] = self.direct

    def data_received(self, data: bytes) -> None:
        if self.direct is None or self._stock:
            super().data_received(data)  # the handshake (or a frame past the size limit)
            return
        if self._held:  # read anyway (the stock receive() resumes reading when it may)
            self._partial += data
            self.transport.pause_reading()
            return
        # After the handshake every frame is cut here, so the stock parser only ever sees
        # whole frames and is always at a frame boundary when it gets the next one.
        buf = self._partial + data if self._partial else data
        self._partial = b""
        pos, end = 0, len(buf)
        limit = self.conn.max_message_size
        wait = 0.0
        while (found := frame_header(buf, pos, end)) is not None:
            head, size = found
            if limit is not None and size > limit:
                self._stock = True  # the stock parser refuses it: close 1009
                super().data_received(buf[pos:])
                return
            stop = pos + head + size
            if stop > end:
                break
            handler = self.direct.on_bytes
            if buf[pos] == 0x82 and buf[pos + 1] & 0x80 and handler is not None \
                    and not self._fragmented and not self.close_sent and self.queue.empty():
                wait = handler(apply_mask(buf[pos + head:stop], buf[pos + head - 4:pos + head]))
            else:
                self._to_stock(buf[pos:stop])
            if self.transport.is_closing():
                return
            pos = stop
            if wait:
                break
        if pos < end:
            self._partial = buf[pos:]
        if wait:
            self._held = True
            self.transport.pause_reading()
            self.loop.call_later(wait, self._end_hold)

    def _end_hold(self) -> None:
        self._held = False
        self._hold_ended = self.loop.time()
        transport = self.transport
        if transport is None or transport.is_closing() or self.direct is None:
            return
        if not self.read_paused:  # else the stock receive() resumes it, as it would have
            transport.resume_reading()
        if self._partial:
            self.data_received(b"")

    def keepalive_timeout(self) -> None:
        """The pong deadline passed. A client held to its budget answers the ping only
        after the messages it sent before the pong, which are read at the budget's pace:
        with over ``ping_timeout`` seconds of them waiting, the stock protocol closed it
        (1011, "keepalive ping timeout"), losing what it had not yet been read. So while
        the client is held, or was within the timeout, the deadline is renewed; one that
        stops sending and stops answering is held no more, and is dropped as before."""
        timeout = self.ping_timeout
        if timeout and (self._held or self.loop.time() - self._hold_ended < timeout):
            self.pong_timer = self.loop.call_later(timeout, self.keepalive_timeout)
            return
        super().keepalive_timeout()

    def _to_stock(self, frame: bytes) -> None:
        """One whole frame through the stock parser (which answers pings, closes, errors)."""
        opcode = frame[0] & 0x0F
        if opcode in (0x01, 0x02):
            self._fragmented = not frame[0] & 0x80
        elif opcode == 0x00 and frame[0] & 0x80:
            self._fragmented = False
        super().data_received(frame)
