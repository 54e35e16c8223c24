"""Models, prices, usage, budgets and a canvas's own API keys, end to end: the real server
and worker, PostgreSQL and Redis, and the real OpenAI and Gemini SDKs talking to the fake
model server."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from pycrdt import Map

from sync.models import DEFAULT_PRICES, PriceTable
from sync.settings import Secret
from sync.tools import TEXT_MAX_TOKENS
from tests.conftest import run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import DEFAULT_REPLY, FakeModelServer
from tests.yclient import YClient, eventually

SERVER_OPENAI_KEY = "sk-server-" + "s" * 24
ROOM_OPENAI_KEY = "sk-room-" + secrets.token_hex(16)
ROOM_GEMINI_KEY = "gm-room-" + secrets.token_hex(16)
BUDGET_MESSAGE = "This canvas has used today's image budget; it resets at 00:00 UTC"


@pytest.fixture
def base(settings):
    return settings.replace(offline_delay=0.002)


def with_openai(settings, fake: FakeModelServer):
    return settings.replace(openai_api_key=Secret(SERVER_OPENAI_KEY),
                            openai_base_url=fake.openai_base_url)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_room(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/api/rooms", json={"title": "spend"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def connect(srv, room) -> YClient:
    return await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")


async def run_job(http, room, **body):
    return await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                           json=body)


async def job_row(http, room, job_id):
    r = await http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                       headers=auth(room["view_token"]))
    return r.json()


async def wait_final(http, room, job_id, timeout=20.0):
    async def final():
        j = await job_row(http, room, job_id)
        return j if j["status"] in ("done", "error", "cancelled") else None

    return await eventually(final, timeout=timeout, message=f"job {job_id} to end")


async def counter(settings, key: str) -> float:
    """A budget counter's use today (0 when it has none)."""
    r = aioredis.from_url(settings.redis_url.reveal())
    try:
        d, n = await r.hmget(f"{settings.redis_prefix}rl:{key}", ["d", "n"])
    finally:
        await r.aclose()
    return float(n) if d is not None and n is not None else 0.0


async def _is(value, expected) -> bool:
    return await value == expected


# ---------------------------------------------------------------------------- models


async def test_models_lists_offline_and_configured_providers_with_prices(base, model_server):
    async with run_server(with_openai(base, model_server)) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        body = (await http.get("/api/models")).json()
    models = {m["id"]: m for m in body["models"]}
    assert {"offline:text", "offline:image", "openai:gpt-4.1-mini", "openai:gpt-image-2"} <= set(
        models)
    assert not any(m.startswith("gemini:") for m in models)  # no Gemini key configured
    assert models["offline:text"]["offline"] is True
    assert models["offline:image"]["price"] == {"input_per_mtok": 0, "output_per_mtok": 0,
                                                "per_image": 0}
    assert models["openai:gpt-image-2"]["price"]["per_image"] == pytest.approx(0.04)
    assert models["openai:gpt-4.1-mini"]["provider"] == "openai"
    assert models["openai:gpt-4.1-mini"]["offline"] is False
    assert "openai:gpt-image-2" in body["kinds"]["image"]
    assert "openai:gpt-image-2" not in body["kinds"]["text"]
    assert "openai:gpt-4.1-mini" in body["kinds"]["vision"]
    assert body["defaults"]["variations"].startswith("openai:")


async def test_configured_tool_default_and_added_model_are_offered(base, model_server):
    settings = with_openai(base, model_server).replace(
        tool_models="twist=openai:my-tuned", prices='{"openai:my-tuned": '
        '{"input_per_mtok": 1, "output_per_mtok": 2, "label": "Tuned"}}')
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        body = (await http.get("/api/models")).json()
    tuned = next(m for m in body["models"] if m["id"] == "openai:my-tuned")
    assert tuned["label"] == "Tuned" and tuned["price"]["output_per_mtok"] == 2
    assert body["defaults"]["twist"] == "openai:my-tuned"
    assert body["defaults"]["expand"] == "openai:gpt-4.1-mini"


