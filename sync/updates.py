"""What a Yjs update (v1 encoding) needs and adds, read without applying it.

A peer's update is untrusted. Applied as it is, one whose dependencies never arrive is
kept in the document's pending set: it adds memory and, once the document is encoded, bytes
to everything stored and sent, but none of it shows in the update the room observes, so a
size cap counted from those could be passed a hundredfold (issue 20, item 1). Reading the
update first costs a pass over the message, never over the document, and says:

- which clock ranges it inserts for each client (:attr:`Summary.ends`), and
- whether every struct can be integrated now against a document whose per-client clocks
  are known (:meth:`Summary.missing`): a struct that starts past what the document (plus
  the update itself) holds of its client, a reference (origin, right origin, parent item)
  to another client's clock not held, or a deletion of clocks not held.

The format is lib0's: ``structs`` (per client: count, client, first clock, then each
struct's info byte and fields) followed by a delete set. Only the v1 encoding is read;
y-websocket sends nothing else. Malformed input raises :class:`UpdateFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Summary", "UpdateFormatError", "read_state_vector", "read_update"]

_MAX_SAFE = (1 << 53) - 1


class UpdateFormatError(ValueError):
    """The bytes are not a v1 Yjs update (or state vector)."""


class _Reader:
    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0
        self.end = len(buf)

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise UpdateFormatError("truncated")
        self.pos = pos + 1
        return self.buf[pos]

    def uint(self) -> int:
        pos = self.pos
        if pos < self.end:
            b = self.buf[pos]
            if b < 0x80:  # one byte: most numbers in a small update
                self.pos = pos + 1
                return b
        return self._long_uint()

    def _long_uint(self) -> int:
        buf, pos, end = self.buf, self.pos, self.end
        value = shift = 0
        while True:
            if pos >= end:
                raise UpdateFormatError("truncated number")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
            if shift > 63:
                raise UpdateFormatError("number too long")
        self.pos = pos
        if value > _MAX_SAFE:
            raise UpdateFormatError("number past 2^53 - 1")
        return value

    def skip_int(self) -> None:
        """A signed varint (lib0 ``writeVarInt``): skipped, bounded like ``uint``."""
        for _ in range(10):
            if self.byte() < 0x80:
                return
        raise UpdateFormatError("number too long")

    def skip(self, n: int) -> None:
        if n > self.end - self.pos:
            raise UpdateFormatError("truncated")
        self.pos += n

    def skip_bytes(self) -> None:
        self.skip(self.uint())

    def string(self) -> str:
        n = self.uint()
        if n > self.end - self.pos:
            raise UpdateFormatError("truncated string")
        start = self.pos
        self.pos += n
        try:
            return self.buf[start:start + n].decode()
        except UnicodeDecodeError:
            raise UpdateFormatError("a string is not UTF-8") from None

    def skip_any(self, depth: int = 0) -> None:
        """lib0's ``readAny`` value, skipped; nesting is bounded so a crafted value cannot
        exhaust the stack."""
        if depth > 64:
            raise UpdateFormatError("value nested too deeply")
        tag = self.byte()
        if tag in (127, 126, 121, 120):  # undefined, null, false, true
            return
        if tag == 125:
            self.skip_int()
        elif tag == 124:
            self.skip(4)
        elif tag in (123, 122):
            self.skip(8)
        elif tag in (119, 116):  # string, Uint8Array
            self.skip_bytes()
        elif tag == 118:  # object
            for _ in range(self.uint()):
                self.skip_bytes()
                self.skip_any(depth + 1)
        elif tag == 117:  # array
            for _ in range(self.uint()):
                self.skip_any(depth + 1)
        else:
            raise UpdateFormatError(f"unknown value tag {tag}")


def _utf16_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _strings(r: _Reader) -> int:  # JSON content: a count of strings
    n = r.uint()
    for _ in range(n):
        r.skip_bytes()
    return n


def _one_buffer(r: _Reader) -> int:  # binary, embed
    r.skip_bytes()
    return 1


def _format(r: _Reader) -> int:  # key and value
    r.skip_bytes()
    r.skip_bytes()
    return 1


def _type(r: _Reader) -> int:  # a shared type; XML elements and hooks carry a name
    type_ref = r.uint()
    if type_ref in (3, 5):
        r.skip_bytes()
    elif type_ref > 6:
        raise UpdateFormatError(f"unknown type ref {type_ref}")
    return 1


def _values(r: _Reader) -> int:  # any: a count of values
    n = r.uint()
    for _ in range(n):
        r.skip_any()
    return n


def _subdoc(r: _Reader) -> int:  # guid and options
    r.skip_bytes()
    r.skip_any()
    return 1


# content ref (``info & 0x1f``) -> reads the content, returns the clocks it takes
_CONTENT = {
    1: _Reader.uint,  # deleted: its length
    2: _strings,
    3: _one_buffer,
    4: lambda r: _utf16_length(r.string()),  # string: its length in UTF-16 code units
    5: _one_buffer,
    6: _format,
    7: _type,
    8: _values,
    9: _subdoc,
}


@dataclass(slots=True)
class Summary:
    """What one update inserts, refers to and deletes."""

    # per client: [(first clock, end clock), ...] in the update's order; skips are absent
    ranges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    # (client of the referring struct, referenced client, referenced clock)
    refs: list[tuple[int, int, int]] = field(default_factory=list)
    # per client: the end of the highest deleted range
    deletes: dict[int, int] = field(default_factory=dict)
    structs: int = 0
    # (client, clock) of a reference to the referring client's own item at or past the
    # referring one's clock: nothing can be built on what came after it, and pycrdt keeps
    # such an item pending
    forward: tuple[int, int] | None = None

    @property
    def ends(self) -> dict[int, int]:
        """Each client's highest clock (exclusive) the update inserts."""
        return {c: max(end for _, end in rs) for c, rs in self.ranges.items() if rs}

    def missing(self, clocks: dict[int, int]) -> tuple[int, int] | None:
        """The first (client, clock) this update needs that neither ``clocks`` (what the
        document holds: each client's next clock) nor the update itself provides; ``None``
        when it can be integrated whole."""
        if self.forward is not None:
            return self.forward
        have: dict[int, int] = {}
        for client, ranges in self.ranges.items():
            held = clocks.get(client, 0)
            for start, end in ranges:
                if start > held:
                    return client, held
                held = max(held, end)
            have[client] = held
        for _client, ref_client, ref_clock in self.refs:
            if ref_clock >= have.get(ref_client, clocks.get(ref_client, 0)):
                return ref_client, ref_clock
        for client, end in self.deletes.items():
            held = have.get(client, clocks.get(client, 0))
            if end > held:
                return client, held
        return None

    def adds_nothing(self, clocks: dict[int, int]) -> bool:
        """Whether every struct is already held (a copy of what the document has): only
        its deletions, if any, could change anything."""
        return all(end <= clocks.get(client, 0)
                   for client, ranges in self.ranges.items() for _, end in ranges)


