"""Where the server puts a run's outputs (issue 22, "Where outputs go"): beside their input,
to the right, never above or left of it, never on a block, a long branch growing as a
tree (to the right), not as one column; and two runs started at the same moment on the
same input never land on each other."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from pycrdt import Map

from sync.canvas_index import DEFAULT_H, DEFAULT_W
from tests.conftest import run_server, run_worker
from tests.yclient import YClient, eventually


@pytest.fixture
def job_settings(settings):
    return settings.replace(offline_delay=0.002)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rect(block: dict[str, Any]) -> tuple[float, float, float, float]:
    return (float(block["x"]), float(block["y"]), float(block.get("w", DEFAULT_W)),
            float(block.get("h", DEFAULT_H)))


def overlapping(blocks: dict[str, Any]) -> list[tuple[str, str]]:
    ids = sorted(blocks)
    out = []
    for i, a in enumerate(ids):
        ax, ay, aw, ah = rect(blocks[a])
        for b in ids[i + 1:]:
            bx, by, bw, bh = rect(blocks[b])
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                out.append((a, b))
    return out


async def test_a_chain_of_expands_grows_to_the_right_as_a_tree(job_settings):
    """Six expands, each on the output of the one before (an input several levels deep),
    plus a second run on the root and on a middle block: every output is right of its
    input and not above it, no block covers another, and the chain spreads to the right
    (six levels take six columns, not one growing column)."""
    async with run_server(job_settings) as srv, run_worker(job_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={"title": "chain"})).json()
        ws = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a = await YClient.connect(ws)
        a.add_text_block("root", "a lighthouse in fog", x=100, y=100)

        async def expand(source: str) -> str:
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": "expand", "inputs": [source]})
            assert r.status_code == 202, r.text
            (out,) = r.json()["outputs"]
            await eventually(lambda: a.blocks().get(out, {}).get("status") == "done",
                             timeout=20, message=f"{out} done")
            return out

        chain = ["root"]
        for _ in range(6):
            chain.append(await expand(chain[-1]))
        runs = list(itertools.pairwise(chain))
        for source in ("root", chain[3]):
            runs.append((source, await expand(source)))
        blocks = a.blocks()
        for source, out in runs:
            sx, sy, sw, _ = rect(blocks[source])
            ox, oy, _, _ = rect(blocks[out])
            assert ox >= sx + sw, (source, out, "left of its input")
            assert oy >= sy, (source, out, "above its input")
        assert not overlapping(blocks)
        columns = {rect(blocks[b])[0] for b in chain}
        assert len(columns) == len(chain), "the chain is one growing column"
        await a.close()


async def test_two_runs_started_at_the_same_moment_never_overlap(job_settings):
    """Two people run tools on the same input at the same moment (two jobs asked for
    concurrently through the API, an expand and a variations, twice over): the second
    placement sees the first's new blocks, so no output lands on another's."""
    async with run_server(job_settings) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={"title": "together"})).json()
        ws = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a = await YClient.connect(ws)
        a.add_text_block("idea", "a red fox", x=0, y=0)

        async def run(tool: str) -> list[str]:
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": tool, "inputs": ["idea"]})
            assert r.status_code == 202, r.text
            return list(r.json()["outputs"])

        made = await asyncio.gather(run("expand"), run("variations"), run("expand"),
                                    run("variations"))
        outs = [o for group in made for o in group]
        await eventually(lambda: all(o in a.blocks() for o in outs), timeout=10,
                         message="every output in the document")
        blocks = a.blocks()
        assert not overlapping(blocks), overlapping(blocks)
        for out in outs:
            assert rect(blocks[out])[0] >= DEFAULT_W and rect(blocks[out])[1] >= 0
        await a.close()


async def test_two_browsers_placing_outputs_on_the_same_spot_end_up_apart(job_settings):
    """Two people run a tool on the same input at the same moment from their browsers:
    each browser places its output block from what it has seen, so both land on the same
    spot. The server prepares the runs one at a time and moves the later run's fresh
    output clear of the earlier one; a block run again in place is not moved."""
    async with run_server(job_settings) as srv, \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={"title": "same spot"})).json()
        ws = f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        ada, ben = await YClient.connect(ws), await YClient.connect(ws)
        ada.add_text_block("idea", "a red fox", x=0, y=0)
        await eventually(lambda: "idea" in ben.blocks(), message="Ben sees the idea")
        for client, out in ((ada, "out_ada"), (ben, "out_ben")):
            client.add_text_block(out, "", x=340, y=0)
            blocks = client.doc.get("blocks", type=Map)
            blocks[out]["status"] = "queued"
        await eventually(lambda: {"out_ada", "out_ben"} <= set(ada.blocks()),
                         message="both outputs everywhere")

        async def run(out: str) -> None:
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": "expand", "inputs": ["idea"], "outputs": [out]})
            assert r.status_code == 202, r.text

        await asyncio.gather(run("out_ada"), run("out_ben"))
        await eventually(lambda: not overlapping(ada.blocks()), timeout=10,
                         message="the two outputs apart")
        blocks = ada.blocks()
        assert {rect(blocks[o])[0] for o in ("out_ada", "out_ben")} == {340.0}
        assert min(rect(blocks[o])[1] for o in ("out_ada", "out_ben")) == 0.0
        await ada.close()
        await ben.close()
