"""The child process that reads checkpoints for :mod:`sync.checkpoint_work`
(``python -m sync._checkpoint_child``).

It reads requests from stdin and writes answers to stdout, one at a time, until stdin
ends (its parent closed it, or died: either way it exits then, so it never outlives the
server by more than the computation in hand). Each message is framed:

    request:  op (1 byte: ``p`` preview, ``r`` restore), then each argument as an 8-byte
              big-endian length and its bytes (``p``: the checkpoint; ``r``: the current
              document, then the checkpoint)
    answer:   status (1 byte: ``o`` done, ``d`` nested too deep, ``e`` unreadable), then
              an 8-byte length and the payload (the result, the depth limit in ASCII, or
              a message)

Why its own program rather than ``multiprocessing``: a spawned ``multiprocessing`` child
first runs the parent's main module again, which starts whatever that module starts
unless it is guarded; this one imports only the sync layer.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import Any, BinaryIO, Final

from pycrdt import Doc

from .errors import DocumentTooDeepError
from .history import preview, restore_into

PREVIEW: Final = b"p"
RESTORE: Final = b"r"
DONE: Final = b"o"
TOO_DEEP: Final = b"d"
UNREADABLE: Final = b"e"
ARGS: Final = {PREVIEW: 1, RESTORE: 2}
LENGTH: Final = struct.Struct(">Q")


def render_preview(data: bytes) -> bytes:
    """The checkpoint's canvas as JSON, byte for byte as Starlette's ``JSONResponse``
    encodes it."""
    return json.dumps(preview(data), ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


def restore_change(current: bytes, data: bytes) -> bytes:
    """The Yjs update that turns the document ``current`` into checkpoint ``data``'s
    content, made as :func:`sync.history.restore_into` makes it, by a client of its own.
    Applied to the live room (which holds at least ``current``) it changes what
    ``restore_into`` would have changed there; edits made meanwhile are merged, as any two
    concurrent edits are."""
    doc: Doc[Any] = Doc()
    doc.apply_update(current)
    before = doc.get_state()
    restore_into(doc, data)
    return doc.get_update(before)


def _read(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer(out: BinaryIO, status: bytes, payload: bytes) -> None:
    out.write(status + LENGTH.pack(len(payload)))
    out.write(payload)
    out.flush()


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    while True:
        op = inp.read(1)
        if op not in ARGS:
            return  # end of input (or a parent speaking nonsense): stop
        args = []
        for _ in range(ARGS[op]):
            head = _read(inp, LENGTH.size)
            body = _read(inp, LENGTH.unpack(head)[0]) if head is not None else None
            if body is None:
                return
            args.append(body)
        try:
            result = render_preview(*args) if op == PREVIEW else restore_change(*args)
        except DocumentTooDeepError as exc:
            _answer(out, TOO_DEEP, str(exc.limit).encode())
        except (ValueError, RecursionError) as exc:  # not a Yjs update pycrdt can read
            _answer(out, UNREADABLE, str(exc).encode("utf-8", "replace")[:500])
        else:
            _answer(out, DONE, result)


def main() -> None:
    # The answers own stdout: anything else printed goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