async def test_job_with_unknown_model_is_400_with_the_valid_list(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a fox")
        r = await run_job(http, room, tool="expand", inputs=["p"],
                          params={"model": "acme:dream-9"})
        assert r.status_code == 400
        body = r.json()
        assert body["type"].endswith("#unknown_model")
        assert body["valid"] == ["offline:text"]
        assert "acme:dream-9" in body["detail"] and "offline:text" in body["detail"]
        assert list(a.blocks()) == ["p"]  # nothing changed
        await a.close()


async def test_job_with_model_of_an_unconfigured_provider_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a fox")
        r = await run_job(http, room, tool="generate_image", inputs=["p"],
                          params={"model": "gemini:gemini-2.5-flash-image"})
        assert r.status_code == 400
        assert r.json()["type"].endswith("#unconfigured_model")
        assert r.json()["valid"] == ["offline:image"]
        listed = (await http.get(f"/api/rooms/{room['room']}/jobs",
                                 headers=auth(room["view_token"]))).json()["jobs"]
        assert listed == []
        await a.close()


async def test_job_with_a_text_model_for_an_image_tool_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a fox")
        r = await run_job(http, room, tool="variations", inputs=["p"],
                          params={"model": "offline:text"})
        assert r.status_code == 400
        assert r.json()["type"].endswith("#model_cannot")
        assert "cannot make images" in r.json()["detail"]
        await a.close()


# ---------------------------------------------------------------------------- usage & cost


async def test_openai_streamed_usage_is_recorded_and_costed(base, model_server):
    settings = with_openai(base, model_server)
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a lighthouse in fog")
        r = await run_job(http, room, tool="expand", inputs=["p"], author="Ada",
                          params={"model": "openai:gpt-4.1-mini"})
        assert r.status_code == 202, r.text
        job = await wait_final(http, room, r.json()["job_id"])
        (out,) = r.json()["outputs"]
        await eventually(lambda: a.blocks()[out]["status"] == "done")
        assert a.blocks()[out]["model"] == "openai:gpt-4.1-mini"  # the output names its model
        await a.close()
    chat = [q for q in model_server.requests if q.path == "/v1/chat/completions"]
    assert chat[-1].json["stream_options"] == {"include_usage": True}
    prompt_words = sum(len(str(m["content"]).split()) for m in chat[-1].json["messages"])
    assert job["status"] == "done" and job["model"] == "openai:gpt-4.1-mini"
    assert job["usage"]["input_tokens"] == prompt_words
    assert job["usage"]["output_tokens"] == len(DEFAULT_REPLY.split())
    price = DEFAULT_PRICES["openai:gpt-4.1-mini"]
    expected = (prompt_words * price.input_per_mtok
                + len(DEFAULT_REPLY.split()) * price.output_per_mtok) / 1e6
    assert job["cost_usd"] == pytest.approx(expected)
    assert job["requested_by"] == "Ada"
    assert job["estimate"]["output_tokens"] == TEXT_MAX_TOKENS  # max_tokens: the upper end


@pytest.mark.parametrize("tool,model,kind", [
    ("twist", "gemini:gemini-2.5-flash", "text"),
    ("generate_image", "gemini:gemini-2.5-flash-image", "image"),
])
async def test_gemini_usage_metadata_is_recorded_and_costed(base, model_server, tool, model,
                                                            kind):
    settings = base.replace(gemini_api_key=Secret("gm-server-key-123"),
                            gemini_base_url=model_server.gemini_base_url)
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a heron at dusk")
        r = await run_job(http, room, tool=tool, inputs=["p"], params={"model": model})
        assert r.status_code == 202, r.text
        job = await wait_final(http, room, r.json()["job_id"], timeout=30)
        await a.close()
    assert job["status"] == "done", job
    usage = job["usage"]
    price = DEFAULT_PRICES[model]
    if kind == "text":
        assert usage["output_tokens"] == len(DEFAULT_REPLY.split())
        assert usage["input_tokens"] > 0 and usage["images"] == 0
    else:
        assert usage["images"] == 1 and usage["output_tokens"] == 1290
    assert job["cost_usd"] == pytest.approx(price.cost(usage))
    assert job["cost_usd"] > 0


async def test_estimate_matches_the_price_table(base, model_server):
    async with run_server(with_openai(base, model_server)) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "x" * 400)
        url = f"/api/rooms/{room['room']}/estimate"
        images = (await http.post(url, headers=auth(room["view_token"]), json={
            "tool": "variations", "inputs": ["p"],
            "params": {"model": "openai:gpt-image-2"}})).json()
        assert images["model"] == "openai:gpt-image-2"
        assert images["units"]["images"] == 4
        assert images["cost_usd"] == pytest.approx(
            PriceTable.default().cost("openai:gpt-image-2", images["units"]))
        assert images["cost_usd"] == pytest.approx(0.16)
        assert images["text"] == "4 images with OpenAI gpt-image-2, about $0.16"
        text = (await http.post(url, headers=auth(room["view_token"]), json={
            "tool": "expand", "inputs": ["p"],
            "params": {"model": "openai:gpt-4.1-mini", "max_tokens": 1000}})).json()
        assert text["units"]["output_tokens"] == 1000
        assert text["units"]["input_tokens"] >= 100  # 400 characters of input, ~4 a token
        price = DEFAULT_PRICES["openai:gpt-4.1-mini"]
        assert text["cost_usd"] == pytest.approx(
            (text["units"]["input_tokens"] * price.input_per_mtok
             + 1000 * price.output_per_mtok) / 1e6, abs=1e-6)
        offline = (await http.post(url, headers=auth(room["view_token"]), json={
            "tool": "expand", "inputs": ["p"], "params": {"model": "offline:text"}})).json()
        assert offline["cost_usd"] == 0 and offline["text"].endswith("free")
        await a.close()


