"""A room keeps checkpoints; restoring one is a new change everyone sees, and can itself be
taken back."""

from __future__ import annotations

import httpx
from pycrdt import Map

from tests.conftest import run_server
from tests.yclient import YClient, eventually


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_checkpoint_on_unload_lists_authors_and_restores_for_everyone(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        url = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        ann = await YClient.connect(url)
        await ann.set_awareness({"user": {"name": "Ann"}})
        await eventually(lambda: srv.services.rooms.rooms[room["room"]].awareness.user_name(
            next(iter(srv.services.rooms.rooms[room["room"]].peers))) is not None)
        ann.add_text_block("b", "first version")
        await eventually(lambda: "b" in srv.services.rooms.rooms[room["room"]].doc.get(
            "blocks", type=Map))
        await ann.close()
        await eventually(lambda: room["room"] not in srv.services.rooms.rooms
                         and not srv.services.rooms._unloading)
        listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                 headers=auth(room["view_token"]))).json()["checkpoints"]
        assert [c["reason"] for c in listed] == ["unload"]
        assert listed[0]["authors"] == ["Ann"]
        first = listed[0]["id"]
        shown = (await http.get(f"/api/rooms/{room['room']}/history/{first}",
                                headers=auth(room["view_token"]))).json()
        assert shown["canvas"]["blocks"]["b"]["text"] == "first version"

        a = await YClient.connect(url)
        b = await YClient.connect(url)
        text = a.doc.get("blocks", type=Map)["b"]["text"]
        text += " and a mistake"
        a.add_text_block("oops", "unwanted")
        await eventually(lambda: b.block_text("oops") == "unwanted")
        r = await http.post(f"/api/rooms/{room['room']}/history/{first}/restore",
                            headers=auth(room["edit_token"]))
        assert r.status_code == 200
        await eventually(lambda: b.block_text("b") == "first version"
                         and b.block_text("oops") is None)
        assert a.block_text("b") == "first version"
        # The restore itself can be taken back: restore the state kept just before it.
        before = r.json()["before"]["id"]
        r2 = await http.post(f"/api/rooms/{room['room']}/history/{before}/restore",
                             headers=auth(room["edit_token"]))
        assert r2.status_code == 200
        await eventually(lambda: b.block_text("oops") == "unwanted"
                         and b.block_text("b") == "first version and a mistake")
        await a.close()
        await b.close()


async def test_automatic_checkpoint_after_minutes_of_activity(settings):
    s = settings.replace(checkpoint_minutes=0.002)  # ~0.1 s of activity
    async with run_server(s) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                  f"{room['edit_token']}")
        a.add_text_block("b", "")
        text = a.doc.get("blocks", type=Map)["b"]["text"]

        async def has_auto() -> bool:
            nonlocal text
            text += "."
            listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                     headers=auth(room["view_token"]))).json()["checkpoints"]
            return any(c["reason"] == "auto" for c in listed)

        await eventually(has_auto, timeout=10, interval=0.1)
        await a.close()


async def test_restore_through_view_link_is_403_and_unknown_checkpoint_is_404(server):
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        r = await http.post(f"/api/rooms/{room['room']}/history/1/restore",
                            headers=auth(room["view_token"]))
        assert r.status_code == 403
        r = await http.post(f"/api/rooms/{room['room']}/history/999999/restore",
                            headers=auth(room["edit_token"]))
        assert r.status_code == 404
        r = await http.get(f"/api/rooms/{room['room']}/history/not-a-number",
                           headers=auth(room["edit_token"]))
        assert r.status_code == 404


async def test_older_checkpoints_are_thinned_to_one_an_hour_a_day_then_a_week(settings):
    """A room in use for months would keep a whole copy of its document every 10 minutes
    of activity. Each new checkpoint thins the room's older ones: all of the last day
    stay, then the newest of each hour (to a week back), of each day (to 30 days), of each
    week. Tried: three in one hour two days back, two in other hours, three in one day ten
    days back, three in one week sixty days back, a dozen today, and another room's."""
    from sync.history import CheckpointStore

    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        rooms = [(await http.post("/api/rooms", json={})).json() for _ in range(2)]
        room, other = rooms[0]["room"], rooms[1]["room"]
        pool = srv.services.rooms.store.pool
        store = CheckpointStore(pool)

        async def at(room_id: str, when: str) -> int:
            return await pool.fetchval(
                "INSERT INTO room_checkpoints (room_id, reason, authors, size, data, created_at)"
                f" VALUES ($1, 'auto', '[]', 1, '\\x00', {when}) RETURNING id", room_id)

        hour = "date_trunc('hour', now() - interval '2 days')"
        day = "date_trunc('day', now() - interval '10 days')"
        week = "date_trunc('week', now() - interval '60 days')"
        same_hour = [await at(room, f"{hour} + interval '{m} minutes'") for m in (1, 2, 3)]
        other_hours = [await at(room, f"{hour} - interval '{h} hours'") for h in (1, 2)]
        same_day = [await at(room, f"{day} + interval '{h} hours'") for h in (1, 2, 3)]
        same_week = [await at(room, f"{week} + interval '{d} days'") for d in (1, 2, 3)]
        today = [await at(room, f"now() - interval '{m * 10} minutes'") for m in range(12)]
        elsewhere = [await at(other, f"{hour} + interval '{m} minutes'") for m in (1, 2, 3)]

        newest = await store.create(room, b"\x00\x00", "auto", ["Ana"])
        left = {r["id"] for r in await pool.fetch(
            "SELECT id FROM room_checkpoints WHERE room_id = $1", room)}
        assert left == {newest.id, *today, same_hour[-1], *other_hours, same_day[-1],
                        same_week[-1]}
        assert {r["id"] for r in await pool.fetch(
            "SELECT id FROM room_checkpoints WHERE room_id = $1", other)} == set(elsewhere)
        assert await store.thin(room) == 0  # thinning again changes nothing

        # What is left is listed whole (newest first), past the 100 the list once stopped at.
        for m in range(150):
            await at(other, f"now() - interval '{m} seconds'")
        listed = (await http.get(f"/api/rooms/{other}/history",
                                 headers=auth(rooms[1]["view_token"]))).json()["checkpoints"]
        assert len(listed) == 153
        assert [c["id"] for c in listed][-3:] == sorted(elsewhere, reverse=True)
