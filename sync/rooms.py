"""The rooms a process holds in memory: loading, holding, unloading, shutting down.

Why not pycrdt-websocket's ``WebsocketServer``: its room-start lock is held for the
room's whole life, so several clients joining a new room at once mostly never sync; it
never loads a room from a store; and stopping a room cancels store writes in flight.
Here a load is a shared future that every simultaneous joiner awaits; a failed load
leaves nothing behind (no empty document is cached, stored or served); and a room is
dropped from memory only after its writer has stored everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .errors import RoomLoadError, StoreError, StoreReason
from .fanout import KIND_UPDATE
from .history import CheckpointStore
from .memory import FullPassGuard, Reclaimer, active_guard
from .persistence import BatchWriter, RoomWriter
from .room import Room
from .stats import SyncStats

if TYPE_CHECKING:
    from .fanout import Fanout
    from .settings import Settings
    from .store import PostgresStore

log = logging.getLogger(__name__)


class RoomManager:
    def __init__(self, store: PostgresStore, fanout: Fanout | None, settings: Settings, *,
                 process_id: str | None = None) -> None:
        self.store = store
        self.fanout = fanout
        self.settings = settings
        self.process_id = process_id or os.urandom(6).hex()
        self.rooms: dict[str, Room] = {}
        self.writers: dict[str, RoomWriter] = {}
        self.batcher = BatchWriter(store, flush_interval=settings.flush_interval)
        self._loading: dict[str, asyncio.Future[Room]] = {}
        self._unloading: dict[str, asyncio.Task[None]] = {}
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._housekeeping: asyncio.Task[None] | None = None
        self.reclaimer = Reclaimer()
        self._guard: FullPassGuard | None = None  # set by ``start`` under ``arbor serve``
        self.closing = False
        self.stats = SyncStats()
        if fanout is not None:
            fanout.on_resync = self.resync

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.reclaimer.start(loop)
        self._guard = active_guard()
        self._housekeeping = loop.create_task(self._housekeep())

    # --- holding rooms ----------------------------------------------------------------

    @property
    def unloading(self) -> int:
        """Rooms no client holds any more whose last writes are still being stored."""
        return len(self._unloading)

    async def acquire(self, room_id: str) -> Room:
        """Hold a room (loading it if needed); pair with :meth:`release`."""
        if self._guard is not None:
            self._guard.joined()
        while True:
            room = self.rooms.get(room_id)
            if room is not None:
                room.holders += 1
                handle = self._grace.pop(room_id, None)
                if handle is not None:
                    handle.cancel()
                return room
            unloading = self._unloading.get(room_id)
            if unloading is not None:
                await asyncio.shield(unloading)
                continue
            future = self._loading.get(room_id)
            if future is None:
                future = asyncio.get_running_loop().create_future()
                self._loading[room_id] = future
                try:
                    room = await self._load(room_id)
                except BaseException as exc:
                    self._loading.pop(room_id, None)
                    future.set_exception(exc)
                    future.exception()  # retrieved: only the waiters need it
                    raise
                self._loading.pop(room_id, None)
                self.rooms[room_id] = room
                future.set_result(room)
                continue
            await asyncio.shield(future)

    async def release(self, room: Room) -> None:
        room.holders -= 1
        if room.holders <= 0 and not self.closing and room.id not in self._grace:
            loop = asyncio.get_running_loop()
            self._grace[room.id] = loop.call_later(self.settings.room_grace,
                                                   self._start_unload, room.id)

    @contextlib.asynccontextmanager
    async def session(self, room_id: str) -> AsyncIterator[Room]:
        """Hold a room for a server-side edit (API call, worker job)."""
        room = await self.acquire(room_id)
        try:
            yield room
        finally:
            await self.release(room)

    # --- loading and unloading -----------------------------------------------------------

    async def _load(self, room_id: str) -> Room:
        s = self.settings
        room = Room(room_id, max_doc_bytes=s.max_doc_bytes,
                    awareness_timeout=s.awareness_timeout, awareness_tick=s.awareness_tick,
                    process_id=self.process_id, stats=self.stats)
        backlog: list[tuple[bytes, bytes, bytes]] = []
        last_id = b"0-0"
        if self.fanout is not None:
            backlog, last_id = await self.fanout.backlog(room_id)
        try:
            stored = await self.store.load_document(room_id)
        except RoomLoadError:
            self.stats.load_failures += 1
            room.dispose()
            raise
        try:
            room.load(stored.all())
            room.load(d for _, k, d in backlog if k == KIND_UPDATE)
        except ValueError as exc:
            self.stats.load_failures += 1
            room.dispose()
            raise RoomLoadError(room_id, StoreReason.CORRUPT,
                                f"stored state of room {room_id} cannot be read: {exc}") from exc
        room.saved_state = room.doc.get_state()
        writer = RoomWriter(room, self.store, flush_interval=s.flush_interval,
                            compact_after=s.compact_after_updates,
                            max_buffer_bytes=s.persist_buffer_max_bytes,
                            stored_rows=len(stored.updates),
                            checkpoints=CheckpointStore(self.store.pool),
                            checkpoint_every=s.checkpoint_minutes * 60,
                            batcher=self.batcher)
        self.writers[room_id] = writer
        room.extensions.append(writer)
        if self.fanout is not None:
            room.extensions.append(self.fanout)
            self.fanout.watch(room, last_id)
        self.stats.loads += 1
        log.info("loaded room %s (%d bytes, %d log rows)", room_id, room.size,
                 len(stored.updates), extra={"room": room_id})
        return room

    def _start_unload(self, room_id: str) -> None:
        self._grace.pop(room_id, None)
        room = self.rooms.get(room_id)
        if room is None or room.holders > 0:
            return
        del self.rooms[room_id]
        task = asyncio.get_running_loop().create_task(self._unload(room))
        self._unloading[room_id] = task

    async def _unload(self, room: Room) -> None:
        try:
            if self.fanout is not None:
                self.fanout.unwatch(room.id)
            writer = self.writers.pop(room.id, None)
            if writer is not None:
                await writer.close(compact=True)
            room.dispose()
            log.info("unloaded room %s", room.id, extra={"room": room.id})
        finally:
            self._unloading.pop(room.id, None)
            self.reclaimer.unloaded()

    async def resync(self, room: Room) -> None:
        """After a fan-out gap: merge PostgreSQL's state, republish ours, ask peers."""
        from . import protocol as p

        try:
            stored = await self.store.load_document(room.id)
        except StoreError as exc:
            log.warning("resync of room %s could not read PostgreSQL: %s", room.id, exc)
        else:
            for update in stored.all():
                room.apply_remote(update)
        if self.fanout is not None:
            self.fanout.publish(room.id, KIND_UPDATE, room.doc.get_update())
        step1 = p.sync_step1(room.doc.get_state())
        for peer in room.peers:
            peer.send(step1)

    # --- lifecycle --------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self._housekeep_once()

    def _housekeep_once(self) -> None:
        # Its own frame, so no loop variable keeps an unloaded room alive between rounds.
        for room in list(self.rooms.values()):
            try:
                room.housekeeping()
            except Exception:
                log.exception("housekeeping of room %s failed", room.id)
        if self._guard is not None:
            self._guard.tick()
        self.reclaimer.maybe_reclaim(busy=bool(self._loading or self._unloading))

    async def flush_all(self) -> None:
        await asyncio.gather(*(w.flush() for w in list(self.writers.values())))

    async def shutdown(self, *, close_code: int = 1012,
                       reason: str = "server restarting; reconnect") -> None:
        """Stop: close every peer (they reconnect elsewhere), store everything, unload."""
        self.closing = True
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        for room in self.rooms.values():
            room.close_peers(close_code, reason)
        rooms = list(self.rooms.values())
        self.rooms.clear()
        results = await asyncio.gather(*(self._unload(r) for r in rooms),
                                       *list(self._unloading.values()), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                log.error("a room could not be stored on shutdown: %s", r)
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping

