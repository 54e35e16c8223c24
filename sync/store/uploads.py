"""Pending image uploads in PostgreSQL (table ``uploads``, migration 0002).

An upload row is created when a presigned target is handed out and moves
``pending -> processing -> done | rejected``. Claiming is one conditional UPDATE, so two
``complete`` calls racing for one upload cannot both process it, and a replay after the
first finished is told so. A transient failure while processing releases the claim so
the person can retry.

A signed upload URL is good for one body. The store refuses a PUT to a key that already
holds an object (disk: :meth:`~sync.blobs.DiskBlobStore.put_upload`; S3: the signed
``If-None-Match: *``), and when an upload ends (done or rejected) its raw object is not
deleted but replaced by an empty marker (:func:`spend_raw`), so the URL stays spent while
it is still valid; cleanup deletes the marker with the row. A PUT that the disk endpoint
refuses (wrong type or size) ends its upload as rejected (:func:`refuse_upload`), so the
URL is spent by that too. (S3 never tells us about the PUTs it refuses; those store
nothing, and the URL still takes one body of the signed type and size.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any

import asyncpg

from ..blobs import BlobError, BlobStore
from ..errors import StoreError, StoreReason
from ._queries import queries
from .postgres import CONNECTION_ERRORS

log = logging.getLogger(__name__)

SPENT_MARKER_TYPE = "application/x-arbor-spent-upload"


class UploadStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    REJECTED = "rejected"


@dataclasses.dataclass(frozen=True, slots=True)
class UploadRecord:
    id: str
    room_id: str
    key: str
    filename: str
    content_type: str
    size: int
    block_id: str | None
    status: UploadStatus
    image_key: str | None
    expires_at: dt.datetime
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class StaleUpload:
    id: str
    room_id: str
    key: str
    status: UploadStatus


def _record(row: Any) -> UploadRecord:
    return UploadRecord(row["id"], row["room_id"], row["key"], row["filename"],
                        row["content_type"], int(row["size"]), row["block_id"],
                        UploadStatus(row["status"]), row["image_key"], row["expires_at"],
                        row["created_at"])


@asynccontextmanager
async def _conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    try:
        async with pool.acquire() as conn:
            yield conn
    except CONNECTION_ERRORS as exc:
        raise StoreError(StoreReason.CONNECTION, f"PostgreSQL unreachable: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(StoreReason.QUERY, f"PostgreSQL error: {exc}") from exc


async def create_upload(pool: asyncpg.Pool, *, upload_id: str, room_id: str, key: str,
                        filename: str, content_type: str, size: int, block_id: str | None,
                        ttl: float) -> UploadRecord:
    """Record a pending upload that expires ``ttl`` seconds from now (database clock)."""
    async with _conn(pool) as c:
        row = await c.fetchrow(queries["create_upload"], upload_id, room_id, key, filename,
                               content_type, size, block_id, float(ttl))
    return _record(row)


async def get_upload(pool: asyncpg.Pool, upload_id: str) -> UploadRecord | None:
    async with _conn(pool) as c:
        row = await c.fetchrow(queries["get_upload"], upload_id)
    return None if row is None else _record(row)


async def claim_upload(pool: asyncpg.Pool, upload_id: str, room_id: str) -> UploadRecord | None:
    """Move a pending, unexpired upload of ``room_id`` to processing; None if it is not
    one (look it up with :func:`get_upload` to say why)."""
    async with _conn(pool) as c:
        row = await c.fetchrow(queries["claim_upload"], upload_id, room_id)
    return None if row is None else _record(row)


async def release_upload(pool: asyncpg.Pool, upload_id: str) -> None:
    """Give a claimed upload back (processing failed for a reason that may pass)."""
    async with _conn(pool) as c:
        await c.execute(queries["release_upload"], upload_id)


async def finish_upload(pool: asyncpg.Pool, upload_id: str, status: UploadStatus,
                        image_key: str | None = None) -> None:
    async with _conn(pool) as c:
        await c.execute(queries["finish_upload"], upload_id, status.value, image_key)


async def refuse_upload(pool: asyncpg.Pool, upload_id: str) -> bool:
    """End a pending upload as rejected because a PUT to its URL was refused (the URL is
    spent); whether it was pending."""
    async with _conn(pool) as c:
        row = await c.fetchrow(queries["refuse_upload"], upload_id)
    return row is not None


async def spend_raw(blobs: BlobStore, key: str) -> None:
    """Replace an ended upload's raw object with an empty marker: its bytes are gone, and
    the store refuses every later PUT of its still-valid URL (the key is not empty)."""
    await blobs.put(key, b"", SPENT_MARKER_TYPE)


async def cleanup_expired_uploads(pool: asyncpg.Pool, blobs: BlobStore, *,
                                  grace: float = 300.0, stuck_after: float = 600.0,
                                  keep_finished: float = 30 * 86400.0,
                                  limit: int = 100) -> list[StaleUpload]:
    """Forget uploads nobody will complete and delete their raw objects: pending ones
    expired more than ``grace`` seconds ago (an upload that started just before expiry
    may still be arriving), claims older than ``stuck_after`` (the process died) once
    their URL expired too (else a PUT could land after the row is gone, and nothing would
    ever delete it), and finished rows older than ``keep_finished``. At most ``limit``
    per call; safe to run from several processes at once (rows are locked with SKIP
    LOCKED)."""
    async with _conn(pool) as c:
        rows = await c.fetch(queries["delete_stale_uploads"], float(grace), float(stuck_after),
                             float(keep_finished), limit)
    stale = [StaleUpload(r["id"], r["room_id"], r["key"], UploadStatus(r["status"]))
             for r in rows]
    for upload in stale:
        # A finished upload's raw key holds its spent marker (or nothing, if a marker
        # could not be written); its URL expired long ago, so the key can go.
        try:
            await blobs.delete(upload.key)
        except BlobError as exc:
            # The row is gone; the object stays until a bucket lifecycle rule on
            # ``uploads/`` removes it. Logged so the leak is visible.
            log.warning("could not delete the raw upload %s: %s", upload.key, exc)
    return stale
