"""Writes the rooms' accepted updates to PostgreSQL in small batches.

Every update this process accepted (from its peers or its own edits, not those relayed
from other processes, which their own process stores) is buffered by its room's
``RoomWriter`` and appended within ``flush_interval``, merged into one row per room and
batch. One ``BatchWriter`` per process writes every room's pending row in one round trip
(one multi-row INSERT), so a thousand quiet rooms cost four statements a second, not
four thousand. When a room's log grows past ``compact_after`` rows it is compacted (in
the background: other rooms' writes do not wait for it). A failed write keeps every batch
in it and retries with backoff, in order; each room's buffer is bounded, and past the bound
the room refuses new writes with a clear log line rather than growing without limit.
``flush`` waits for exactly the updates accepted before it, and ``close`` returns only
once everything is stored: a room is never dropped while its writes are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING

from pycrdt import merge_updates

from .errors import ArborError, StoreError, StoreReason
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


class _Taken:
    """One room's share of a batch in flight."""

    __slots__ = ("data", "since", "size", "state", "updates", "writer")

    def __init__(self, writer: RoomWriter, updates: list[bytes], size: int, state: bytes,
                 since: float) -> None:
        self.writer = writer
        self.updates = updates
        self.size = size
        self.state = state  # the room's state vector when the batch was cut
        self.since = since
        self.data = updates[0] if len(updates) == 1 else merge_updates(*updates)


class BatchWriter:
    """The process's one writer: every flush interval, every room's pending updates are
    written in a single round trip. A batch that fails is put back in front of what each
    room accepted since, and the whole is retried with backoff."""

    def __init__(self, store: PostgresStore, *, flush_interval: float) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self._dirty: dict[RoomWriter, None] = {}  # writers with buffered updates
        self._task: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()
        self.batches = 0
        self.failures = 0

    def schedule(self, writer: RoomWriter) -> None:
        self._dirty[writer] = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def urgent(self) -> None:
        self._urgent.set()

    async def _run(self) -> None:
        backoff = self.flush_interval
        try:
            while self._dirty:
                oldest = min(w.buffer_since for w in self._dirty)
                delay = oldest + self.flush_interval - time.monotonic()
                if delay > 0 and not self._urgent.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), delay)
                self._urgent.clear()
                writers, self._dirty = list(self._dirty), {}
                taken = [t for t in (w.take() for w in writers) if t is not None]
                if not taken:
                    continue
                try:
                    failed = await self._write(taken)
                except BaseException:  # cancelled mid-write: keep everything for next time
                    for t in reversed(taken):
                        t.writer.put_back(t)
                        self._dirty[t.writer] = None
                    raise
                self.batches += 1
                for t in taken:
                    if t.writer in failed:
                        t.writer.put_back(t)
                        self._dirty[t.writer] = None
                    else:
                        t.writer.stored(t)
                if failed:
                    self.failures += 1
                    exc = next(iter(failed.values()))
                    log.warning("could not store %d updates of %d rooms (%s); retrying in %.1fs",
                                sum(len(t.updates) for t in taken if t.writer in failed),
                                len(failed), exc, backoff,
                                extra={"room": next(iter(failed)).room.id})
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                else:
                    backoff = self.flush_interval
        finally:
            self._task = None
            if self._dirty:  # cancelled with work left: start again so nothing is dropped
                self._task = asyncio.get_running_loop().create_task(self._run())

    async def _write(self, taken: list[_Taken]) -> dict[RoomWriter, StoreError]:
        """Store one row per room in one round trip; returns the writers that failed."""
        try:
            await self.store.append_updates([t.writer.room.id for t in taken],
                                            [t.data for t in taken])
            return {}
        except StoreError as exc:
            if exc.reason is StoreReason.CONNECTION or len(taken) == 1:
                return {t.writer: exc for t in taken}
        # PostgreSQL refused the statement itself (not the connection): store the rooms one
        # by one, so one room it refuses does not hold back every other room.
        failed: dict[RoomWriter, StoreError] = {}
        for t in taken:
            try:
                await self.store.append_update(t.writer.room.id, t.data)
            except StoreError as exc:
                failed[t.writer] = exc
        return failed