def _ref(r: _Reader, client: int, clock: int, out: Summary) -> None:
    """An id an item refers to (origin, right origin, parent item)."""
    ref_client, ref_clock = r.uint(), r.uint()
    if ref_client != client:
        out.refs.append((client, ref_client, ref_clock))
    elif ref_clock >= clock and out.forward is None:
        out.forward = (client, ref_clock)
    # else: a client's own earlier item, integrated before this one in clock order


def _item(r: _Reader, info: int, client: int, clock: int, out: Summary) -> int:
    """An item's fields after its info byte; the clocks it takes."""
    if info & 0x80:
        _ref(r, client, clock, out)
    if info & 0x40:
        _ref(r, client, clock, out)
    if not info & 0xC0:
        if r.uint() == 1:
            r.skip_bytes()  # a root type's name
        else:
            _ref(r, client, clock, out)
        if info & 0x20:
            r.skip_bytes()  # the key in a map
    content = _CONTENT.get(info & 0x1F)
    if content is None:
        raise UpdateFormatError(f"unknown content ref {info & 0x1F}")
    out.structs += 1
    return content(r)


def read_update(update: bytes) -> Summary:
    """Read a v1 update's structs and delete set (see the module docstring)."""
    r = _Reader(update)
    out = Summary()
    for _ in range(r.uint()):
        count = r.uint()
        client = r.uint()
        clock = r.uint()
        ranges = out.ranges.setdefault(client, [])
        for _ in range(count):
            info = r.byte()
            if info & 0x1F == 10:  # skip: a gap, nothing inserted
                clock += r.uint()
                continue
            # 0: GC, a run of collected items
            length = r.uint() if info & 0x1F == 0 else _item(r, info, client, clock, out)
            ranges.append((clock, clock + length))
            clock += length
        if not ranges:
            del out.ranges[client]
    _read_deletes(r, out)
    if r.pos != r.end:
        raise UpdateFormatError(f"{r.end - r.pos} bytes after the delete set")
    return out


def _read_deletes(r: _Reader, out: Summary) -> None:
    for _ in range(r.uint()):
        client = r.uint()
        top = out.deletes.get(client, 0)
        for _ in range(r.uint()):
            start = r.uint()
            top = max(top, start + r.uint())
        if top:
            out.deletes[client] = top


def read_state_vector(data: bytes) -> dict[int, int]:
    """A v1 state vector: each client's next clock."""
    r = _Reader(data)
    out: dict[int, int] = {}
    for _ in range(r.uint()):
        client = r.uint()
        out[client] = r.uint()
    if r.pos != r.end:
        raise UpdateFormatError("bytes after the state vector")
    return out
