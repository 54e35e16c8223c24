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
