"""A huge canvas must not make each request to it cost the whole canvas.

The attack: fill a canvas with 50,000 blocks (well inside the 16 MB document cap, over the
real socket), then ask for runs and lineages over HTTP. Placing a run's outputs used to
read every block of the canvas on the event loop (1.35 s per job at 50,000 blocks, while
every other room on the process waited); a lineage read every edge. Now both ask the
room's canvas index, built once per room load, which answers from what is near.

What is measured is work, not time (this machine's speed is not the product's): the
blocks each placement looked at and the edges each lineage read, from ``/metrics``. The
same requests on a 500-block canvas and on a 50,000-block canvas of the same shape must
look at exactly as much, and little. ``bench/job_layout.py`` prints the times.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pycrdt import Map

from sync.canvas_index import rect_of
from tests.conftest import RunningServer, run_server
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(300)

COLS_SMALL, ROWS_SMALL = 25, 20  # 500 blocks
COLS_BIG, ROWS_BIG = 250, 200  # 50,000 blocks
PITCH_X, PITCH_Y = 1000.0, 300.0  # room beside each block for a run's outputs
W, H = 280.0, 200.0
CHUNK = 2000  # blocks (and edges) per update: each message stays under 1 MB
ROW, COL = 5, 5  # the block the runs start from, inside both canvases


def bid(r: int, c: int) -> str:
    return f"b{r:03d}x{c:03d}"


async def build(client: YClient, rows: int, cols: int) -> None:
    """A grid of text blocks, each row a chain of edges (left to right), sent as a few
    updates of up to CHUNK blocks each."""
    blocks = client.doc.get("blocks", type=Map)
    edges = client.doc.get("edges", type=Map)
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    for start in range(0, len(cells), CHUNK):
        with client.doc.transaction():
            for r, c in cells[start:start + CHUNK]:
                blocks[bid(r, c)] = Map({"kind": "text", "x": c * PITCH_X, "y": r * PITCH_Y,
                                         "w": W, "h": H, "status": "idle",
                                         "createdAt": float(r * cols + c)})
                if c:
                    edges[f"e{r:03d}x{c:03d}"] = Map({"source": bid(r, c - 1),
                                                      "target": bid(r, c), "tool": "expand"})


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def counters(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    return {name: value(text, f"arbor_{name}_total")
            for name in ("layout_placements", "layout_blocks_examined",
                         "canvas_edges_examined", "canvas_indexes_built")}


@contextlib.asynccontextmanager
async def canvas(srv: RunningServer, http: httpx.AsyncClient, rows: int,
                 cols: int) -> AsyncIterator[tuple[dict[str, str], YClient]]:
    """A new canvas of rows x cols blocks, and a client that keeps it loaded."""
    room = (await http.post("/api/rooms", json={"title": "huge"})).json()
    client = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                   f"{room['edit_token']}")
    try:
        await build(client, rows, cols)

        def arrived() -> bool:
            held = srv.services.rooms.rooms[room["room"]]
            return len(held.doc.get("blocks", type=Map)) == rows * cols

        await eventually(arrived, timeout=120, message="the canvas to reach the server")
        yield room, client
    finally:
        await client.close()


def assert_clear(srv: RunningServer, room_id: str, outs: list[str]) -> None:
    """No output covers any other block of the canvas (checked against every block)."""
    blocks = srv.services.rooms.rooms[room_id].doc.get("blocks", type=Map)
    rects = {k: rect_of(b) for k, b in blocks.items()}
    for out in outs:
        x, y, w, h = rects[out] or (0.0, 0.0, 0.0, 0.0)
        for key, other in rects.items():
            if key == out or other is None:
                continue
            ox, oy, ow, oh = other
            assert not (x < ox + ow and ox < x + w and y < oy + oh and oy < y + h), (out, key)


async def test_placing_a_runs_outputs_looks_at_as_few_blocks_on_a_huge_canvas(settings):
    """Attack: runs on a 50,000-block canvas, each of which made the server read every
    block. Each placement now looks at the same few blocks as on a 500-block canvas."""
    per_canvas: list[list[float]] = []
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=60) as http:
        for rows, cols in ((ROWS_SMALL, COLS_SMALL), (ROWS_BIG, COLS_BIG)):
            async with canvas(srv, http, rows, cols) as (room, _):
                before = await counters(http)
                examined: list[float] = []
                outs: list[str] = []
                for tool in ("expand", "twist", "variations"):
                    at = await counters(http)
                    r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                        headers={"Authorization": f"Bearer {room['edit_token']}"},
                                        json={"tool": tool, "inputs": [bid(ROW, COL)]})
                    assert r.status_code == 202, r.text
                    outs += r.json()["outputs"]
                    after = await counters(http)
                    assert after["layout_placements"] - at["layout_placements"] == 1
                    examined.append(after["layout_blocks_examined"]
                                    - at["layout_blocks_examined"])
                # The index was built once for this canvas, not once per run.
                assert after["canvas_indexes_built"] - before["canvas_indexes_built"] == 1
                assert_clear(srv, room["room"], outs)
                per_canvas.append(examined)
    small, big = per_canvas
    assert big == small, per_canvas  # a hundred times the canvas, not one block more
    assert all(n <= 64 for n in big), per_canvas


async def test_a_lineage_on_a_huge_canvas_reads_only_the_edges_into_its_steps(settings):
    """Attack: lineage requests (a view link is enough) on a canvas of 50,000 blocks and
    49,800 edges, each of which made the server read and sort every edge. Each now reads
    the same few edges as on a 500-block canvas."""
    per_canvas: list[tuple[float, list[Any]]] = []
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=60) as http:
        for rows, cols in ((ROWS_SMALL, COLS_SMALL), (ROWS_BIG, COLS_BIG)):
            async with canvas(srv, http, rows, cols) as (room, _):
                url = f"/api/rooms/{room['room']}/lineage/{bid(ROW, COL)}"
                auth = {"Authorization": f"Bearer {room['view_token']}"}
                await http.get(url, headers=auth)  # builds the index (once per room load)
                at = await counters(http)
                r = await http.get(url, headers=auth)
                assert r.status_code == 200, r.text
                after = await counters(http)
                steps = [s["block_id"] for s in r.json()["lineage"]]
                assert steps == [bid(ROW, c) for c in range(COL + 1)]
                per_canvas.append((after["canvas_edges_examined"] - at["canvas_edges_examined"],
                                   steps))
    (small, _), (big, _) = per_canvas
    assert big == small == COL, per_canvas  # one edge into each step but the root


async def test_a_run_naming_more_than_eight_output_blocks_is_refused(settings):
    """Attack: a ``split`` run (its block count is decided when it runs, so no count was
    checked) naming thousands of output blocks, each of which the server would make,
    place and link. More than eight is refused (400) and nothing is made."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        client = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                       f"{room['edit_token']}")
        try:
            client.add_text_block("p", "- a\n- b")
            await eventually(lambda: "p" in srv.services.rooms.rooms[room["room"]].doc.get(
                "blocks", type=Map))
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers={"Authorization": f"Bearer {room['edit_token']}"},
                                json={"tool": "split", "inputs": ["p"],
                                      "outputs": [f"o{i}" for i in range(2000)]})
            assert r.status_code == 400, r.text[:200]
            assert "at most 8" in r.json()["detail"]
            held = srv.services.rooms.rooms[room["room"]].doc.get("blocks", type=Map)
            assert list(held.keys()) == ["p"]
        finally:
            await client.close()
