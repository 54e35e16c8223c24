"""Runs on empty blocks: refused with 400 and a reason before anything is spent.

Every test runs the real server and worker against PostgreSQL, Redis and the fake model
server (the server's OpenAI key points at it), with daily budgets set, and checks that a
refused run made no job, no block, spent no budget and sent no model request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pycrdt import Map

from sync.settings import Secret, Settings
from tests.conftest import run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(60)

# Every tool that reads text, with the inputs it needs (all empty).
TEXT_TOOLS = {"run": 1, "expand": 1, "twist": 1, "reimagine": 1, "split": 1, "combine": 2,
              "generate_image": 1, "variations": 1}


@pytest.fixture
def budgeted(settings: Settings, model_server: FakeModelServer) -> Settings:
    return settings.replace(offline_delay=0.002, openai_api_key=Secret("sk-test-" + "e" * 24),
                            openai_base_url=model_server.openai_base_url,
                            budget_room_daily_tokens=100_000, budget_room_daily_images=20)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def spent(settings: Settings, room: str) -> list[float]:
    """The room's token and image budget counters (0 when never touched)."""
    r = aioredis.from_url(settings.redis_url.reveal())  # type: ignore[no-untyped-call]
    try:
        out = []
        for what in ("tokens", "images"):
            d, n = await r.hmget(f"{settings.redis_prefix}rl:budget:room:{room}:{what}",
                                 ["d", "n"])
            out.append(float(n) if d is not None and n is not None else 0.0)
        return out
    finally:
        await r.aclose()


class Canvas:
    def __init__(self, http: httpx.AsyncClient, room: dict[str, str], peer: YClient) -> None:
        self.http, self.room, self.peer = http, room, peer

    async def run(self, tool: str, inputs: list[str], **more: Any) -> httpx.Response:
        return await self.http.post(f"/api/rooms/{self.room['room']}/jobs",
                                    headers=auth(self.room["edit_token"]),
                                    json={"tool": tool, "inputs": inputs, **more})

    async def jobs(self) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/rooms/{self.room['room']}/jobs",
                                headers=auth(self.room["view_token"]))
        return list(r.json()["jobs"])

    def add_image_block(self, block_id: str, key: str | None) -> None:
        blocks = self.peer.doc.get("blocks", type=Map)
        with self.peer.doc.transaction():
            block = Map({"kind": "image", "x": 0.0, "y": 0.0, "status": "idle"})
            blocks[block_id] = block
            if key:
                block["image"] = {"key": key, "width": 16, "height": 16, "mime": "image/webp"}


async def canvas(srv: Any, http: httpx.AsyncClient) -> Canvas:
    room = (await http.post("/api/rooms", json={"title": "empty runs"})).json()
    peer = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    return Canvas(http, room, peer)


async def held(c: Canvas, block_id: str) -> None:
    """Wait until the server's copy of the room has the block (asked through the estimate
    route, which reads the room: 404 until the block arrives)."""
    async def there() -> bool:
        r = await c.http.post(f"/api/rooms/{c.room['room']}/estimate",
                              headers=auth(c.room["view_token"]),
                              json={"tool": "split", "inputs": [block_id]})
        return r.status_code != 404
    await eventually(there, message=f"the server to hold {block_id}")


async def test_every_text_tool_refuses_an_empty_block_before_spending(
        budgeted: Settings, model_server: FakeModelServer) -> None:
    """Attack: run every text tool on blocks with no text (and on one holding only spaces
    and newlines), hoping each spends a model call on nothing. Each is 400 naming the
    empty block; no job, no output block, no budget spent, no model request."""
    async with run_server(budgeted) as srv, run_worker(budgeted), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        c = await canvas(srv, http)
        try:
            c.peer.add_text_block("e1", "")
            c.peer.add_text_block("e2", "  \n\t \n")
            await held(c, "e2")
            answers = await asyncio.gather(*(
                c.run(tool, ["e1", "e2"][:n] if tool != "expand" else ["e2"])
                for tool, n in TEXT_TOOLS.items()))
            for tool, r in zip(TEXT_TOOLS, answers, strict=True):
                assert r.status_code == 400, (tool, r.text)
                body = r.json()
                assert body["type"] == "about:blank#empty_input", (tool, body)
                assert body["block"] in ("e1", "e2")
                assert "write a prompt first" in body["detail"], body
            assert await c.jobs() == []
            assert sorted(c.peer.blocks()) == ["e1", "e2"]
            assert await spent(budgeted, c.room["room"]) == [0.0, 0.0]
            # The control: the same run on a block with a prompt does reach the model.
            c.peer.add_text_block("p", "a lighthouse in fog")
            await held(c, "p")
            ok = await c.run("expand", ["p"])
            assert ok.status_code == 202, ok.text
            await eventually(lambda: model_server.requests, message="the model call")

            async def finished() -> bool:  # not left in the queue for the next test's worker
                return [j["status"] for j in await c.jobs()] == ["done"]
            await eventually(finished, timeout=20, message="the control run to end")
        finally:
            await c.peer.close()


