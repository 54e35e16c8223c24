"""The ``BlobStore`` seam: where image bytes live (S3-compatible bucket or local disk).

Keys are ``/``-separated paths of ``[A-Za-z0-9._-]`` segments; no segment is empty or
starts with a dot (so no ``..``, no hidden files), and no key starts with ``/``. Every
store checks keys with :func:`check_key` so a key that works on one works on all.

Uploads never pass through a process that has to trust them: the server hands the
browser an :class:`UploadTarget` whose signature covers the key, the content type and
the exact length, then verifies what arrived before anything else sees it.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from .errors import BlobError, BlobErrorKind

MAX_KEY_LENGTH = 512
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # fullmatch: no trailing newline


@dataclasses.dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    content_type: str
    etag: str  # opaque, without quotes


@dataclasses.dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a client sends one object: ``method url`` with exactly ``headers``
    and a body of the signed length (browsers set Content-Length themselves)."""

    url: str
    method: str
    headers: Mapping[str, str]


def check_key(key: str) -> str:
    """``key`` if it is a valid blob key, else BlobError(INVALID_KEY)."""
    if (not key or len(key) > MAX_KEY_LENGTH
            or not all(_SEGMENT.fullmatch(part) for part in key.split("/"))):
        raise BlobError(BlobErrorKind.INVALID_KEY, f"not a valid blob key: {key[:80]!r}",
                        key=key[:80])
    return key


def signing_window(expires: float, now: float | None = None) -> tuple[int, int]:
    """``(start, lifetime)`` of a presigned GET handed out now: the current window of
    ``expires`` seconds started at ``start`` (epoch seconds, a multiple of the window), and
    a URL signed as of then is valid for ``lifetime``: two windows (at most 7 days), so at
    least one from any moment of the window."""
    window = max(1, min(int(expires), MAX_PRESIGN_SECONDS // 2))
    moment = time.time() if now is None else now
    return int(moment // window) * window, 2 * window


def check_prefix(prefix: str) -> str:
    """A listing prefix: a key, a key ending in ``/``, or empty (everything)."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


@runtime_checkable
class BlobStore(Protocol):
    """An object store. Every method raises BlobError; ``get``/``get_range`` raise it with
    kind OBJECT_MISSING for a missing key, ``head`` returns None, ``delete`` does nothing."""

    async def put(self, key: str, data: bytes, content_type: str) -> BlobInfo: ...

    async def get(self, key: str) -> bytes: ...

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object (cut short at its end)."""
        ...

    async def head(self, key: str) -> BlobInfo | None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; returns how many."""
        ...

    async def list_prefix(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted."""
        ...

    async def presign_put(self, key: str, content_type: str, size: int,
                          expires: float) -> UploadTarget:
        """A URL valid for ``expires`` seconds that accepts exactly one body of ``size``
        bytes sent with ``Content-Type: content_type``, stored under ``key``, and only
        while nothing is stored at ``key``: a second PUT of the URL is refused and changes
        nothing (S3: a signed ``If-None-Match: *``; disk: the upload endpoint)."""
        ...

    async def presign_get(self, key: str, expires: float) -> str | None:
        """A URL a browser can read the object from for at least ``expires`` seconds, or
        None when the server must stream the bytes itself. Every call within one window of
        ``expires`` seconds returns the same URL (valid until the next window ends), so
        browsers can keep what they fetched with it."""
        ...

    async def close(self) -> None: ...