async def test_estimate_of_unknown_tool_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.post(f"/api/rooms/{room['room']}/estimate",
                            headers=auth(room["view_token"]), json={"tool": "nope"})
        assert r.status_code == 400 and "nope" in r.json()["detail"]


async def test_usage_panel_sums_by_person_tool_and_model(base, model_server):
    settings = with_openai(base, model_server)
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a quiet harbour")
        ids = []
        for author, tool, model in (("Ada", "expand", "openai:gpt-4.1-mini"),
                                    ("Bo", "generate_image", "openai:gpt-image-2"),
                                    ("Ada", "twist", "offline:text")):
            r = await run_job(http, room, tool=tool, inputs=["p"], author=author,
                              params={"model": model})
            assert r.status_code == 202, r.text
            ids.append(r.json()["job_id"])
        jobs = [await wait_final(http, room, i, timeout=30) for i in ids]
        body = (await http.get(f"/api/rooms/{room['room']}/usage",
                               headers=auth(room["view_token"]))).json()
        await a.close()
    total = sum(j["cost_usd"] for j in jobs)
    assert body["total"]["cost_usd"] == pytest.approx(total)
    assert body["today"]["cost_usd"] == pytest.approx(total)
    assert body["total"]["jobs"] == 3 and body["total"]["images"] == 1
    people = {e["person"]: e for e in body["by_person"]}
    assert people["Bo"]["total"]["cost_usd"] == pytest.approx(0.04)
    assert people["Ada"]["total"]["jobs"] == 2
    models = {e["model"]: e for e in body["by_model"]}
    assert models["offline:text"]["total"]["cost_usd"] == 0
    assert {e["tool"] for e in body["by_tool"]} == {"expand", "generate_image", "twist"}


# ---------------------------------------------------------------------------- budgets


async def _fire(http, room, n, tool="generate_image"):
    return await asyncio.gather(*(run_job(http, room, tool=tool, inputs=["p"])
                                  for _ in range(n)))


async def test_room_image_budget_is_exact_under_concurrent_requests(base):
    settings = base.replace(budget_room_daily_images=3)
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a red kite")
        answers = await _fire(http, room, 12)
        codes = sorted(r.status_code for r in answers)
        assert codes == [202] * 3 + [429] * 9
        refused = [r for r in answers if r.status_code == 429]
        assert all(r.json()["detail"] == BUDGET_MESSAGE for r in refused)
        assert all(r.json()["limit"] == "budget-room-images" for r in refused)
        assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
        await eventually(lambda: len(a.blocks()) == 4)  # the input and three outputs
        await asyncio.sleep(0.3)
        assert len(a.blocks()) == 4
        assert await counter(settings, f"budget:room:{room['room']}:images") == 3
        await a.close()