async def test_image_tools_refuse_an_image_block_without_an_image(
        budgeted: Settings, model_server: FakeModelServer) -> None:
    """Attack: describe and image-to-JSON an image block that has no image (an empty
    placeholder), and use it as the only content of a combine. Each is 400 naming it,
    with nothing made or spent."""
    async with run_server(budgeted) as srv, run_worker(budgeted), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        c = await canvas(srv, http)
        try:
            c.add_image_block("img", None)
            c.peer.add_text_block("p", "a lighthouse")
            await held(c, "img")
            await held(c, "p")
            for tool, inputs in (("describe", ["img"]), ("image_to_json", ["img"]),
                                 ("combine", ["p", "img"]), ("generate_image", ["p", "img"])):
                r = await c.run(tool, inputs)
                assert r.status_code == 400, (tool, r.text)
                assert r.json()["type"] == "about:blank#empty_input" and r.json()["block"] == "img"
                assert "has no image yet" in r.json()["detail"]
            assert await c.jobs() == []
            assert sorted(c.peer.blocks()) == ["img", "p"]
            assert await spent(budgeted, c.room["room"]) == [0.0, 0.0]
            assert model_server.requests == []
        finally:
            await c.peer.close()


async def test_run_refuses_no_blocks_and_an_image_without_a_prompt(
        budgeted: Settings, model_server: FakeModelServer) -> None:
    """Attack: ``run`` (which sends its first block's text as the prompt) on no blocks at
    all, and on an image whose prompt is empty. Both are 400; nothing is made or spent."""
    async with run_server(budgeted) as srv, run_worker(budgeted), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        c = await canvas(srv, http)
        try:
            c.add_image_block("img", f"rooms/{c.room['room']}/{'a' * 64}.webp")
            await held(c, "img")
            nothing = await c.run("run", [])
            assert nothing.status_code == 400
            assert nothing.json()["type"] == "about:blank#empty_input"
            assert "nothing to run on" in nothing.json()["detail"]
            unprompted = await c.run("run", ["img"])
            assert unprompted.status_code == 400, unprompted.text
            assert unprompted.json()["block"] == "img"
            assert "has no prompt" in unprompted.json()["detail"]
            assert await c.jobs() == []
            assert await spent(budgeted, c.room["room"]) == [0.0, 0.0]
            assert model_server.requests == []
        finally:
            await c.peer.close()


async def test_an_image_cannot_be_run_into_a_text_block(
        budgeted: Settings, model_server: FakeModelServer) -> None:
    """Attack: name someone's text block as the output of generate_image (the way a run
    again names its block), hoping to overwrite it with an image. 400; the block keeps
    its text and status, and nothing is spent."""
    async with run_server(budgeted) as srv, run_worker(budgeted), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        c = await canvas(srv, http)
        try:
            c.peer.add_text_block("p", "a red kite")
            c.peer.add_text_block("theirs", "someone's prompt")
            await held(c, "theirs")
            r = await c.run("generate_image", ["p"], outputs=["theirs"])
            assert r.status_code == 400, r.text
            assert r.json()["type"] == "about:blank#bad_output" and r.json()["block"] == "theirs"
            assert c.peer.block_text("theirs") == "someone's prompt"
            assert c.peer.blocks()["theirs"]["status"] == "idle"
            assert await c.jobs() == []
            assert await spent(budgeted, c.room["room"]) == [0.0, 0.0]
            assert model_server.requests == []
        finally:
            await c.peer.close()
