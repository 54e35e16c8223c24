"""Fan-out publishes only while another process holds the room, and a process that starts
holding a room gets everything the first one skipped while it was alone."""

from __future__ import annotations

import asyncio
import uuid

from pycrdt import Map
from redis import asyncio as aioredis

from sync.fanout import POOL_SIZE
from tests.conftest import run_server
from tests.integration.test_rooms_lifecycle import new_room, url
from tests.yclient import YClient, eventually


async def test_a_lone_holder_skips_redis_and_a_newcomer_still_gets_everything(settings):
    # Nothing reaches PostgreSQL for a minute: the newcomer can learn the first process's
    # edits only through fan-out.
    """docs/protocol.md [F2] [F3]."""
    s = settings.replace(flush_interval=60.0)
    async with run_server(s) as one, run_server(s) as two:
        room = await new_room(one)
        a = await YClient.connect(url(one, room))
        fan_one = one.services.fanout
        skipped = fan_one.skipped
        a.add_text_block("before", "typed alone")
        await a.set_awareness({"user": {"name": "Ann"}})
        await eventually(lambda: "before" in one.services.rooms.rooms[room["room"]].doc.get(
            "blocks", type=Map))
        await eventually(lambda: fan_one.skipped > skipped)
        assert not fan_one.shared(room["room"])

        b = await YClient.connect(url(two, room))
        await eventually(lambda: b.block_text("before") == "typed alone",
                         message="the newcomer to get what was skipped")
        await eventually(lambda: any(st.get("user", {}).get("name") == "Ann"
                                     for st in b.awareness.values()),
                         message="the newcomer to see presence set before it came")
        assert fan_one.shared(room["room"])
        a.add_text_block("after", "live")
        await eventually(lambda: b.block_text("after") == "live")
        b.add_text_block("back", "hi")
        await eventually(lambda: a.block_text("back") == "hi")
        await b.close()
        # two unloads the room after its grace period and says so: one is alone again.
        await eventually(lambda: room["room"] not in two.services.rooms.rooms)
        await eventually(lambda: not fan_one.shared(room["room"]))
        await a.close()


async def test_holders_expire_and_a_returning_one_is_caught_up(settings):
    """docs/protocol.md [F2]."""
    async with run_server(settings) as one, run_server(settings) as two:
        room = await new_room(one)
        a = await YClient.connect(url(one, room))
        b = await YClient.connect(url(two, room))
        fan_one, fan_two = one.services.fanout, two.services.fanout
        await eventually(lambda: fan_one.shared(room["room"]) and fan_two.shared(room["room"]))
        # one stops hearing from two (as if two had stalled): it expires two and skips.
        fan_one.holder_expiry = 0.0
        await eventually(lambda: not fan_one.shared(room["room"]))
        a.add_text_block("while_expired", "x")
        await eventually(lambda: "while_expired" in one.services.rooms.rooms[
            room["room"]].doc.get("blocks", type=Map))
        # two's next entry (here an edit; else its heartbeat) makes one catch two up.
        b.add_text_block("ping", "")
        await eventually(lambda: b.block_text("while_expired") == "x")
        fan_one.holder_expiry = 35.0
        await a.close()
        await b.close()


async def test_a_wave_of_room_loads_shares_a_few_redis_connections(settings, redis_url):
    # 40 rooms joined at once on one process: each load reads its room's stream and wakes
    # the blocked reader. The loads take turns on a bounded pool, and the wake-ups coalesce.
    s = settings.replace(redis_prefix=f"{settings.redis_prefix}wave-{uuid.uuid4().hex[:6]}:")
    redis = aioredis.Redis.from_url(redis_url)
    async with run_server(s) as one:
        fan = one.services.fanout
        rooms = [await new_room(one) for _ in range(40)]
        first = await YClient.connect(url(one, rooms[0]))
        await eventually(lambda: fan._blocked, message="the reader to block on the first room")
        unblocks = fan.unblocks
        clients = await asyncio.gather(*(YClient.connect(url(one, r)) for r in rooms[1:]))
        names = [c.get("name") for c in await redis.client_list()]
        assert 1 <= names.count(f"{s.redis_prefix}fanout") <= POOL_SIZE, names
        assert names.count(f"{s.redis_prefix}fanout-reader") == 1
        # the reader is woken 20 ms after a watch, so a wave gathers: at least once, and
        # far fewer times than rooms joined
        await eventually(lambda: fan.unblocks - unblocks >= 1, message="the reader woken")
        assert fan.unblocks - unblocks < len(rooms) // 2, fan.unblocks - unblocks
        # Every room is read: an edit from a second process reaches each room's client.
        async with run_server(s) as two:
            writers = await asyncio.gather(*(YClient.connect(url(two, r)) for r in rooms))
            for i, w in enumerate(writers):
                w.add_text_block("wave", f"room {i}")
            for i, c in enumerate([first, *clients]):
                await eventually(lambda c=c, i=i: c.block_text("wave") == f"room {i}")
            for c in writers:
                await c.close()
        for c in [first, *clients]:
            await c.close()
    await redis.aclose()


def _holds_entries(value: object, depth: int = 4) -> bool:
    """A fan-out entry's fields (``{b"o": ..., b"k": ..., b"d": ...}``) inside ``value``."""
    if isinstance(value, dict):
        return b"k" in value and b"o" in value
    if depth and isinstance(value, list | tuple):
        return any(_holds_entries(v, depth - 1) for v in value)
    return False


def entries_kept_by_loops(fan) -> list[str]:
    """Locals of the fan-out's loops (and what they await) that hold entries."""
    kept = []
    for task in fan._tasks:
        coro = task.get_coro()
        while coro is not None and getattr(coro, "cr_frame", None) is not None:
            for name, value in coro.cr_frame.f_locals.items():
                if _holds_entries(value):
                    kept.append(f"{coro.__qualname__}: {name}")
            coro = coro.cr_await
    return kept


async def test_the_fan_out_loops_keep_no_batch_while_they_wait(settings):
    # Tried: 30 edits written and read through Redis between two processes, then quiet.
    # A loop's local still naming the last batch kept all of it alive for as long as the
    # process stayed quiet: after a wave of closing rooms, hundreds of entries scattered
    # over the heap, keeping its pages resident (bench (e)).
    async with run_server(settings) as one, run_server(settings) as two:
        room = await new_room(one)
        a = await YClient.connect(url(one, room))
        b = await YClient.connect(url(two, room))
        fans = [one.services.fanout, two.services.fanout]
        await eventually(lambda: all(f.shared(room["room"]) for f in fans))
        received = fans[1].received
        for i in range(30):
            a.add_text_block(f"b{i}", "x")
        await eventually(lambda: b.block_text("b29") == "x")
        assert fans[1].received > received  # it came through Redis
        await eventually(lambda: not fans[0]._outbox)
        for fan in fans:
            assert entries_kept_by_loops(fan) == []
        await a.close()
        await b.close()