async def test_room_budget_is_exact_across_two_server_processes(base):
    settings = base.replace(budget_room_daily_images=5)
    async with run_server(settings) as one, run_server(settings) as two, \
            httpx.AsyncClient(base_url=one.base_url) as h1, \
            httpx.AsyncClient(base_url=two.base_url) as h2:
        room = await new_room(h1)
        a = await connect(one, room)
        a.add_text_block("p", "a lantern")
        b = await connect(two, room)
        await eventually(lambda: "p" in b.blocks())
        answers = await asyncio.gather(_fire(h1, room, 8), _fire(h2, room, 8))
        codes = [r.status_code for part in answers for r in part]
        assert codes.count(202) == 5 and codes.count(429) == 11
        assert {r.status_code for r in answers[0]} | {r.status_code for r in answers[1]} == {
            202, 429}
        await a.close()
        await b.close()


async def test_address_budget_refuses_with_its_own_message(base):
    settings = base.replace(budget_ip_daily_images=4,
                            redis_prefix=f"arbor-test-ip-{secrets.token_hex(4)}:")
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        first, second = await new_room(http), await new_room(http)
        a, b = await connect(srv, first), await connect(srv, second)
        a.add_text_block("p", "one")
        b.add_text_block("p", "two")
        v = await run_job(http, first, tool="variations", inputs=["p"])  # four images
        assert v.status_code == 202
        r = await run_job(http, second, tool="generate_image", inputs=["p"])
        assert r.status_code == 429
        assert r.json()["detail"] == ("You have used today's image budget from this address; "
                                      "it resets at 00:00 UTC")
        await a.close()
        await b.close()


async def test_failed_job_gives_back_its_budget(base, model_server):
    settings = with_openai(base, model_server).replace(budget_room_daily_tokens=1000,
                                                       job_max_attempts=1)
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a kettle")
        key = f"budget:room:{room['room']}:tokens"
        model_server.switches.status = 401  # not transient: the job fails at once
        r = await run_job(http, room, tool="twist", inputs=["p"],
                          params={"model": "openai:gpt-4.1-mini", "max_tokens": 700})
        assert r.status_code == 202, r.text
        reserved = await counter(settings, key)
        assert reserved >= 700
        # While it is reserved a second such run does not fit...
        second = await run_job(http, room, tool="twist", inputs=["p"],
                               params={"model": "openai:gpt-4.1-mini", "max_tokens": 700})
        assert second.status_code == 429
        async with run_worker(settings):  # only now: the first run was still reserved
            job = await wait_final(http, room, r.json()["job_id"])
            assert job["status"] == "error" and job["cost_usd"] == 0
            # ...and once it failed, all is given back.
            await eventually(lambda: _is(counter(settings, key), 0), timeout=5)
            model_server.switches.status = None
            third = await run_job(http, room, tool="twist", inputs=["p"],
                                  params={"model": "openai:gpt-4.1-mini", "max_tokens": 700})
            assert third.status_code == 202, third.text
            done = await wait_final(http, room, third.json()["job_id"])
            assert done["status"] == "done"
            used = done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
            await eventually(lambda: _is(counter(settings, key), used), timeout=5)  # settled
        await a.close()


async def test_cancelled_job_gives_back_what_it_did_not_use(base):
    slow = base.replace(offline_delay=0.2, budget_room_daily_tokens=5000)
    async with run_server(slow) as srv, run_worker(slow), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a slow story " * 20)
        key = f"budget:room:{room['room']}:tokens"
        r = await run_job(http, room, tool="run", inputs=["p"])
        job_id, (out,) = r.json()["job_id"], r.json()["outputs"]
        reserved = await counter(slow, key)
        assert reserved > 800
        await eventually(lambda: len(a.block_text(out) or "") > 0, timeout=20)
        c = await http.post(f"/api/rooms/{room['room']}/jobs/{job_id}/cancel",
                            headers=auth(room["edit_token"]))
        assert c.status_code == 200

        async def settled():
            return (await job_row(http, room, job_id))["usage"] is not None

        await eventually(settled, timeout=5)
        job = await job_row(http, room, job_id)
        written = len(a.block_text(out) or "")
        expected = job["usage"]["input_tokens"] + job["usage"]["output_tokens"]
        await eventually(lambda: _is(counter(slow, key), expected), timeout=5)
        used = await counter(slow, key)
        assert 0 < used < reserved
        assert job["usage"]["output_tokens"] == pytest.approx(math.ceil(written / 4), abs=3)
        await a.close()


