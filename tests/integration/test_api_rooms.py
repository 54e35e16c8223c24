from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import httpx
import pytest

from tests.yclient import YClient


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        yield client


async def test_create_room_returns_links_and_stores_only_hashes(http, database_url):
    r = await http.post("/api/rooms", json={"title": "My idea"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"room", "edit_token", "view_token", "edit_url", "view_url"}
    assert len(body["edit_token"]) >= 22 and body["edit_token"] != body["view_token"]
    assert body["edit_url"].endswith(f"/r/{body['room']}#token={body['edit_token']}")
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM rooms WHERE id = $1", body["room"])
    finally:
        await conn.close()
    assert bytes(row["edit_token_hash"]) == hashlib.sha256(body["edit_token"].encode()).digest()
    flat = repr(dict(row))
    assert body["edit_token"] not in flat and body["view_token"] not in flat


async def test_create_room_with_body_that_is_not_json_is_400_problem(http):
    r = await http.post("/api/rooms", content=b"{not json", headers={"content-type":
                                                                       "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "the body is not JSON"


async def test_create_room_with_overlong_title_is_400(http):
    r = await http.post("/api/rooms", json={"title": "x" * 201})
    assert r.status_code == 400
    assert "title" in r.json()["detail"]


async def test_get_room_reports_the_role_of_each_token(http):
    room = (await http.post("/api/rooms", json={})).json()
    for token, role in ((room["edit_token"], "edit"), (room["view_token"], "view")):
        r = await http.get(f"/api/rooms/{room['room']}",
                           headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["role"] == role


async def test_rotate_without_token_is_401(http):
    room = (await http.post("/api/rooms", json={})).json()
    r = await http.post(f"/api/rooms/{room['room']}/links/rotate")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_rotate_with_view_token_is_403_and_changes_nothing(http):
    room = (await http.post("/api/rooms", json={})).json()
    r = await http.post(f"/api/rooms/{room['room']}/links/rotate",
                        headers={"Authorization": f"Bearer {room['view_token']}"})
    assert r.status_code == 403
    ok = await http.get(f"/api/rooms/{room['room']}",
                        headers={"Authorization": f"Bearer {room['edit_token']}"})
    assert ok.status_code == 200


async def test_rotate_makes_old_tokens_stop_working(http):
    room = (await http.post("/api/rooms", json={})).json()
    r = await http.post(f"/api/rooms/{room['room']}/links/rotate",
                        headers={"Authorization": f"Bearer {room['edit_token']}"})
    assert r.status_code == 200
    for old in (room["edit_token"], room["view_token"]):
        gone = await http.get(f"/api/rooms/{room['room']}",
                              headers={"Authorization": f"Bearer {old}"})
        assert gone.status_code == 401


async def test_unknown_room_is_404(http):
    r = await http.get("/api/rooms/nosuchroom123", headers={"Authorization": "Bearer x"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_token_of_another_room_is_401(http):
    a = (await http.post("/api/rooms", json={})).json()
    b = (await http.post("/api/rooms", json={})).json()
    r = await http.get(f"/api/rooms/{b['room']}",
                       headers={"Authorization": f"Bearer {a['edit_token']}"})
    assert r.status_code == 401


async def test_healthz_reports_postgres_and_redis(http):
    r = await http.get("/healthz")
    assert r.status_code == 200
    assert r.json()["postgres"] == "ok" and r.json()["redis"] == "ok"


async def _blocks_of(server, room: dict[str, str]) -> dict[str, object]:
    url = f"{server.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    client = await YClient.connect(url)
    try:
        return {bid: {"kind": b.get("kind"), "text": str(b.get("text")), "w": b.get("w"),
                      "h": b.get("h"), "status": b.get("status")}
                for bid, b in client.blocks().items()}
    finally:
        await client.close()


async def test_a_canvas_asked_to_start_with_a_prompt_holds_one_empty_text_block(http, server):
    """The home page's "New canvas" asks for the first prompt block: the server puts it in
    the stored first state, so everyone who opens the canvas finds the same one block."""
    room = (await http.post("/api/rooms", json={"title": "Ideas", "first_prompt": True})).json()
    first, second = await asyncio.gather(_blocks_of(server, room), _blocks_of(server, room))
    assert first == second
    (block,) = first.values()
    assert block == {"kind": "text", "text": "", "w": 260.0, "h": 150.0, "status": "idle"}


async def test_a_canvas_made_through_the_api_starts_empty_unless_asked(http, server):
    room = (await http.post("/api/rooms", json={"title": "Plain"})).json()
    assert await _blocks_of(server, room) == {}


async def test_first_prompt_that_is_not_a_boolean_is_400(http):
    r = await http.post("/api/rooms", json={"first_prompt": "yes"})
    assert r.status_code == 400
    assert "first_prompt" in r.json()["detail"]
