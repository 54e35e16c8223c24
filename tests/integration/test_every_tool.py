"""With no API keys (the offline provider), every tool runs to the end and fills its
outputs: what `make dev` offers a person."""

from __future__ import annotations

import httpx
import pytest

from sync.tools import TOOLS
from tests.conftest import run_server, run_worker
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(180)


async def test_every_tool_runs_offline(settings):
    s = settings.replace(offline_delay=0.001)
    async with run_server(s) as srv, run_worker(s), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        headers = {"Authorization": f"Bearer {room['edit_token']}"}
        a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                  f"{room['edit_token']}")
        a.add_text_block("p1", "- a lighthouse\n- a storm\n- a gull")
        a.add_text_block("p2", "in the style of woodcut prints")
        # An image to describe: generate one first.
        r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=headers,
                            json={"tool": "generate_image", "inputs": ["p1"]})
        assert r.status_code == 202, r.text
        (img,) = r.json()["outputs"]
        await eventually(lambda: a.blocks()[img]["status"] == "done", timeout=60)
        inputs = {"run": ["p1"], "expand": ["p1"], "twist": ["p1"], "reimagine": ["p1"],
                  "combine": ["p1", "p2"], "split": ["p1"], "describe": [img],
                  "image_to_json": [img], "generate_image": ["p1"], "variations": ["p2"]}
        assert set(inputs) == set(TOOLS), "a new tool needs a case here"
        jobs = {}
        for tool, ins in inputs.items():
            r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=headers,
                                json={"tool": tool, "inputs": ins})
            assert r.status_code == 202, (tool, r.text)
            jobs[tool] = r.json()

        async def finished() -> bool:
            for tool, job in jobs.items():
                got = (await http.get(f"/api/rooms/{room['room']}/jobs/{job['job_id']}",
                                      headers=headers)).json()
                if got["status"] != "done":
                    assert got["status"] in ("queued", "running"), (tool, got)
                    return False
            return True

        await eventually(finished, timeout=120, interval=0.2)
        blocks = a.blocks()
        for tool in ("run", "expand", "twist", "reimagine", "combine", "describe",
                     "image_to_json"):
            (out,) = jobs[tool]["outputs"]
            assert blocks[out]["status"] == "done" and a.block_text(out), tool
        for tool in ("generate_image", "variations"):
            for out in jobs[tool]["outputs"]:
                assert blocks[out]["image"]["key"].startswith(f"rooms/{room['room']}/"), tool
        split_outputs = [b for b, v in blocks.items() if v.get("tool") == "split"]
        assert sorted(a.block_text(b) for b in split_outputs) == ["a gull", "a lighthouse",
                                                                   "a storm"]
        await a.close()
