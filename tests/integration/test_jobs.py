"""Tools run by real arq workers stream into the shared canvas."""

from __future__ import annotations

import httpx
import pytest
from pycrdt import Map

from tests.conftest import run_server, run_worker
from tests.yclient import YClient, eventually


@pytest.fixture
def job_settings(settings):
    return settings.replace(offline_delay=0.002)


async def new_room(http) -> dict[str, str]:
    r = await http.post("/api/rooms", json={"title": "jobs"})
    assert r.status_code == 201
    return dict(r.json())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_expand_streams_into_a_new_block_for_everyone(job_settings):
    async with run_server(job_settings) as srv, run_worker(job_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        ws = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a = await YClient.connect(ws)
        watcher = await YClient.connect(ws)
        a.add_text_block("idea", "a lighthouse in fog")
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "expand", "inputs": ["idea"]})
        assert r.status_code == 202, r.text
        body = r.json()
        (out,) = body["outputs"]
        assert watcher.blocks()[out]["status"] in ("queued", "running", "done")
        await eventually(lambda: watcher.blocks()[out]["status"] == "done", timeout=20)
        text = watcher.block_text(out)
        assert "[offline]" in text and "lighthouse" in text
        edges = watcher.doc.get("edges", type=Map).to_py()
        assert any(e["source"] == "idea" and e["target"] == out for e in edges.values())
        async def job_done() -> dict | None:  # the block is written before the job row
            got = (await http.get(f"/api/rooms/{room['room']}/jobs/{body['job_id']}",
                                  headers=auth(room["view_token"]))).json()
            return got if got["status"] == "done" else None

        job = await eventually(job_done, timeout=10, message="the job row to say done")
        assert job["attempt"] == 1
        await a.close()
        await watcher.close()


async def test_generate_image_sets_the_image_of_its_block(job_settings):
    async with run_server(job_settings) as srv, run_worker(job_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        ws = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a = await YClient.connect(ws)
        a.add_text_block("p", "a red fox")
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "variations", "inputs": ["p"],
                                  "params": {"size": "1024x1024"}})
        assert r.status_code == 202, r.text
        outs = r.json()["outputs"]
        assert len(outs) == 4
        for out in outs:
            await eventually(lambda out=out: a.blocks()[out]["status"] == "done", timeout=30)
        keys = {a.blocks()[o]["image"]["key"] for o in outs}
        assert len(keys) == 4  # distinct seeds, distinct pictures
        thumb = a.blocks()[outs[0]]["image"]["thumbKey"]
        img = await http.get(f"/api/rooms/{room['room']}/images/{thumb}",
                             headers=auth(room["view_token"]))
        assert img.status_code == 200 and img.content[:4] == b"RIFF"
        await a.close()


async def test_unknown_tool_is_400_and_changes_nothing(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "x")
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "summon_dragons", "inputs": ["p"]})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert "summon_dragons" in r.json()["detail"]
        assert list(a.blocks()) == ["p"]
        await a.close()


async def test_job_through_view_link_is_403(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["view_token"]),
                            json={"tool": "expand", "inputs": []})
        assert r.status_code == 403


async def test_job_on_unknown_block_is_404(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "expand", "inputs": ["nope"]})
        assert r.status_code == 404
        assert r.json()["block"] == "nope"


async def test_too_many_inputs_is_413(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "combine", "inputs": [f"b{i}" for i in range(9)]})
        assert r.status_code == 413


async def test_bad_param_is_400_naming_it(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "expand", "inputs": [],
                                  "params": {"temperature": 99}})
        assert r.status_code == 400
        assert "temperature" in r.json()["detail"]


async def test_cancel_stops_a_running_job_within_a_second(job_settings):
    slow = job_settings.replace(offline_delay=0.2)
    async with run_server(slow) as srv, run_worker(slow), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "a slow story " * 20)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "run", "inputs": ["p"]})
        job_id, (out,) = r.json()["job_id"], r.json()["outputs"]
        await eventually(lambda: len(a.block_text(out) or "") > 0, timeout=20)
        c = await http.post(f"/api/rooms/{room['room']}/jobs/{job_id}/cancel",
                            headers=auth(room["edit_token"]))
        assert c.status_code == 200
        await eventually(lambda: a.blocks()[out]["status"] == "cancelled", timeout=5)
        frozen = a.block_text(out)
        import asyncio

        await asyncio.sleep(1.0)
        assert a.block_text(out) == frozen  # nothing more streamed in
        again = await http.post(f"/api/rooms/{room['room']}/jobs/{job_id}/cancel",
                                headers=auth(room["edit_token"]))
        assert again.status_code == 409
        await a.close()