async def test_cancelling_a_queued_job_gives_back_all_it_reserved(base):
    settings = base.replace(budget_room_daily_images=4)
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)  # no worker: the job stays queued
        a = await connect(srv, room)
        a.add_text_block("p", "a moth")
        key = f"budget:room:{room['room']}:images"
        r = await run_job(http, room, tool="variations", inputs=["p"])
        assert r.status_code == 202
        assert await counter(settings, key) == 4
        refused = await run_job(http, room, tool="generate_image", inputs=["p"])
        assert refused.status_code == 429
        c = await http.post(f"/api/rooms/{room['room']}/jobs/{r.json()['job_id']}/cancel",
                            headers=auth(room["edit_token"]))
        assert c.status_code == 200
        assert await counter(settings, key) == 0
        again = await run_job(http, room, tool="generate_image", inputs=["p"])
        assert again.status_code == 202
        await a.close()


# ---------------------------------------------------------------------------- keys


async def put_key(http, room, provider, api_key, base_url=None, token=None):
    body = {"api_key": api_key}
    if base_url is not None:
        body["base_url"] = base_url
    return await http.put(f"/api/rooms/{room['room']}/keys/{provider}",
                          headers=auth(token or room["edit_token"]), json=body)


def sent_keys(fake: FakeModelServer) -> list[str]:
    out = []
    for q in fake.requests:
        if "authorization" in q.headers:
            out.append(q.headers["authorization"].removeprefix("Bearer "))
        elif "x-goog-api-key" in q.headers:
            out.append(q.headers["x-goog-api-key"])
    return out


async def test_room_keys_are_used_for_that_room_only(base, model_server):
    settings = with_openai(base, model_server).replace(
        gemini_base_url=model_server.gemini_base_url,
        allow_private_base_urls=True)  # the fake model server listens on loopback
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        mine, other = await new_room(http), await new_room(http)
        a, b = await connect(srv, mine), await connect(srv, other)
        a.add_text_block("p", "a comet")
        b.add_text_block("p", "a comet")
        assert (await put_key(http, mine, "openai", ROOM_OPENAI_KEY,
                              model_server.openai_base_url)).status_code == 200
        assert (await put_key(http, mine, "gemini", ROOM_GEMINI_KEY)).status_code == 200
        # The room's Gemini key makes Gemini models available to that room alone.
        room_models = (await http.get(f"/api/models?room={mine['room']}",
                                      headers=auth(mine["view_token"]))).json()
        assert "gemini:gemini-2.5-flash" in {m["id"] for m in room_models["models"]}
        plain = (await http.get("/api/models")).json()
        assert "gemini:gemini-2.5-flash" not in {m["id"] for m in plain["models"]}

        for room, model in ((mine, "openai:gpt-4.1-mini"), (mine, "gemini:gemini-2.5-flash"),
                            (other, "openai:gpt-4.1-mini")):
            before = len(model_server.requests)
            r = await run_job(http, room, tool="expand", inputs=["p"], params={"model": model})
            assert r.status_code == 202, r.text
            job = await wait_final(http, room, r.json()["job_id"])
            assert job["status"] == "done", job
            used = sent_keys(FakeModelServerView(model_server, before))
            expected = {(mine["room"], "openai:gpt-4.1-mini"): ROOM_OPENAI_KEY,
                        (mine["room"], "gemini:gemini-2.5-flash"): ROOM_GEMINI_KEY,
                        (other["room"], "openai:gpt-4.1-mini"): SERVER_OPENAI_KEY}
            assert used == [expected[(room["room"], model)]]
        refused = await run_job(http, other, tool="expand", inputs=["p"],
                                params={"model": "gemini:gemini-2.5-flash"})
        assert refused.status_code == 400  # the other room has no Gemini
        # Removing the key puts the room back on the server's.
        d = await http.delete(f"/api/rooms/{mine['room']}/keys/openai",
                              headers=auth(mine["edit_token"]))
        assert d.status_code == 204
        before = len(model_server.requests)
        r = await run_job(http, mine, tool="expand", inputs=["p"],
                          params={"model": "openai:gpt-4.1-mini"})
        await wait_final(http, mine, r.json()["job_id"])
        assert sent_keys(FakeModelServerView(model_server, before)) == [SERVER_OPENAI_KEY]
        await a.close()
        await b.close()


