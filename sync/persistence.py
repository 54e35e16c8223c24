"""Writes a room's accepted updates to PostgreSQL in small batches.

Every update this process accepted (from its peers or its own edits, not those relayed
from other processes, which their own process stores) is buffered and appended within
``flush_interval``, merged into one row per batch. When the log grows past
``compact_after`` rows it is compacted. A failed write keeps its batch and retries with
backoff; the buffer is bounded, and past the bound the room refuses new writes with a
clear log line rather than growing without limit. ``close`` returns only once everything
is stored: a room is never dropped while its writes are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from pycrdt import merge_updates

from .errors import ArborError, StoreError
from .room import LOAD, REMOTE, Room

if TYPE_CHECKING:
    from .awareness import Changes
    from .history import CheckpointStore
    from .store import PostgresStore

log = logging.getLogger(__name__)


class BacklogFullError(ArborError):
    def __init__(self, room: str, size: int) -> None:
        super().__init__("the server cannot save right now; try again shortly")
        self.room = room
        self.size = size


class RoomWriter:
    def __init__(self, room: Room, store: PostgresStore, *, flush_interval: float,
                 compact_after: int, max_buffer_bytes: int, stored_rows: int = 0,
                 checkpoints: CheckpointStore | None = None,
                 checkpoint_every: float = 600.0) -> None:
        self.room = room
        self.store = store
        self.flush_interval = flush_interval
        self.compact_after = compact_after
        self.max_buffer_bytes = max_buffer_bytes
        self.rows = stored_rows
        self._buffer: list[bytes] = []
        self._bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._urgent = asyncio.Event()
        self._warned_full = False
        self.checkpoints = checkpoints
        self.checkpoint_every = checkpoint_every
        self.active_since: float | None = None  # first change since the last checkpoint
        self.failures = 0
        self.failing = False
        self.stored_updates = 0
        self.pending_since: float | None = None  # when the oldest unsaved update arrived

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def is_idle(self) -> bool:
        return self._idle.is_set()

    # --- room extension hooks ------------------------------------------------------------

    def on_update(self, room: Room, update: bytes, origin: object) -> None:
        if origin is REMOTE or origin is LOAD:
            if self.is_idle():
                room.set_saved(room.state_after)
            return
        now = time.monotonic()
        if not self._buffer:
            self.pending_since = now
        if self.active_since is None:
            self.active_since = now
        self._buffer.append(update)
        self._bytes += len(update)
        self._idle.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def on_awareness(self, room: Room, changes: Changes) -> None:
        pass

    def before_write(self, room: Room, size: int) -> None:
        # Only while PostgreSQL refuses writes: a healthy writer drains within the interval.
        if self.failing and self._bytes + size > self.max_buffer_bytes:
            if not self._warned_full:
                log.error("persistence backlog full for room %s (%d bytes unsaved); "
                          "refusing writes until PostgreSQL accepts them", room.id, self._bytes,
                          extra={"room": room.id})
                self._warned_full = True
            raise BacklogFullError(room.id, self._bytes)

    # --- writing ----------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.flush_interval
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), self.flush_interval)
            while self._buffer:
                batch, self._buffer = self._buffer, []
                state = self.room.doc.get_state()
                data = batch[0] if len(batch) == 1 else merge_updates(*batch)
                try:
                    await self.store.append_update(self.room.id, data)
                except StoreError as exc:
                    self._buffer[:0] = batch
                    self.failures += 1
                    self.failing = True
                    self.room.stats.store_failures += 1
                    log.warning("could not store %d updates of room %s (%s); retrying in %.1fs",
                                len(batch), self.room.id, exc, backoff,
                                extra={"room": self.room.id})
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = self.flush_interval
                self.failing = False
                self._bytes -= sum(len(u) for u in batch)
                self.rows += 1
                self.stored_updates += len(batch)
                self.room.stats.stored_updates += len(batch)
                self.pending_since = time.monotonic() if self._buffer else None
                if self._warned_full and self._bytes < self.max_buffer_bytes // 2:
                    log.warning("persistence backlog of room %s drained", self.room.id,
                                extra={"room": self.room.id})
                    self._warned_full = False
                if not self._buffer:
                    self.room.set_saved(state)
                if self.rows >= self.compact_after:
                    await self._compact()
                if (self.active_since is not None
                        and time.monotonic() - self.active_since >= self.checkpoint_every):
                    await self.checkpoint("auto")
        finally:
            self._task = None
            self._urgent.clear()
            if not self._buffer:
                self._idle.set()
            else:  # cancelled with work left: start again so nothing is dropped
                self._task = asyncio.get_running_loop().create_task(self._run())

    async def _compact(self) -> None:
        # The room's whole in-memory state goes in too: that includes updates relayed from
        # other processes, so content whose own process died before storing it is stored
        # by every process that held it, at its next compaction or unload.
        try:
            result = await self.store.compact(self.room.id, extra=self.room.doc.get_update())
        except StoreError as exc:
            log.warning("compaction of room %s failed: %s", self.room.id, exc,
                        extra={"room": self.room.id})
            return
        self.rows = 0
        self.room.stats.compactions += 1
        self.room.size = result.snapshot_bytes or self.room.size
        log.debug("compacted room %s: %d rows", self.room.id, result.merged,
                  extra={"room": self.room.id})

    async def flush(self) -> None:
        """Wait until every update accepted so far is stored (now, not after the interval)."""
        self._urgent.set()
        if self._task is None and self._buffer:
            self._task = asyncio.get_running_loop().create_task(self._run())
        await self._idle.wait()

    async def checkpoint(self, reason: str) -> None:
        """Keep the room's whole state as a point in its history."""
        if self.checkpoints is None:
            return
        authors = sorted(self.room.authors)
        try:
            await self.checkpoints.create(self.room.id, self.room.doc.get_update(), reason,
                                          authors)
        except StoreError as exc:
            log.warning("checkpoint of room %s failed: %s", self.room.id, exc,
                        extra={"room": self.room.id})
            return
        self.room.authors.clear()
        self.active_since = None

    async def close(self, *, compact: bool = True) -> None:
        await self.flush()
        if self.active_since is not None:
            await self.checkpoint("unload")
        if compact:
            await self._compact()
