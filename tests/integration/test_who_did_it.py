"""What others did to my work is recorded with who did it, so the app can say so: a job's
record keeps who cancelled it, and the checkpoint kept before a restore keeps who restored
which version."""

from __future__ import annotations

import httpx
from pycrdt import Map

from tests.conftest import run_server
from tests.yclient import YClient, eventually


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _queued_job(srv, http) -> tuple[dict[str, str], str, YClient]:
    """A room with a prompt and a job on it, still queued (no worker runs here)."""
    room = (await http.post("/api/rooms", json={"title": "who"})).json()
    a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    a.add_text_block("p", "a heron at dawn")
    r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                        json={"tool": "expand", "inputs": ["p"], "author": "Ada"})
    assert r.status_code == 202, r.text
    return room, r.json()["job_id"], a


async def test_a_cancel_records_who_cancelled_the_job(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        path = f"/api/rooms/{room['room']}/jobs/{job_id}"
        c = await http.post(f"{path}/cancel", headers=auth(room["edit_token"]),
                            json={"by": "Ben"})
        assert c.status_code == 200, c.text
        assert c.json()["cancelled_by"] == "Ben" and c.json()["requested_by"] == "Ada"
        job = (await http.get(path, headers=auth(room["view_token"]))).json()
        assert (job["status"], job["cancelled_by"]) == ("cancelled", "Ben")
        listed = (await http.get(f"/api/rooms/{room['room']}/jobs",
                                 headers=auth(room["view_token"]))).json()["jobs"]
        assert [j["cancelled_by"] for j in listed] == ["Ben"]
        await a.close()


async def test_a_cancel_naming_nobody_records_no_one(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        c = await http.post(f"/api/rooms/{room['room']}/jobs/{job_id}/cancel",
                            headers=auth(room["edit_token"]))
        assert c.status_code == 200, c.text
        assert c.json()["cancelled_by"] is None
        await a.close()


async def test_a_cancel_with_a_name_that_is_not_one_is_refused_and_cancels_nothing(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        path = f"/api/rooms/{room['room']}/jobs/{job_id}"
        for by in (5, ["Ben"], "B" * 101):
            c = await http.post(f"{path}/cancel", headers=auth(room["edit_token"]),
                                json={"by": by})
            assert c.status_code == 400, (by, c.text)
            assert "display name" in c.json()["detail"]
        job = (await http.get(path, headers=auth(room["view_token"]))).json()
        assert (job["status"], job["cancelled_by"]) == ("queued", None)
        (out,) = job["outputs"]
        assert a.blocks()[out]["status"] == "queued"
        await a.close()


async def _room_with_a_checkpoint(srv, http) -> tuple[dict[str, str], dict, str]:
    """A room Ann changed and left (so a checkpoint was kept); its links, that checkpoint
    and the socket URL."""
    room = (await http.post("/api/rooms", json={})).json()
    url = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    ann = await YClient.connect(url)
    await ann.set_awareness({"user": {"name": "Ann"}})
    ann.add_text_block("b", "first version")
    rooms = srv.services.rooms
    await eventually(lambda: "b" in rooms.rooms[room["room"]].doc.get("blocks", type=Map))
    await ann.close()
    await eventually(lambda: room["room"] not in rooms.rooms and not rooms._unloading)
    (first,) = (await http.get(f"/api/rooms/{room['room']}/history",
                               headers=auth(room["view_token"]))).json()["checkpoints"]
    return room, first, url


async def test_a_restore_records_who_restored_which_version(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, first, url = await _room_with_a_checkpoint(srv, http)
        b = await YClient.connect(url)
        b.add_text_block("oops", "unwanted")
        await eventually(lambda: b.block_text("oops") == "unwanted")
        r = await http.post(f"/api/rooms/{room['room']}/history/{first['id']}/restore",
                            headers=auth(room["edit_token"]), json={"by": "Alice"})
        assert r.status_code == 200, r.text
        want = {"by": "Alice", "to": first["id"], "to_created_at": first["created_at"]}
        assert r.json()["before"]["restore"] == want
        assert r.json()["restored"]["restore"] is None  # an ordinary checkpoint
        await eventually(lambda: b.block_text("oops") is None)
        await b.close()
        rooms = srv.services.rooms
        await eventually(lambda: room["room"] not in rooms.rooms and not rooms._unloading)
        listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                 headers=auth(room["view_token"]))).json()["checkpoints"]
        assert [c["reason"] for c in listed] == ["unload", "before_restore", "unload"]
        assert listed[1]["restore"] == want
        # The restore is Alice's change, not a person called "restore".
        assert "Alice" in listed[0]["authors"]
        assert all("restore" not in c["authors"] for c in listed)


async def test_a_restore_naming_nobody_records_no_one(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, first, _ = await _room_with_a_checkpoint(srv, http)
        r = await http.post(f"/api/rooms/{room['room']}/history/{first['id']}/restore",
                            headers=auth(room["edit_token"]))
        assert r.status_code == 200, r.text
        assert r.json()["before"]["restore"]["by"] is None


async def test_a_restore_with_a_name_that_is_not_one_is_refused_and_changes_nothing(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, first, url = await _room_with_a_checkpoint(srv, http)
        b = await YClient.connect(url)
        b.add_text_block("kept", "stays")
        await eventually(lambda: b.block_text("kept") == "stays")
        for by in (7, {"name": "Alice"}, "A" * 101):
            r = await http.post(f"/api/rooms/{room['room']}/history/{first['id']}/restore",
                                headers=auth(room["edit_token"]), json={"by": by})
            assert r.status_code == 400, (by, r.text)
        listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                 headers=auth(room["view_token"]))).json()["checkpoints"]
        assert [c["id"] for c in listed] == [first["id"]]
        assert b.block_text("kept") == "stays"
        await b.close()
