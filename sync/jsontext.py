"""The one reader of JSON that comes from outside: bounded in size and nesting, and (for
what may reach PostgreSQL) holding only text PostgreSQL can store.

Every JSON text a peer or a request can shape goes through :func:`loads`: HTTP bodies
(``server/api/rooms.py`` ``json_body``), awareness states (``sync/protocol.py``), gallery
cursors, and the JSON columns read back from the store. Why a reader of our own and not
``json.loads``:

- ``json.loads`` recurses once per level, so a body of 100,000 ``[`` raised
  ``RecursionError`` (a 500, and a traceback per awareness message), and a value a few
  hundred levels deep still parsed only to break whoever walked it next (encoding it again,
  converting it, storing it). The depth is counted before parsing, in time of the text's
  length: a C-level count of brackets answers at once for any text with fewer brackets
  than the bound (every state a browser sends), and only a text with more is scanned.
- A size bound: a body is read no further than :data:`MAX_BYTES`.
- PostgreSQL ``text`` and ``jsonb`` cannot hold U+0000, and a lone surrogate cannot be
  encoded as UTF-8 at all; JSON can spell both (``"\\u0000"``, ``"\\ud800"``). Stored, they
  failed the query (a 5xx, logged as a storage outage); ``storable=True`` refuses them with
  the rest of the malformed input, before any query.

Errors are :class:`~sync.errors.InputError`, mapped to 400 (413 for the size) at the edge.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Final

from .errors import InputError, InputReason

MAX_DEPTH: Final = 64  # arrays and objects inside one another; Arbor's own JSON nests < 6
MAX_BYTES: Final = 1 << 20  # a request body; Arbor's own are a few kilobytes

# A JSON string literal, and any byte that is not a bracket (for the depth scan).
_STRING_B = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRING_S = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET_B = re.compile(rb"[^\[\]{}]+")
_NOT_BRACKET_S = re.compile(r"[^\[\]{}]+")
# One step of depth per bracket: +1 opens, -1 closes (indexed by the bracket's code).
_STEP = [0] * 128
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
# What PostgreSQL text cannot hold: NUL, and surrogates (which only come alone from JSON).
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")


def depth(text: bytes | str) -> int:
    """How deeply arrays and objects nest in ``text`` (valid JSON; for anything else, an
    upper bound good enough to refuse it by). Strings are skipped whole, so brackets inside
    them do not count."""
    if isinstance(text, bytes):
        brackets = _NOT_BRACKET_B.sub(b"", _STRING_B.sub(b"", text))
        steps = map(_STEP.__getitem__, brackets)
    else:
        brackets_s = _NOT_BRACKET_S.sub("", _STRING_S.sub("", text))
        steps = map(_STEP.__getitem__, map(ord, brackets_s))
    return max(itertools.accumulate(steps, initial=0))


def _bracket_count(text: bytes | str) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def loads(text: bytes | str, *, what: str = "the text", max_bytes: int = MAX_BYTES,
          max_depth: int = MAX_DEPTH, storable: bool = False) -> Any:
    """Parse ``text``, refusing (:class:`InputError`) what is not JSON, longer than
    ``max_bytes``, nested deeper than ``max_depth``, or (``storable``) holding a string,
    key or value, that PostgreSQL cannot store. ``what`` names the input in messages."""
    if len(text) > max_bytes:
        raise InputError(InputReason.TOO_LARGE, f"{what} is longer than {max_bytes} bytes")
    if _bracket_count(text) > max_depth and depth(text) > max_depth:
        raise InputError(InputReason.TOO_DEEP,
                         f"{what} nests arrays and objects more than {max_depth} levels deep")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raise InputError(InputReason.NOT_JSON, f"{what} is not JSON") from None
    except RecursionError:  # not expected past the count above; never a 500 all the same
        raise InputError(InputReason.TOO_DEEP, f"{what} nests too deeply") from None
    if storable:
        check_storable(value, what)
    return value


def _no_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (``json.loads`` takes them; a browser's
    ``JSON.parse``, handed them on, throws)."""
    raise ValueError(f"{name} is not JSON")


def storable_text(text: str) -> bool:
    """Whether PostgreSQL ``text`` can hold ``text`` (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(text) is None


def check_storable(value: Any, what: str = "the text") -> None:
    """Refuse (:class:`InputError`) a parsed JSON value any of whose strings PostgreSQL
    cannot store. Walks without recursion (the value may come from elsewhere)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable_text(item):
                raise InputError(InputReason.BAD_TEXT,
                                 f"{what} holds a NUL character or a lone surrogate, "
                                 "which cannot be stored")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "check_storable", "depth", "loads", "storable_text"]
