"""Fan-out between processes over one Redis stream per room.

Every update a process accepts (from its peers, the API, or a worker) and every local
awareness change is appended to the room's stream; every process holding the room reads
the stream and applies what it did not produce. Control entries (``rotate``) travel the
same way, so they reach exactly the processes that hold the room.

The stream is trimmed by age (``retention``): an entry older than that has long been
written to PostgreSQL by the process that accepted it. A process that joins a room reads
the stream's backlog before loading PostgreSQL, so nothing falls between the two. When
Redis is unreachable, or a process stalled past the retention, the room is resynchronised:
reloaded from PostgreSQL, its full state republished, and its peers asked for what the
process lacks (sync step 1).

Most rooms are held by one process only, and publishing their updates would only have
that process read them back. So every holder announces itself on the room's own stream: a
``hold`` entry when it starts watching the room and every ``heartbeat`` seconds after (and
``bye`` when it stops). A process publishes a room's updates and awareness only while it
has read an entry from another process in that stream within ``holder_expiry`` seconds.
Whenever it reads an entry from a process it did not count as a holder (a newcomer's
``hold``, or a holder it had expired while one of them stalled) it publishes its room's
full state first, so every update it skipped while it believed itself alone reaches the
newcomer, which reads the stream from before its own ``hold`` entry. Control entries
always go out (``publish_now``), and so does a resync's full state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as _RedisConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import protocol
from .errors import ArborError
from .room import LOAD, REMOTE, SERVER

if TYPE_CHECKING:
    from .awareness import Changes
    from .room import Room

log = logging.getLogger(__name__)

KIND_UPDATE = b"u"
KIND_AWARENESS = b"a"
KIND_CONTROL = b"c"
KIND_HOLD = b"h"  # a holder's presence: b"" (holding) or BYE (stopped holding)
BYE = b"bye"
# Entries that say their origin holds the room (control entries may come from any process).
_PRESENCE = (KIND_UPDATE, KIND_AWARENESS, KIND_HOLD)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
POOL_SIZE = 4  # connections for writes and room loads; the blocking reader has its own
UNBLOCK_DELAY = 0.02  # seconds a wave of watches gathers before the reader is woken

try:  # C packing of commands, as redis-py's synchronous client has (its asyncio one has not)
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis is a dependency; packing in Python then
    _hiredis_pack = None  # type: ignore[assignment]


class PackedConnection(_RedisConnection):
    """redis-py's asyncio connection packs every command in Python, copying its buffer at
    each argument. The fan-out's reader sends an ``XREAD`` naming every room the process
    holds, again at each wake-up: with 2,000 rooms, packing was 14 % of the server's CPU
    while they joined (bench (g), py-spy). hiredis packs it in C."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if _hiredis_pack is None:  # pragma: no cover
            return super().pack_command(*args)
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        return [_hiredis_pack(args)]


@dataclasses.dataclass(slots=True)
class _Watch:
    room: Room
    last_id: bytes
    # other processes holding this room: process id -> when (monotonic) we last read from it
    others: dict[bytes, float] = dataclasses.field(default_factory=dict)


def is_remote(owner: object) -> bool:
    return isinstance(owner, tuple) and len(owner) == 2 and owner[0] == "remote"


def _local_awareness(room: Room) -> bytes | None:
    """The presence of this process's own peers in ``room``, as one awareness update."""
    full = room.awareness.full_state()
    if full is None:
        return None
    owner_of = room.awareness.owner_of
    entries = []
    for e in protocol.decode_awareness(full, max_entries=1 << 30,
                                          max_clock=protocol.MAX_SAFE_INTEGER):
        owner = owner_of(e.client_id)
        if owner is not None and owner is not SERVER and not is_remote(owner):
            entries.append((e.client_id, e.clock, e.raw))
    return protocol.encode_awareness(entries) if entries else None


