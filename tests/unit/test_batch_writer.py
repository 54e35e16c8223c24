"""The process-wide batch writer: one round trip for every room's pending updates, in
order, retried after failures without losing or reordering anything."""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Doc, Map

from sync.errors import StoreError, StoreReason
from sync.persistence import BatchWriter, RoomWriter
from sync.room import Room


class FakeStore:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bytes]] = []
        self.calls = 0
        self.fail = 0  # fail this many next calls (connection errors)
        self.refuse: set[str] = set()  # rooms whose rows the "database" refuses

    async def append_updates(self, room_ids: list[str], data: list[bytes]) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail:
            self.fail -= 1
            raise StoreError(StoreReason.CONNECTION, "down")
        if self.refuse & set(room_ids):
            raise StoreError(StoreReason.QUERY, "refused")
        self.rows += list(zip(room_ids, data, strict=True))

    async def append_update(self, room_id: str, data: bytes) -> int:
        if room_id in self.refuse:
            raise StoreError(StoreReason.QUERY, "refused")
        self.rows.append((room_id, data))
        return len(self.rows)

    async def compact(self, room_id: str, extra: bytes | None = None) -> Any:
        raise StoreError(StoreReason.CONNECTION, "not in this test")


def make(n: int, store: FakeStore, batcher: BatchWriter) -> list[tuple[Room, RoomWriter]]:
    out = []
    for i in range(n):
        room = Room(f"r{i}", max_doc_bytes=1 << 20, awareness_timeout=30, awareness_tick=0.05)
        writer = RoomWriter(room, store, flush_interval=batcher.flush_interval,  # type: ignore[arg-type]
                            compact_after=10_000, max_buffer_bytes=1 << 20, batcher=batcher)
        room.extensions.append(writer)
        out.append((room, writer))
    return out


def stored_map(store: FakeStore, room_id: str) -> dict[str, Any]:
    d: Doc[Any] = Doc()
    for rid, data in store.rows:
        if rid == room_id:
            d.apply_update(data)
    return dict(d.get("m", type=Map).to_py() or {})


async def test_every_room_in_one_round_trip_within_the_interval() -> None:
    """docs/protocol.md [D1]."""
    store = FakeStore()
    batcher = BatchWriter(store, flush_interval=0.05)  # type: ignore[arg-type]
    rooms = make(50, store, batcher)
    for room, _ in rooms:
        for k in range(3):
            room.transact(lambda d, k=k: d.get("m", type=Map).__setitem__(f"k{k}", k))
    await asyncio.sleep(0.2)
    assert store.calls == 1
    assert len(store.rows) == 50  # one merged row per room
    for room, writer in rooms:
        assert writer.is_idle() and writer.pending_bytes == 0 and writer.pending_since is None
        assert stored_map(store, room.id) == {"k0": 0, "k1": 1, "k2": 2}
        assert room.saved_state == room.doc.get_state()


async def test_failures_retry_in_order_and_flush_waits_for_its_data() -> None:
    """docs/protocol.md [D2]."""
    store = FakeStore()
    batcher = BatchWriter(store, flush_interval=0.02)  # type: ignore[arg-type]
    (room, writer), = make(1, store, batcher)
    m = room.doc.get("m", type=Map)
    store.fail = 2
    room.transact(lambda d: m.__setitem__("a", 1))
    await asyncio.sleep(0.05)
    assert writer.failing and not writer.is_idle() and writer.pending_since is not None
    room.transact(lambda d: m.__setitem__("a", 2))  # overwrites: order matters
    await asyncio.wait_for(writer.flush(), 5)
    assert not writer.failing and writer.is_idle()
    assert stored_map(store, room.id) == {"a": 2}
    assert writer.stored_updates == 2 and room.stats.store_failures >= 2


async def test_a_room_the_database_refuses_holds_back_no_other_room() -> None:
    """docs/protocol.md [D2]."""
    store = FakeStore()
    batcher = BatchWriter(store, flush_interval=0.02)  # type: ignore[arg-type]
    rooms = make(3, store, batcher)
    store.refuse = {"r1"}
    for room, _ in rooms:
        room.transact(lambda d: d.get("m", type=Map).__setitem__("x", 1))
    await asyncio.wait_for(rooms[0][1].flush(), 5)
    await asyncio.wait_for(rooms[2][1].flush(), 5)
    assert rooms[1][1].failing and rooms[1][1].pending_bytes > 0
    store.refuse = set()
    await asyncio.wait_for(rooms[1][1].flush(), 10)
    assert all(stored_map(store, r.id) == {"x": 1} for r, _ in rooms)