class FakeModelServerView:
    """The requests a fake received after ``start``."""

    def __init__(self, fake: FakeModelServer, start: int) -> None:
        self.requests = fake.requests[start:]


async def test_room_key_is_found_nowhere_but_encrypted(base, model_server, caplog, database_url):
    caplog.set_level(logging.DEBUG)
    settings = base.replace(gemini_base_url=model_server.gemini_base_url)
    responses: list[str] = []
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        http.event_hooks["response"] = [lambda resp: _keep(resp, responses)]
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "an owl")
        put = await put_key(http, room, "gemini", ROOM_GEMINI_KEY)
        assert put.status_code == 200
        assert put.json()["gemini"] == {"set": True, "last4": ROOM_GEMINI_KEY[-4:],
                                        "base_url": ""}
        assert put.json()["openai"]["set"] is False
        got = await http.get(f"/api/rooms/{room['room']}/keys", headers=auth(room["edit_token"]))
        assert got.json()["gemini"]["last4"] == ROOM_GEMINI_KEY[-4:]
        r = await run_job(http, room, tool="expand", inputs=["p"],
                          params={"model": "gemini:gemini-2.5-flash"})
        job = await wait_final(http, room, r.json()["job_id"])
        assert job["status"] == "done"
        # A failing call (the provider rejects the key) must not echo it either.
        model_server.switches.status = 401
        r2 = await run_job(http, room, tool="twist", inputs=["p"],
                           params={"model": "gemini:gemini-2.5-flash"})
        failed = await wait_final(http, room, r2.json()["job_id"])
        assert failed["status"] == "error"
        model_server.switches.status = None
        for path in ("/api/models?room=" + room["room"], f"/api/rooms/{room['room']}/jobs",
                     f"/api/rooms/{room['room']}/usage", f"/api/rooms/{room['room']}"):
            await http.get(path, headers=auth(room["edit_token"]))
        await http.post(f"/api/rooms/{room['room']}/estimate", headers=auth(room["edit_token"]),
                        json={"tool": "expand", "inputs": ["p"]})
        bad = await put_key(http, room, "gemini", ROOM_GEMINI_KEY + " \x01")
        assert bad.status_code == 400
        await asyncio.sleep(0.3)
        document = a.doc.get_update()
        doc_json = str(a.doc.get("blocks", type=Map).to_py()) + str(
            a.doc.get("meta", type=Map).to_py())
        await a.close()
    assert ROOM_GEMINI_KEY in sent_keys(model_server)  # it really was used
    assert len(responses) >= 10
    assert not [body for body in responses if ROOM_GEMINI_KEY in body]
    assert ROOM_GEMINI_KEY[:-4] not in caplog.text and ROOM_GEMINI_KEY not in caplog.text
    assert "job" in caplog.text  # the logs were captured at all
    assert ROOM_GEMINI_KEY.encode() not in document and ROOM_GEMINI_KEY not in doc_json
    conn = await asyncpg.connect(database_url)
    try:
        hits = []
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in await conn.fetch(f'SELECT t::text AS t FROM "{table}" t'):
                if ROOM_GEMINI_KEY in row["t"] or ROOM_GEMINI_KEY.encode().hex() in row["t"]:
                    hits.append(table)
        stored = await conn.fetchrow("SELECT ciphertext, last4 FROM room_keys WHERE room_id = $1",
                                     room["room"])
    finally:
        await conn.close()
    assert hits == []
    assert stored is not None and stored["last4"] == ROOM_GEMINI_KEY[-4:]
    assert ROOM_GEMINI_KEY.encode() not in bytes(stored["ciphertext"])
    assert len(bytes(stored["ciphertext"])) > len(ROOM_GEMINI_KEY)


def _keep(response: httpx.Response, into: list[str]):
    async def read() -> None:
        await response.aread()
        into.append(response.text + str(dict(response.headers)))

    return read()


