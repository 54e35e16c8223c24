"""Fan-out publishes only while another process holds the room, and a process that starts
holding a room gets everything the first one skipped while it was alone."""

from __future__ import annotations

from pycrdt import Map

from tests.conftest import run_server
from tests.integration.test_rooms_lifecycle import new_room, url
from tests.yclient import YClient, eventually


async def test_a_lone_holder_skips_redis_and_a_newcomer_still_gets_everything(settings):
    # Nothing reaches PostgreSQL for a minute: the newcomer can learn the first process's
    # edits only through fan-out.
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