class RoomWriter:
    def __init__(self, room: Room, store: PostgresStore, *, flush_interval: float,
                 compact_after: int, max_buffer_bytes: int, stored_rows: int = 0,
                 checkpoints: CheckpointStore | None = None,
                 checkpoint_every: float = 600.0, batcher: BatchWriter | None = None) -> None:
        self.room = room
        self.store = store
        self.batcher = batcher or BatchWriter(store, flush_interval=flush_interval)
        self.flush_interval = flush_interval
        # Each room compacts a little past the threshold, at its own point (up to half as
        # many rows again): rooms created together (a class, a deploy's reconnect) would
        # otherwise all compact in the same second, every time.
        self.compact_after = compact_after + random.randrange(compact_after // 2 + 1)
        self.max_buffer_bytes = max_buffer_bytes
        self.rows = stored_rows
        self._buffer: list[bytes] = []
        self._bytes = 0  # unsaved: buffered and in flight
        self._in_flight: _Taken | None = None
        self.buffer_since = 0.0  # when the oldest buffered (not in flight) update arrived
        self._accepted = 0  # updates buffered so far (a running count)
        self._stored = 0  # of which stored
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._warned_full = False
        self._compacting: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Task[None] | None = None
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
            self.buffer_since = now
            if self.pending_since is None:
                self.pending_since = now
        if self.active_since is None:
            self.active_since = now
        self._buffer.append(update)
        self._bytes += len(update)
        self._accepted += 1
        self._idle.clear()
        self.batcher.schedule(self)

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

    # --- batches (called by the BatchWriter) ----------------------------------------------

    def take(self) -> _Taken | None:
        """Cut this room's batch: everything buffered, with the state vector now."""
        if not self._buffer or self._in_flight is not None:
            return None
        batch, self._buffer = self._buffer, []
        taken = _Taken(self, batch, sum(len(u) for u in batch), self.room.doc.get_state(),
                       self.buffer_since)
        self._in_flight = taken
        return taken

    def put_back(self, taken: _Taken) -> None:
        """The batch was not stored: it goes back in front of what came since."""
        self._in_flight = None
        self._buffer[:0] = taken.updates
        self.buffer_since = taken.since
        self.failures += 1
        self.failing = True
        self.room.stats.store_failures += 1

    def stored(self, taken: _Taken) -> None:
        self._in_flight = None
        n = len(taken.updates)
        self.failing = False
        self._bytes -= taken.size
        self.rows += 1
        self._stored += n
        self.stored_updates += n
        self.room.stats.stored_updates += n
        self.pending_since = self.buffer_since if self._buffer else None
        if self._warned_full and self._bytes < self.max_buffer_bytes // 2:
            log.warning("persistence backlog of room %s drained", self.room.id,
                        extra={"room": self.room.id})
            self._warned_full = False
        if not self._buffer:
            self.room.set_saved(taken.state)
            self._idle.set()
        if self._waiters:
            done = self._stored
            keep = []
            for target, fut in self._waiters:
                if target <= done:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((target, fut))
            self._waiters = keep
        if self.rows >= self.compact_after and self._compacting is None:
            self._compacting = asyncio.get_running_loop().create_task(self._compact_bg())
        if (self.active_since is not None and self._checkpointing is None
                and time.monotonic() - self.active_since >= self.checkpoint_every):
            self._checkpointing = asyncio.get_running_loop().create_task(
                self._checkpoint_bg())

    async def _compact_bg(self) -> None:
        try:
            await self._compact()
        finally:
            self._compacting = None

    async def _checkpoint_bg(self) -> None:
        try:
            await self.checkpoint("auto")
        finally:
            self._checkpointing = None

    # --- writing ----------------------------------------------------------------------

    async def _compact(self) -> None:
        # The room's whole in-memory state goes in too: that includes updates relayed from
        # other processes, so content whose own process died before storing it is stored
        # by every process that held it, at its next compaction or unload.
        rows = self.rows
        try:
            result = await self.store.compact(self.room.id, extra=self.room.doc.get_update())
        except StoreError as exc:
            log.warning("compaction of room %s failed: %s", self.room.id, exc,
                        extra={"room": self.room.id})
            return
        self.rows = max(0, self.rows - rows)  # rows appended meanwhile are still in the log
        self.room.stats.compactions += 1
        self.room.size = result.snapshot_bytes or self.room.size
        log.debug("compacted room %s: %d rows", self.room.id, result.merged,
                  extra={"room": self.room.id})

    async def flush(self) -> None:
        """Wait until every update accepted so far is stored (now, not after the interval)."""
        if self._stored >= self._accepted:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._accepted, fut))
        self.batcher.schedule(self)
        self.batcher.urgent()
        await fut

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
        for task in (self._checkpointing, self._compacting):
            if task is not None:
                await asyncio.shield(task)
        if self.active_since is not None:
            await self.checkpoint("unload")
        if compact:
            await self._compact()
