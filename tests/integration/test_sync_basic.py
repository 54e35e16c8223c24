from __future__ import annotations

import httpx

from tests.conftest import run_server
from tests.yclient import YClient, eventually


async def create_room(base_url: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base_url}/api/rooms", json={"title": "Test"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_two_clients_edit_together_and_state_survives_restart(settings):
    """docs/protocol.md [H1] [P7] [D1]."""
    async with run_server(settings) as srv:
        room = await create_room(srv.base_url)
        url = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a = await YClient.connect(url)
        b = await YClient.connect(url)
        a.add_text_block("b1", "hello from a")
        await eventually(lambda: b.block_text("b1") == "hello from a")
        b.add_text_block("b2", "hello from b")
        await eventually(lambda: a.block_text("b2") == "hello from b")
        assert a.doc.get_state() == b.doc.get_state()
        await a.close()
        await b.close()
    async with run_server(settings) as srv:
        c = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['view_token']}")
        assert c.block_text("b1") == "hello from a"
        assert c.block_text("b2") == "hello from b"
        assert c.doc.get("meta", type=__import__("pycrdt").Map)["title"] == "Test"
        await c.close()
