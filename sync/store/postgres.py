"""PostgreSQL storage: rooms, share-link hashes, and each room's Yjs state.

A room's document is one snapshot plus an append-only log of updates. Compaction folds
the log into the snapshot inside one transaction that deletes exactly the rows it read,
so an update appended while compaction runs (even one whose sequence number commits out
of order) is never lost, and two processes compacting one room at once serialise on the
room row. The merge itself runs in a worker thread, so a large room does not stall the
event loop while the transaction waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from pycrdt import Doc

from ..errors import RoomLoadError, StoreError, StoreReason
from . import queries

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                     asyncpg.CannotConnectNowError, TimeoutError)


@dataclasses.dataclass(frozen=True, slots=True)
class RoomRecord:
    id: str
    edit_token_hash: bytes
    view_token_hash: bytes
    links_rotated_at: dt.datetime | None
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class StoredDocument:
    snapshot: bytes | None
    updates: list[bytes]

    def all(self) -> list[bytes]:
        return ([self.snapshot] if self.snapshot else []) + self.updates


@dataclasses.dataclass(frozen=True, slots=True)
class Compaction:
    merged: int
    snapshot_bytes: int


def _room(row: Any) -> RoomRecord:
    return RoomRecord(row["id"], bytes(row["edit_token_hash"]), bytes(row["view_token_hash"]),
                      row["links_rotated_at"], row["created_at"])


def _merge(updates: list[bytes]) -> bytes:
    """The document the updates make, as one update. Runs in a worker thread: the Doc is
    created, used and dropped there.

    Each update in a transaction of its own: yrs merges a transaction's new blocks into
    their neighbours when it commits, at a cost that grows with the square of how many
    there are, so one transaction around 15,000 updates held the GIL (and with it the
    event loop) for 25 s; one each takes milliseconds (``bench/merge.py``)."""
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset when a connection comes back: nothing beyond what asyncpg always
    does (roll back an open transaction, drop listeners). Its default also sends
    ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` each time: a
    round trip and four statements after every use (the persistence batch alone is four a
    second), for session state Arbor never sets (no LISTEN, session locks, cursors or
    SET; the compaction lock is taken inside its transaction)."""


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                             command_timeout=30, reset=_keep_session)
        except CONNECTION_ERRORS as exc:
            raise StoreError(StoreReason.CONNECTION,
                             f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise StoreError(StoreReason.CONNECTION, f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(StoreReason.QUERY, f"PostgreSQL error: {exc}") from exc

    async def ping(self) -> None:
        async with self._conn() as c:
            await c.fetchval("SELECT 1")

    # --- rooms ------------------------------------------------------------------------

    async def create_room(self, room_id: str, edit_hash: bytes, view_hash: bytes,
                          initial: bytes | None = None) -> RoomRecord:
        """Create a room, with ``initial`` as its first snapshot (title, schema version)."""
        async with self._conn() as c, c.transaction():
            row = await c.fetchrow(queries["create_room"], room_id, edit_hash, view_hash)
            if initial is not None:
                await c.execute(queries["upsert_snapshot"], room_id, initial, 0)
        return _room(row)

    async def get_room(self, room_id: str) -> RoomRecord | None:
        async with self._conn() as c:
            row = await c.fetchrow(queries["get_room"], room_id)
        return None if row is None else _room(row)

    async def rotate_room_tokens(self, room_id: str, edit_hash: bytes,
                                 view_hash: bytes) -> RoomRecord | None:
        async with self._conn() as c:
            row = await c.fetchrow(queries["rotate_room_tokens"], room_id, edit_hash, view_hash)
        return None if row is None else _room(row)

    # --- documents --------------------------------------------------------------------

    async def load_document(self, room_id: str) -> StoredDocument:
        """Read a room's snapshot and update log in one consistent read."""
        try:
            async with self._conn() as c, c.transaction(isolation="repeatable_read",
                                                         readonly=True):
                snapshot = await c.fetchval(queries["get_snapshot"], room_id)
                rows = await c.fetch(queries["get_updates"], room_id)
        except StoreError as exc:
            raise RoomLoadError(room_id, exc.reason, exc.detail) from exc
        return StoredDocument(None if snapshot is None else bytes(snapshot),
                              [bytes(r["data"]) for r in rows])

    async def append_update(self, room_id: str, data: bytes) -> int:
        async with self._conn() as c:
            seq: int = await c.fetchval(queries["append_update"], room_id, data)
        return seq

    async def append_updates(self, room_ids: list[str], data: list[bytes]) -> None:
        """Append one row per (room, update) pair in a single statement (one round trip)."""
        async with self._conn() as c:
            await c.execute(queries["append_updates"], room_ids, data)

    async def count_updates(self, room_id: str) -> int:
        async with self._conn() as c:
            n: int = await c.fetchval(queries["count_updates"], room_id)
        return n

    async def compact(self, room_id: str, extra: bytes | None = None) -> Compaction:
        """Fold the update log (and ``extra``, e.g. the state held in memory) into the
        snapshot, deleting exactly the rows that were folded in."""
        async with self._conn() as c, c.transaction():
            if await c.fetchval(queries["lock_room_for_compaction"], room_id) is None:
                return Compaction(0, 0)
            snapshot = await c.fetchval(queries["get_snapshot"], room_id)
            rows = await c.fetch(queries["get_updates"], room_id)
            if not rows and extra is None:
                return Compaction(0, len(snapshot or b""))
            updates = [bytes(snapshot)] if snapshot is not None else []
            updates += [bytes(r["data"]) for r in rows]
            if extra is not None:
                updates.append(extra)
            data = await asyncio.to_thread(_merge, updates)
            await c.execute(queries["upsert_snapshot"], room_id, data, len(rows))
            if rows:
                await c.execute(queries["delete_updates"], room_id, [r["seq"] for r in rows])
        return Compaction(len(rows), len(data))
