"""Run again: the same tool, inputs and parameters posted with ``outputs`` naming a
finished (or failed) block re-runs it in place: the same block, no new block or edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pycrdt import Map

from tests.conftest import run_server, run_worker
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(90)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def setup(srv: Any, http: httpx.AsyncClient) -> tuple[dict[str, str], YClient]:
    room = (await http.post("/api/rooms", json={"title": "again"})).json()
    peer = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    return room, peer


async def job(http: httpx.AsyncClient, room: dict[str, str], job_id: str) -> dict[str, Any]:
    r = await http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                       headers=auth(room["view_token"]))
    return dict(r.json())


async def finished(http: httpx.AsyncClient, room: dict[str, str], job_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        j = await job(http, room, job_id)
        return j if j["status"] in ("done", "error", "cancelled") else None
    return dict(await eventually(ended, timeout=30, message=f"job {job_id} to end"))


def edges(peer: YClient) -> list[tuple[str, str]]:
    return sorted((e["source"], e["target"])
                  for e in peer.doc.get("edges", type=Map).to_py().values())


async def test_run_again_rewrites_a_finished_text_block_in_place(settings):
    s = settings.replace(offline_delay=0.002)
    async with run_server(s) as srv, run_worker(s), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room, peer = await setup(srv, http)
        try:
            peer.add_text_block("p", "a lighthouse in fog")
            first = await http.post(f"/api/rooms/{room['room']}/jobs",
                                    headers=auth(room["edit_token"]),
                                    json={"tool": "expand", "inputs": ["p"],
                                          "params": {"words": 40}})
            assert first.status_code == 202, first.text
            (out,) = first.json()["outputs"]
            done = await finished(http, room, first.json()["job_id"])
            assert done["status"] == "done"
            await eventually(lambda: peer.blocks()[out]["status"] == "done")
            before_edges = edges(peer)
            # The browser's run again: the job record's tool, inputs and params, into `out`.
            again = await http.post(f"/api/rooms/{room['room']}/jobs",
                                    headers=auth(room["edit_token"]),
                                    json={"tool": done["tool"], "inputs": done["inputs"],
                                          "params": done["params"], "outputs": [out]})
            assert again.status_code == 202, again.text
            assert again.json()["outputs"] == [out]
            second = await finished(http, room, again.json()["job_id"])
            assert second["status"] == "done" and second["params"] == done["params"]
            await eventually(lambda: peer.blocks()[out].get("jobId") == second["job_id"]
                             and peer.blocks()[out]["status"] == "done")
            text = peer.block_text(out) or ""
            assert text.count("lighthouse") >= 1 and text.count("[offline]") == 1, text
            assert sorted(peer.blocks()) == sorted(["p", out])
            assert edges(peer) == before_edges
        finally:
            await peer.close()


async def test_run_again_remakes_one_failed_variation_and_leaves_the_others(settings):
    s = settings.replace(offline_delay=0.002)
    async with run_server(s) as srv, run_worker(s), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room, peer = await setup(srv, http)
        try:
            peer.add_text_block("p", "a red kite")
            first = await http.post(f"/api/rooms/{room['room']}/jobs",
                                    headers=auth(room["edit_token"]),
                                    json={"tool": "variations", "inputs": ["p"]})
            assert first.status_code == 202, first.text
            outs = first.json()["outputs"]
            done = await finished(http, room, first.json()["job_id"])
            def all_done() -> bool:
                return all(peer.blocks()[o]["status"] == "done" for o in outs)
            await eventually(all_done)
            keys = {o: peer.blocks()[o]["image"]["key"] for o in outs}
            # One of the four is marked failed (as a provider error would leave it).
            blocks = peer.doc.get("blocks", type=Map)
            with peer.doc.transaction():
                blocks[outs[2]]["status"] = "error"
                blocks[outs[2]]["error"] = "The model was busy"
            again = await http.post(f"/api/rooms/{room['room']}/jobs",
                                    headers=auth(room["edit_token"]),
                                    json={"tool": "variations", "inputs": done["inputs"],
                                          "params": done["params"],
                                          "outputs": [outs[2]]})
            assert again.status_code == 202, again.text
            assert again.json()["outputs"] == [outs[2]]
            await finished(http, room, again.json()["job_id"])
            await eventually(lambda: peer.blocks()[outs[2]]["status"] == "done"
                             and peer.blocks()[outs[2]]["image"]["key"] != keys[outs[2]])
            for o in (outs[0], outs[1], outs[3]):
                assert peer.blocks()[o]["image"]["key"] == keys[o]
                assert peer.blocks()[o]["jobId"] == first.json()["job_id"]
            assert len(peer.blocks()) == 5
        finally:
            await peer.close()


async def test_a_run_naming_more_outputs_than_the_tool_makes_is_refused(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, peer = await setup(srv, http)
        try:
            peer.add_text_block("p", "a red kite")
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": "expand", "inputs": ["p"],
                                      "outputs": ["o1", "o2"]})
            assert r.status_code == 400 and "makes 1 block" in r.json()["detail"]
        finally:
            await peer.close()
