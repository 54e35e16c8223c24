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
  as long as that queue is empty (so messages are never reordered). Text frames,
  fragmented messages, pings and closes still take the ordinary path, and the ASGI
  ``websocket.disconnect`` event still arrives through ``receive()``.

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

log = logging.getLogger(__name__)

EXTENSION = "arbor.direct"

_ATTRIBUTES = ("queue", "writable", "close_sent", "disconnected", "handshake_complete",
               "transport")
_METHODS = ("handle_connect", "handle_bytes")


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


class DirectSocket:
    """The direct lane of one connection (see the module docstring)."""

    __slots__ = ("_proto", "on_bytes")

    def __init__(self, proto: ArborWebSocketProtocol) -> None:
        self._proto = proto
        self.on_bytes: Callable[[bytes], None] | None = None

    def write(self, frame: bytes) -> bool:
        proto = self._proto
        if proto.close_sent or proto.disconnected or not proto.handshake_complete \
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

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            # The application's task was created above but has not run yet: it sees this.
            self.direct = DirectSocket(self)
            scope["extensions"][EXTENSION] = self.direct

    def handle_bytes(self, event: Any) -> None:
        direct = self.direct
        handler = direct.on_bytes if direct is not None else None
        if handler is None or not event.fin or self.close_sent or not self.queue.empty():
            super().handle_bytes(event)
            return
        data = event.data
        handler(data if type(data) is bytes else bytes(data))
