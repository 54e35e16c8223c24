"""The y-websocket wire protocol: decode a peer's frame into one typed message, encode ours.

A frame is ``varuint type`` followed by the type's payload:

- ``0`` sync: ``varuint step`` (0 step 1, 1 step 2, 2 update) + ``varbytes`` payload
- ``1`` awareness: ``varbytes`` awareness update
- ``2`` auth: ``varuint`` (0 = permission denied) + ``varstring`` reason (server to client)
- ``3`` query awareness: no payload

Decoding is strict: anything else (empty, truncated, trailing bytes, unknown types) raises
:class:`~sync.errors.ProtocolError`, and the connection that sent it is closed alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from . import jsontext
from .errors import InputError, ProtocolError, ProtocolReason

MSG_SYNC = 0
MSG_AWARENESS = 1
MSG_AUTH = 2
MSG_QUERY_AWARENESS = 3

SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

EMPTY_UPDATE = b"\x00\x00"

# The largest integer a JavaScript number holds exactly (Number.MAX_SAFE_INTEGER). lib0
# reads a larger varuint as an inexact float, and y-protocols then throws on the whole
# awareness update, dropping every other entry it carried: an id or clock past this would
# break presence for every browser it is relayed to.
MAX_SAFE_INTEGER: Final = (1 << 53) - 1
# The highest awareness clock a peer may send. The server announces clocks of its own,
# a little past the owner's (one more per rejoin, removal or newcomer; see
# sync/awareness.py), so a peer's clock at MAX_SAFE_INTEGER would have the server send one
# past it. A client adds one per change: 2^52 is never reached, and leaves the server as
# much room again.
MAX_PEER_CLOCK: Final = 1 << 52


@dataclasses.dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class AwarenessMessage:
    payload: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessMessage | QueryAwareness


class Reader:
    """Bounds-checked reader of lib0 variable-length encodings."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def uint(self) -> int:
        result = 0
        shift = 0
        buf = self.buf
        while True:
            if self.pos >= len(buf):
                raise ProtocolError(ProtocolReason.TRUNCATED, "message ends inside a number")
            byte = buf[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ProtocolError(ProtocolReason.TRUNCATED, "number longer than 64 bits")

    def bytes_(self) -> bytes:
        length = self.uint()
        end = self.pos + length
        if end > len(self.buf):
            raise ProtocolError(
                ProtocolReason.TRUNCATED,
                f"message announces {length} bytes but has {len(self.buf) - self.pos}",
            )
        data = self.buf[self.pos:end]
        self.pos = end
        return data

    def string(self) -> str:
        raw = self.bytes_()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(ProtocolReason.BAD_AWARENESS, "string is not UTF-8") from None

    def done(self) -> bool:
        return self.pos == len(self.buf)

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise ProtocolError(
                ProtocolReason.TRUNCATED, f"{len(self.buf) - self.pos} unexpected trailing bytes"
            )


def write_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def write_bytes(data: bytes) -> bytes:
    return write_uint(len(data)) + data


def decode(frame: bytes) -> Message:
    """Decode one binary frame from a peer."""
    if not frame:
        raise ProtocolError(ProtocolReason.EMPTY, "empty message")
    r = Reader(frame)
    kind = r.uint()
    msg: Message
    if kind == MSG_SYNC:
        step = r.uint()
        payload = r.bytes_()
        if step == SYNC_STEP1:
            msg = SyncStep1(payload)
        elif step == SYNC_STEP2:
            msg = SyncStep2(payload)
        elif step == SYNC_UPDATE:
            msg = SyncUpdate(payload)
        else:
            raise ProtocolError(ProtocolReason.UNKNOWN_TYPE, f"unknown sync step {step}")
    elif kind == MSG_AWARENESS:
        msg = AwarenessMessage(r.bytes_())
    elif kind == MSG_QUERY_AWARENESS:
        msg = QueryAwareness()
    else:
        raise ProtocolError(ProtocolReason.UNKNOWN_TYPE, f"unknown message type {kind}")
    r.end()
    return msg


def sync_step1(state_vector: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP1)) + write_bytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP2)) + write_bytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_UPDATE)) + write_bytes(update)


def awareness(payload: bytes) -> bytes:
    return bytes((MSG_AWARENESS,)) + write_bytes(payload)


def query_awareness() -> bytes:
    return bytes((MSG_QUERY_AWARENESS,))


def permission_denied(reason: str) -> bytes:
    return bytes((MSG_AUTH, 0)) + write_bytes(reason.encode())


# --- awareness updates ----------------------------------------------------------------------

class AwarenessEntry:
    """One client's entry in an awareness update. The JSON is parsed only when ``state`` is
    read: the server never parses the echoes stock clients send of other people's entries
    (with a hundred people in a room, that is most of what arrives)."""

    __slots__ = ("client_id", "clock", "raw")

    def __init__(self, client_id: int, clock: int, raw: bytes) -> None:
        self.client_id = client_id
        self.clock = clock
        self.raw = raw  # the JSON text as sent, relayed as is once validated

    @property
    def state(self) -> dict[str, Any] | None:
        """The state, a JSON object or ``None``; ProtocolError if it is neither (or nests
        deeper than :data:`~sync.jsontext.MAX_DEPTH`: a browser walks it)."""
        try:
            state = jsontext.loads(self.raw, what="awareness state", max_bytes=len(self.raw))
        except InputError as exc:
            raise ProtocolError(ProtocolReason.BAD_AWARENESS, exc.detail) from None
        if state is not None and not isinstance(state, dict):
            raise ProtocolError(ProtocolReason.BAD_AWARENESS,
                                "awareness state is not an object")
        return state


def decode_awareness(payload: bytes, *, max_state_bytes: int = 64 * 1024,
                     max_entries: int = 1024,
                     max_clock: int = MAX_PEER_CLOCK) -> list[AwarenessEntry]:
    """Split an awareness update into entries (their JSON is checked when read). Every id
    and clock is checked here, before anything is stored or relayed: the server relays
    entries to browsers, which cannot take one past :data:`MAX_SAFE_INTEGER`, and a peer's
    clock must leave the server room above it (:data:`MAX_PEER_CLOCK`). What the server
    itself sent (read back by a client) may go up to :data:`MAX_SAFE_INTEGER`."""
    r = Reader(payload)
    count = r.uint()
    if count > max_entries:
        raise ProtocolError(ProtocolReason.BAD_AWARENESS, f"{count} awareness entries")
    entries = []
    for _ in range(count):
        client_id = r.uint()
        if client_id > MAX_SAFE_INTEGER:
            raise ProtocolError(ProtocolReason.BAD_AWARENESS,
                                f"awareness client id {client_id} is past 2^53 - 1")
        clock = r.uint()
        if clock > max_clock:
            raise ProtocolError(ProtocolReason.BAD_AWARENESS,
                                f"awareness clock {clock} is past "
                                f"{'2^52' if max_clock == MAX_PEER_CLOCK else '2^53 - 1'}")
        raw = r.bytes_()
        if len(raw) > max_state_bytes:
            raise ProtocolError(ProtocolReason.BAD_AWARENESS, "awareness state too large")
        entries.append(AwarenessEntry(client_id, clock, raw))
    r.end()
    return entries


def encode_awareness(entries: list[tuple[int, int, bytes]]) -> bytes:
    """Encode (client id, clock, JSON text) triples as one awareness update."""
    parts = [write_uint(len(entries))]
    for client_id, clock, raw in entries:
        parts.append(write_uint(client_id))
        parts.append(write_uint(clock))
        parts.append(write_bytes(raw))
    return b"".join(parts)