async def test_deleting_an_output_block_cancels_its_job(job_settings):
    slow = job_settings.replace(offline_delay=0.2)
    async with run_server(slow) as srv, run_worker(slow), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "a long tale " * 20)
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "run", "inputs": ["p"]})
        job_id, (out,) = r.json()["job_id"], r.json()["outputs"]
        await eventually(lambda: len(a.block_text(out) or "") > 0, timeout=20)
        del a.doc.get("blocks", type=Map)[out]
        await eventually(lambda: http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                                          headers=auth(room["view_token"])), timeout=1)

        async def status():
            return (await http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                                   headers=auth(room["view_token"]))).json()["status"]

        async def is_cancelled():
            return await status() == "cancelled"

        await eventually(is_cancelled, timeout=10)
        await a.close()


async def test_client_created_outputs_are_reused_not_duplicated(job_settings):
    async with run_server(job_settings) as srv, run_worker(job_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "tea ceremony")
        a.add_text_block("mine", "")
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "twist", "inputs": ["p"], "outputs": ["mine"]})
        assert r.json()["outputs"] == ["mine"]
        await eventually(lambda: a.blocks()["mine"]["status"] == "done", timeout=20)
        assert set(a.blocks()) == {"p", "mine"}
        await a.close()


async def test_split_makes_one_block_per_item(job_settings):
    async with run_server(job_settings) as srv, run_worker(job_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("list", "1. a cat\n2. a hat\n3. a bat")
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                            json={"tool": "split", "inputs": ["list"]})
        assert r.status_code == 202
        await eventually(lambda: len(a.blocks()) == 4, timeout=20)
        texts = sorted(str(a.block_text(b)) for b in a.blocks() if b != "list")
        assert texts == ["a bat", "a cat", "a hat"]
        await a.close()


async def test_tools_are_listed_with_their_templates(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        tools = (await http.get("/api/tools")).json()["tools"]
        names = {t["name"] for t in tools}
        assert {"run", "expand", "twist", "reimagine", "combine", "split", "describe",
                "image_to_json", "generate_image", "variations"} <= names
        assert all("template" in t and "params" in t for t in tools)


async def test_job_rate_limit_refuses_with_429_and_changes_nothing(job_settings):
    tight = job_settings.replace(rate_jobs_per_min_room=1.0, rate_jobs_burst_room=2)
    async with run_server(tight) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "x")
        codes = []
        for _ in range(4):
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": "expand", "inputs": ["p"]})
            codes.append(r.status_code)
        assert codes == [202, 202, 429, 429]
        assert int(r.headers["retry-after"]) >= 1
        assert "RateLimit-Policy" in r.headers and "try again in" in r.json()["detail"]
        await eventually(lambda: len(a.blocks()) == 3)  # two runs' outputs, no more
        listed = (await http.get(f"/api/rooms/{room['room']}/jobs",
                                 headers=auth(room["view_token"]))).json()["jobs"]
        assert len(listed) == 2
        await a.close()


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(job_settings):
    tight = job_settings.replace(rate_rooms_per_min_ip=1.0, rate_rooms_burst_ip=1)
    async with run_server(tight) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        first = await http.post("/api/rooms", json={}, headers={"X-Forwarded-For": "10.1.1.1"})
        second = await http.post("/api/rooms", json={},
                                 headers={"X-Forwarded-For": "10.2.2.2"})
        assert first.status_code == 201
        assert second.status_code == 429  # same socket peer: a forged header changes nothing


async def test_outputs_the_server_places_never_cover_earlier_blocks(job_settings):
    async with run_server(job_settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("p", "a lantern")
        outs = []
        for tool in ("expand", "twist", "variations"):
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": tool, "inputs": ["p"]})
            outs += r.json()["outputs"]
        await eventually(lambda: all(o in a.blocks() for o in outs))
        boxes = [(b["x"], b["y"], b.get("w", 280), b.get("h", 200))
                 for b in a.blocks().values()]
        for i, (x1, y1, w1, h1) in enumerate(boxes):
            for x2, y2, w2, h2 in boxes[i + 1:]:
                assert not (x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1), \
                    boxes
        await a.close()


async def test_closing_a_worker_with_a_job_in_flight_still_runs_its_shutdown(job_settings):
    """arq's own close() cancels running jobs, then re-raises their cancellation and skips
    our shutdown (the flush of every room the worker wrote to); ours waits and runs it."""
    import asyncio

    async with run_server(job_settings):
        async with run_worker(job_settings) as worker:
            rooms = worker.ctx["arbor"].rooms
            # A job still in flight when the worker closes (arq cancels it).
            worker.tasks["in-flight"] = asyncio.get_running_loop().create_task(
                asyncio.sleep(60))
        assert rooms.closing  # on_shutdown ran: every room the worker held was stored