class Fanout:
    def __init__(self, redis: aioredis.Redis, reader: aioredis.Redis, *, prefix: str,
                 process_id: str, retention: float, heartbeat: float = 10.0,
                 holder_expiry: float | None = None) -> None:
        self.redis = redis
        self._reader = reader
        self.prefix = prefix
        self.process_id = process_id.encode()
        self.retention_ms = int(retention * 1000)
        self.heartbeat = heartbeat
        self.holder_expiry = holder_expiry if holder_expiry is not None else heartbeat * 3.5
        self._watches: dict[bytes, _Watch] = {}
        self._by_room: dict[str, _Watch] = {}
        self._seen_in_backlog: dict[str, dict[bytes, float]] = {}
        self._outbox: list[tuple[bytes, dict[bytes, bytes]]] = []
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reader_id: int | None = None
        self._blocked = False
        self._unblocking = False  # an unblock is in flight; another request only marks
        self._unblock_again = False  # that one more is due once it returns
        self.on_control: Callable[[Room, bytes], None] = lambda room, data: None
        self.on_resync: Callable[[Room], Any] = lambda room: None
        self.healthy = True
        self.published = 0
        self.skipped = 0  # updates and awareness changes not published: nobody else holds
        self.received = 0
        self.resyncs = 0
        self.unblocks = 0  # CLIENT UNBLOCKs sent to the reader
        self.last_read = time.monotonic()

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = POOL_SIZE, **kw: Any) -> Fanout:
        opts: dict[str, Any] = {"socket_connect_timeout": 5, "health_check_interval": 15}
        # Bounded: a wave of room loads waits its turn for a connection (each read is short)
        # rather than opening one per concurrent load; the extra connections would stay
        # open, with their buffers, long after the wave (measured with bench (e)).
        # Named after the deployment's key prefix, so ``CLIENT LIST`` shows whose they are.
        prefix = kw.get("prefix", "")
        if url.startswith("redis://"):  # TCP without TLS: the class from_url would choose
            opts["connection_class"] = PackedConnection
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=pool_size, timeout=5, client_name=f"{prefix}fanout", **opts)
        redis = aioredis.Redis.from_pool(pool)
        reader = aioredis.Redis.from_url(url, single_connection_client=True,
                                         client_name=f"{prefix}fanout-reader", **opts)
        return cls(redis, reader, **kw)

    def key(self, room_id: str) -> bytes:
        return f"{self.prefix}room:{room_id}".encode()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop()), loop.create_task(self._write_loop()),
                       loop.create_task(self._heartbeat_loop())]

    async def stop(self) -> None:
        await self.drain()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        await self._reader.aclose()
        await self.redis.aclose()

    # --- rooms ------------------------------------------------------------------------

    async def backlog(self, room_id: str) -> tuple[list[tuple[bytes, bytes, bytes]], bytes]:
        """Entries now in the room's stream, as (origin, kind, data), and the last id."""
        try:
            rows = await self.redis.xrange(self.key(room_id))
        except REDIS_DOWN as exc:
            log.warning("Redis unreachable while loading room %s: %s", room_id, exc)
            self.healthy = False
            return [], b"0-0"
        entries = [(f[b"o"], f[b"k"], f[b"d"]) for _, f in rows]
        # Who held the room lately (by the entries' ages), so a process joining a room that
        # is already shared publishes its updates from the start.
        now_ms, mono = time.time() * 1000, time.monotonic()
        seen: dict[bytes, float] = {}
        for entry_id, f in rows:
            origin = f.get(b"o", b"")
            if origin == self.process_id or f.get(b"k") not in _PRESENCE:
                continue
            if f.get(b"k") == KIND_HOLD and f.get(b"d") == BYE:
                seen.pop(origin, None)
                continue
            age = max(0.0, (now_ms - int(entry_id.split(b"-", 1)[0])) / 1000)
            if age < self.holder_expiry:
                seen[origin] = mono - age
        self._seen_in_backlog[room_id] = seen
        return entries, (rows[-1][0] if rows else b"0-0")

    def watch(self, room: Room, last_id: bytes) -> None:
        watch = _Watch(room, last_id, self._seen_in_backlog.pop(room.id, {}))
        self._watches[self.key(room.id)] = watch
        self._by_room[room.id] = watch
        # Announced after the backlog was read: a holder that believed itself alone reads
        # this, publishes its full state, and we read that (it comes after last_id).
        self.publish(room.id, KIND_HOLD, b"")
        self._unblock()

    def unwatch(self, room_id: str) -> None:
        self._watches.pop(self.key(room_id), None)
        self._by_room.pop(room_id, None)
        self._seen_in_backlog.pop(room_id, None)
        self.publish(room_id, KIND_HOLD, BYE)

    def shared(self, room_id: str) -> bool:
        """Whether another process is known to hold the room (or we do not watch it)."""
        watch = self._by_room.get(room_id)
        if watch is None:
            return True
        others = watch.others
        if not others:
            return False
        deadline = time.monotonic() - self.holder_expiry
        for seen in others.values():
            if seen >= deadline:
                return True
        return False

    def publish(self, room_id: str, kind: bytes, data: bytes) -> None:
        self._outbox.append((self.key(room_id), {b"o": self.process_id, b"k": kind, b"d": data}))
        self._outbox_ready.set()

    async def publish_now(self, room_id: str, kind: bytes, data: bytes) -> None:
        await self.redis.xadd(self.key(room_id),
                              {b"o": self.process_id, b"k": kind, b"d": data}, **self._trim())

    async def drain(self) -> None:
        """Wait until everything published so far has been sent (or given up on)."""
        for _ in range(400):  # bounded: at most ~2 s
            if not (self._outbox and self._tasks and not self._tasks[1].done()):
                return
            await asyncio.sleep(0.005)

    # --- room extension hooks ------------------------------------------------------------

    def on_update(self, room: Room, update: bytes, origin: object) -> None:
        if origin is not REMOTE and origin is not LOAD:
            if self.shared(room.id):
                self.publish(room.id, KIND_UPDATE, update)
            else:
                self.skipped += 1

    def on_awareness(self, room: Room, changes: Changes) -> None:
        if not self.shared(room.id):
            self.skipped += 1
            return
        local = changes.owned_by(lambda owner: owner is not SERVER and not is_remote(owner))
        if local is not None:
            self.publish(room.id, KIND_AWARENESS, local)

    def before_write(self, room: Room, size: int) -> None:
        pass

    # --- loops ------------------------------------------------------------------------

    def _trim(self) -> dict[str, Any]:
        minid = int(time.time() * 1000) - self.retention_ms
        return {"minid": f"{max(minid, 0)}-0", "approximate": True}

    async def _write_loop(self) -> None:
        backoff = 0.1
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            if not self._outbox:
                continue
            try:
                await self._write_batch()
                backoff = 0.1
            except REDIS_DOWN as exc:
                # Dropped on purpose: other processes recover these updates from PostgreSQL
                # and from their clients when they resynchronise after the outage.
                self._mark_down(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _write_batch(self) -> None:
        # A coroutine of its own so the batch is not kept by the loop's locals while it
        # waits for the next one: after a wave of closing rooms, hundreds of entries lived
        # on for as long as the process stayed quiet, pinning heap pages (bench (e)).
        batch, self._outbox = self._outbox, []
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                trim = self._trim()
                keys = set()
                for key, fields in batch:
                    pipe.xadd(key, fields, **trim)  # type: ignore[arg-type]
                    keys.add(key)
                for key in keys:
                    pipe.pexpire(key, self.retention_ms * 2)
                await pipe.execute()
            self.published += len(batch)
        except REDIS_DOWN:
            raise
        except RedisError as exc:
            log.error("Redis refused a fan-out batch of %d entries: %s", len(batch), exc)

    async def _heartbeat_loop(self) -> None:
        # Every held room, shared or not: a holder whose heartbeats stop being read (it or
        # Redis stalled) is expired by the others, and its next heartbeat makes them
        # publish their full state to it again.
        while True:
            await asyncio.sleep(self.heartbeat)
            for room_id in list(self._by_room):
                self.publish(room_id, KIND_HOLD, b"")

    def _mark_down(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("Redis unreachable for fan-out: %s", exc)
        self.healthy = False

    def _unblock(self) -> None:
        """Wake the reader so its next read includes a room just watched. A wave of joins
        (hundreds of rooms in a second) sends one ``CLIENT UNBLOCK`` at a time, plus one more
        for the rooms watched while it was in flight, instead of one each: one connection of
        the pool instead of as many as the wave's joins overlap."""
        if not self._blocked or self._reader_id is None:
            return
        if self._unblocking:
            self._unblock_again = True
            return
        self._unblocking = True
        asyncio.get_running_loop().create_task(self._send_unblocks())

    async def _send_unblocks(self) -> None:
        try:
            while True:
                # A wave of joins watches hundreds of rooms a second, and each wake-up has
                # the reader name every room again: let the wave gather for a moment.
                await asyncio.sleep(UNBLOCK_DELAY)
                self._unblock_again = False
                client_id = self._reader_id
                if client_id is None or not self._blocked:
                    return
                with contextlib.suppress(*REDIS_DOWN, RedisError):
                    await self.redis.client_unblock(client_id)
                    self.unblocks += 1
                if not self._unblock_again:
                    return
        finally:
            self._unblocking = False

    async def _read_loop(self) -> None:
        backoff = 0.1
        while True:
            if not self._watches:
                self.last_read = time.monotonic()
                await asyncio.sleep(0.05)
                continue
            try:
                stalled = await self._read_batch()
            except REDIS_DOWN as exc:
                self._reader_id = None
                self._mark_down(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            if not self.healthy or stalled:
                self.healthy = True
                log.warning("fan-out %s; resynchronising %d rooms",
                            "resumed after stalling" if stalled else "reconnected to Redis",
                            len(self._watches))
                await self._resync_all()

    async def _read_batch(self) -> bool:
        """Read and deliver one batch; ``True`` if reading had stalled. A coroutine of its
        own, like ``_write_batch``, so the loop keeps no batch while it waits."""
        streams = {k: w.last_id for k, w in self._watches.items()}
        if self._reader_id is None:
            self._reader_id = await self._reader.client_id()
        self._blocked = True
        try:
            resp = await self._reader.xread(streams, block=2000, count=1000)  # type: ignore[arg-type]
        finally:
            self._blocked = False
        now = time.monotonic()
        stalled = now - self.last_read > self.retention_ms / 2000
        self.last_read = now
        self._deliver(resp or [])
        return stalled

    def _deliver(self, resp: list[Any]) -> None:
        # A method of its own so no local outlives the call: a loop variable left pointing
        # at a watch would keep an unloaded room alive until the next entry arrives.
        now = time.monotonic()
        expired = now - self.holder_expiry
        own = self.process_id
        for key, entries in resp:
            watch = self._watches.get(key)
            if watch is None:
                continue
            for entry_id, fields in entries:
                watch.last_id = entry_id
                origin = fields.get(b"o")
                if origin == own:
                    continue
                kind = fields.get(b"k")
                if kind in _PRESENCE and origin is not None:
                    self._saw_holder(watch, origin, kind, fields.get(b"d", b""), now, expired)
                if kind == KIND_HOLD:
                    continue
                self.received += 1
                self._dispatch(watch.room, fields)

    def _saw_holder(self, watch: _Watch, origin: bytes, kind: bytes | None, data: bytes,
                    now: float, expired: float) -> None:
        if kind == KIND_HOLD and data == BYE:
            watch.others.pop(origin, None)
            return
        last = watch.others.get(origin)
        watch.others[origin] = now
        if last is None or last < expired:
            # A holder we did not count: it lacks whatever we skipped while alone.
            room = watch.room
            try:
                full = room.doc.get_update()
                presence = _local_awareness(room)
            except Exception:  # a bug in one room must not stop fan-out for every room
                log.exception("reading room %s for a new holder failed", room.id)
                return
            self.publish(room.id, KIND_UPDATE, full)
            if presence is not None:
                self.publish(room.id, KIND_AWARENESS, presence)

    def _dispatch(self, room: Room, fields: dict[bytes, bytes]) -> None:
        kind = fields.get(b"k")
        data = fields.get(b"d", b"")
        try:
            if kind == KIND_UPDATE:
                room.apply_remote(data)
            elif kind == KIND_AWARENESS:
                room.apply_remote_awareness(("remote", fields.get(b"o", b"").decode()), data)
            elif kind == KIND_CONTROL:
                self.on_control(room, data)
        except ArborError as exc:
            log.error("dropped a malformed fan-out entry for room %s: %s", room.id, exc)
        except Exception:  # a bug in one room must not stop fan-out for every room
            log.exception("applying a fan-out entry to room %s failed", room.id)

    async def _resync_all(self) -> None:
        for watch in list(self._watches.values()):
            self.resyncs += 1
            result = self.on_resync(watch.room)
            if asyncio.iscoroutine(result):
                await result