async def test_view_link_cannot_read_set_or_remove_keys(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        view = auth(room["view_token"])
        keys = f"/api/rooms/{room['room']}/keys"
        assert (await http.get(keys, headers=view)).status_code == 403
        assert (await put_key(http, room, "openai", ROOM_OPENAI_KEY,
                              token=room["view_token"])).status_code == 403
        assert (await http.delete(f"{keys}/openai", headers=view)).status_code == 403
        assert (await http.get(keys)).status_code == 401
        listed = (await http.get(keys, headers=auth(room["edit_token"]))).json()
        assert listed["openai"]["set"] is False


async def test_put_key_for_an_unknown_provider_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_key(http, room, "acme", ROOM_OPENAI_KEY)
        assert r.status_code == 400 and r.json()["type"].endswith("#bad_provider")


async def test_put_empty_key_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_key(http, room, "openai", "   ")
        assert r.status_code == 400 and r.json()["type"].endswith("#bad_key")


async def test_put_key_with_a_base_url_holding_credentials_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_key(http, room, "openai", ROOM_OPENAI_KEY, "https://u:p@example.com/v1")
        assert r.status_code == 400 and r.json()["type"].endswith("#bad_base_url")
        assert ROOM_OPENAI_KEY not in r.text


async def test_put_gemini_key_with_a_base_url_is_400(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_key(http, room, "gemini", ROOM_GEMINI_KEY, "https://example.com")
        assert r.status_code == 400 and r.json()["type"].endswith("#bad_base_url")


async def test_delete_key_never_set_is_404(base):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.delete(f"/api/rooms/{room['room']}/keys/gemini",
                              headers=auth(room["edit_token"]))
        assert r.status_code == 404


async def test_room_prompt_template_reaches_the_model(base, model_server):
    settings = with_openai(base, model_server)
    async with run_server(settings) as srv, run_worker(settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a cedar")
        meta = a.doc.get("meta", type=Map)
        with a.doc.transaction():
            meta["prompts"] = Map({"twist": "PIRATE VERSION of {input}"})
        await asyncio.sleep(0.2)
        r = await run_job(http, room, tool="twist", inputs=["p"],
                          params={"model": "openai:gpt-4.1-mini"})
        job = await wait_final(http, room, r.json()["job_id"])
        assert job["status"] == "done"
        await a.close()
    sent = model_server.requests[-1].json["messages"][-1]["content"]
    assert sent == "PIRATE VERSION of a cedar"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/v1", "http://localhost:8000/v1",
                                 "http://169.254.169.254/latest", "http://10.0.0.8/v1",
                                 "http://[::1]/v1"])
async def test_room_base_url_inside_the_servers_network_is_refused(base, url):
    async with run_server(base) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_key(http, room, "openai", ROOM_OPENAI_KEY, url)
        assert r.status_code == 400
        assert "public endpoint" in r.json()["detail"]
        listed = (await http.get(f"/api/rooms/{room['room']}/keys",
                                 headers=auth(room["edit_token"]))).json()
        assert listed["openai"]["set"] is False


async def test_room_base_url_re_pointed_inside_the_network_is_refused_by_the_worker(
        base, model_server):
    """DNS rebinding: the name was public when the key was saved (here: a server that
    allows private URLs) and points at loopback when the job runs. The worker (which
    does not allow them) refuses to connect, and the block says why; nothing reached the
    address."""
    server_settings = base.replace(allow_private_base_urls=True)
    worker_settings = base.replace(allow_private_base_urls=False)
    url = f"http://localhost:{model_server.port}/v1"
    async with run_server(server_settings) as srv, run_worker(worker_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await connect(srv, room)
        a.add_text_block("p", "a heron")
        assert (await put_key(http, room, "openai", ROOM_OPENAI_KEY, url)).status_code == 200
        r = await run_job(http, room, tool="expand", inputs=["p"],
                          params={"model": "openai:gpt-4.1-mini"})
        assert r.status_code == 202, r.text
        job = await wait_final(http, room, r.json()["job_id"])
        assert job["status"] == "error", job
        assert "inside the server's network" in job["error"], job
        assert job["attempt"] == 1, "a refusal is not worth a retry"
        out = job["outputs"][0]

        def block_error():
            block = a.blocks().get(out)
            return block is not None and block.get("status") == "error" and (
                "inside the server's network" in str(block.get("error")))

        await eventually(block_error, timeout=5, message="the block to show the refusal")
        await a.close()
    assert model_server.requests == []
