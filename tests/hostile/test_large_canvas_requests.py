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

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pycrdt import Map, Text

from sync.canvas_index import rect_of
from tests.conftest import RunningServer, run_server, run_worker
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
            if client.closed is not None:  # say why at once, not after the wait
                raise RuntimeError(f"the server closed the building client: {client.closed}")
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
            async with canvas(srv, http, rows, cols) as (room, client):
                # A run needs a prompt in its input (an empty block is refused).
                client.doc.get("blocks", type=Map)[bid(ROW, COL)]["text"] = Text("a gull")
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


# --- checkpoints: previews and restores ------------------------------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def metric(http: httpx.AsyncClient, name: str) -> float:
    """One figure of ``/metrics`` (a counter's ``_total`` included in ``name``)."""
    return value((await http.get("/metrics")).text, name)


async def checkpointed(srv: RunningServer, http: httpx.AsyncClient, rows: int,
                       cols: int) -> tuple[dict[str, str], int]:
    """A canvas of rows x cols blocks that everyone left: the room is out of memory, and
    its newest checkpoint (taken when it unloaded) holds the whole canvas."""
    async with canvas(srv, http, rows, cols) as (room, _):
        pass
    rooms = srv.services.rooms
    await eventually(lambda: room["room"] not in rooms.rooms and not rooms.unloading,
                     timeout=120, message="the canvas to be stored and unloaded")
    listed = (await http.get(f"/api/rooms/{room['room']}/history",
                             headers=auth(room["view_token"]))).json()["checkpoints"]
    return room, listed[0]["id"]


async def test_a_preview_is_rendered_once_however_many_ask_for_it(settings):
    """Attack: a view link asks for the preview of one checkpoint again and again, some
    of it at once; each request used to decode, walk and serialise the whole checkpoint on
    the event loop. It is rendered once; every other request gets that rendering."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=60) as http:
        room, checkpoint = await checkpointed(srv, http, ROWS_SMALL, COLS_SMALL)
        url = f"/api/rooms/{room['room']}/history/{checkpoint}"
        rendered = await metric(http, "arbor_checkpoint_previews_rendered_total")
        hits = await metric(http, "arbor_checkpoint_preview_hits_total")
        together = await asyncio.gather(*(http.get(url, headers=auth(room["view_token"]))
                                          for _ in range(4)))
        after = [await http.get(url, headers=auth(room["view_token"])) for _ in range(2)]
        answers = [*together, *after]
        assert all(r.status_code == 200 for r in answers), [r.text[:200] for r in answers]
        assert len({r.content for r in answers}) == 1
        shown = answers[0].json()
        assert shown["id"] == checkpoint and shown["reason"] == "unload"
        assert len(shown["canvas"]["blocks"]) == ROWS_SMALL * COLS_SMALL
        assert await metric(http, "arbor_checkpoint_previews_rendered_total") == rendered + 1
        assert await metric(http, "arbor_checkpoint_preview_hits_total") == hits + 5


async def test_the_preview_cache_keeps_no_more_than_its_bytes(settings):
    """Attack: previews of one checkpoint after another, to make the server keep every
    rendering. The cache holds at most ``ARBOR_PREVIEW_CACHE_BYTES`` (here about one
    preview): the oldest goes, and is rendered again when asked for again."""
    async with run_server(settings.replace(preview_cache_bytes=150_000)) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=60) as http:
        first, a = await checkpointed(srv, http, ROWS_SMALL, COLS_SMALL)
        second, b = await checkpointed(srv, http, ROWS_SMALL, COLS_SMALL)
        rendered = await metric(http, "arbor_checkpoint_previews_rendered_total")
        for room, checkpoint in ((first, a), (second, b), (first, a)):
            r = await http.get(f"/api/rooms/{room['room']}/history/{checkpoint}",
                               headers=auth(room["view_token"]))
            assert r.status_code == 200, r.text[:200]
            assert 75_000 < len(r.content) < 150_000  # one fits, two do not
            assert await metric(http, "arbor_checkpoint_preview_cache_bytes") <= 150_000
        assert await metric(http, "arbor_checkpoint_previews_rendered_total") == rendered + 3


async def test_a_flood_of_previews_from_one_address_is_refused_429(settings, key_prefix):
    """Attack: one address asks for previews as fast as it can (each one, uncached, is
    seconds of decoding on a full canvas). Past its bucket it gets 429 with Retry-After,
    and nothing more is rendered."""
    s = settings.replace(redis_prefix=key_prefix,  # this test's own buckets
                         rate_previews_per_min_ip=1.0, rate_previews_burst_ip=3)
    async with run_server(s) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                      timeout=60) as http:
        room, checkpoint = await checkpointed(srv, http, 2, 2)
        url = f"/api/rooms/{room['room']}/history/{checkpoint}"
        rendered = await metric(http, "arbor_checkpoint_previews_rendered_total")
        answers = [await http.get(url, headers=auth(room["view_token"])) for _ in range(8)]
        assert [r.status_code for r in answers] == [200] * 3 + [429] * 5
        refused = answers[-1]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "about:blank#rate_limited"
        assert refused.json()["limit"] == "previews-ip"
        assert int(refused.headers["Retry-After"]) >= 1
        assert await metric(http, "arbor_checkpoint_previews_rendered_total") == rendered + 1


async def test_the_server_answers_other_requests_while_a_huge_preview_is_rendered(settings):
    """Attack: the preview of a 50,000-block checkpoint, which held the event loop for
    seconds (every other request and room on the process waited). It is rendered in a
    child process: a request sent after it, while it is being rendered, is answered
    first (the order of the answers is what is checked, not a time)."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=120) as http:
        room, checkpoint = await checkpointed(srv, http, ROWS_BIG, COLS_BIG)
        preview = asyncio.ensure_future(http.get(
            f"/api/rooms/{room['room']}/history/{checkpoint}", headers=auth(room["view_token"])))
        try:
            # Each poll is itself a request answered while the checkpoint is being read.
            await eventually(lambda: metric(http, "arbor_checkpoint_work_running"), timeout=60,
                             interval=0.05, message="the preview to be in a child's hands")
            health = await http.get("/healthz")
            assert health.status_code == 200
            assert not preview.done()  # answered before the preview, though sent after it
            r = await preview
        finally:
            preview.cancel()
        assert r.status_code == 200, r.text[:200]
        assert len(r.json()["canvas"]["blocks"]) == ROWS_BIG * COLS_BIG


async def test_a_second_restore_while_one_runs_is_refused_409(settings):
    """Attack: an edit link sends restore after restore of a 50,000-block checkpoint, each
    of which decoded the checkpoint and walked the whole canvas on the event loop. While
    one restore of a room runs, another is refused (409, nothing changes); the first
    completes."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=120) as http:
        room, checkpoint = await checkpointed(srv, http, ROWS_BIG, COLS_BIG)
        url = f"/api/rooms/{room['room']}/history/{checkpoint}/restore"
        first = asyncio.ensure_future(http.post(url, headers=auth(room["edit_token"])))
        try:
            await eventually(lambda: metric(http, "arbor_checkpoint_work_running"), timeout=60,
                             interval=0.05, message="the restore to be in a child's hands")
            second = await http.post(url, headers=auth(room["edit_token"]))
            assert not first.done()
            r = await first
        finally:
            first.cancel()
        assert second.status_code == 409, second.text[:200]
        assert second.json()["type"] == "about:blank#restore_in_progress"
        assert r.status_code == 200, r.text[:200]
        listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                 headers=auth(room["view_token"]))).json()["checkpoints"]
        assert [c["reason"] for c in listed[:2]] == ["before_restore", "unload"]


async def test_restores_of_one_room_past_its_bucket_are_refused_429(settings, key_prefix):
    """Attack: an edit link restores one checkpoint after another, each a rewrite of the
    whole canvas for everyone in it. Past the room's bucket they are refused (429) and
    change nothing; each one accepted reached the room's peers as one update."""
    s = settings.replace(redis_prefix=key_prefix,
                         rate_restores_per_min_room=1.0, rate_restores_burst_room=2)
    async with run_server(s) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                      timeout=60) as http:
        room, checkpoint = await checkpointed(srv, http, 3, 3)
        watcher = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                        f"{room['edit_token']}")
        held = srv.services.rooms.rooms[room["room"]].doc.get("blocks", type=Map)
        try:
            from sync import protocol as p

            def updates() -> int:
                return sum(isinstance(p.decode(f), p.SyncUpdate) for f in watcher.received)

            async def arrived(block: str) -> None:
                await eventually(lambda: block in held)

            async def more_than(seen: int) -> None:
                await eventually(lambda: updates() > seen)

            url = f"/api/rooms/{room['room']}/history/{checkpoint}/restore"
            codes = []
            for n in range(4):
                watcher.add_text_block(f"new{n}", "to be undone")  # something to restore
                await arrived(f"new{n}")
                seen = updates()
                r = await http.post(url, headers=auth(room["edit_token"]))
                codes.append(r.status_code)
                if r.status_code == 200:  # an update reaches the watcher, and only one
                    await more_than(seen)
                    assert updates() == seen + 1
            assert codes == [200, 200, 429, 429]
            assert r.json()["limit"] == "restores-room"
            assert "new1" not in held and "new2" in held and "new3" in held
            # A last edit from someone else reaches the watcher after everything the
            # restores sent: two restores, two updates, whatever came late.
            marker = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                           f"{room['edit_token']}")
            marker.add_text_block("last", "")
            await eventually(lambda: "last" in watcher.blocks())
            await marker.close()
            assert updates() == 2 + 1
            listed = (await http.get(f"/api/rooms/{room['room']}/history",
                                     headers=auth(room["view_token"]))).json()["checkpoints"]
            assert [c["reason"] for c in listed].count("before_restore") == 2
        finally:
            await watcher.close()


async def test_api_calls_that_load_canvases_not_in_memory_are_bounded_per_address(
        settings, key_prefix):
    """Attack: estimates (a view link is enough) on many canvases nobody has open, each of
    which made the server load and decode a whole stored document on the event loop.
    Past the address's bucket they are refused (429) before anything is loaded; a canvas
    already in memory costs nothing from the bucket."""
    s = settings.replace(redis_prefix=key_prefix,
                         rate_room_loads_per_min_ip=1.0, rate_room_loads_burst_ip=3)
    async with run_server(s) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                      timeout=60) as http:
        rooms = [(await http.post("/api/rooms", json={})).json() for _ in range(5)]
        held = rooms[-1]
        client = await YClient.connect(f"{srv.ws_url}/sync/{held['room']}?token="
                                       f"{held['edit_token']}")
        try:
            loads = srv.services.rooms.stats.loads
            codes = []
            for room in rooms[:4]:
                r = await http.post(f"/api/rooms/{room['room']}/estimate",
                                    headers=auth(room["view_token"]),
                                    json={"tool": "expand", "inputs": []})
                codes.append(r.status_code)
            assert codes == [200, 200, 200, 429], r.text[:200]
            assert r.json()["limit"] == "room-loads-ip"
            assert int(r.headers["Retry-After"]) >= 1
            assert srv.services.rooms.stats.loads == loads + 3
            r = await http.post(f"/api/rooms/{held['room']}/estimate",
                                headers=auth(held["view_token"]),
                                json={"tool": "expand", "inputs": []})
            assert r.status_code == 200, r.text[:200]
        finally:
            await client.close()


async def test_an_estimate_counts_a_huge_input_text_without_reading_it(settings):
    """Attack: estimates of a run on a block holding 8 MB of text (a view link is enough),
    each of which turned the whole text into a string on the event loop. The estimate
    counts the text's length as the document keeps it: what the server allocates for it
    (traced) is far below the text's size, and the count is still the whole text."""
    size, chunk = 8_000_000, 800_000
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url,
                                                             timeout=60) as http:
        room = (await http.post("/api/rooms", json={})).json()
        client = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token="
                                       f"{room['edit_token']}")
        try:
            client.add_text_block("long", "")
            text = client.doc.get("blocks", type=Map)["long"]["text"]
            for _ in range(size // chunk):
                text += "x" * chunk  # one update each, under the message cap
            held = srv.services.rooms.rooms[room["room"]]
            await eventually(lambda: len(held.doc.get("blocks", type=Map)["long"]["text"])
                             == size, timeout=60)
            writer = srv.services.rooms.writers[room["room"]]
            await eventually(writer.is_idle, timeout=60, message="the text to be stored")
            tracemalloc.start()
            try:
                r = await http.post(f"/api/rooms/{room['room']}/estimate",
                                    headers=auth(room["view_token"]),
                                    json={"tool": "expand", "inputs": ["long"]})
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert r.status_code == 200, r.text[:200]
            assert r.json()["units"]["input_tokens"] >= size // 4
            assert peak < size // 8, peak
        finally:
            await client.close()


async def test_a_run_on_a_huge_canvas_reads_only_the_edges_into_its_prompt(settings):
    """Attack: ``run`` jobs on a canvas of 50,000 blocks and 49,800 edges; to find the
    prompt block's parents, the worker read every edge of the canvas for each job. It now
    asks its canvas index (built once per room load in the worker), which hands out the
    one edge into that block, as on a 500-block canvas."""
    s = settings.replace(offline_delay=0.001)
    examined: list[float] = []
    async with run_server(s) as srv, run_worker(s) as worker, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=60) as http:
        stats = worker.ctx["arbor"].rooms.stats
        for rows, cols in ((ROWS_SMALL, COLS_SMALL), (ROWS_BIG, COLS_BIG)):
            async with canvas(srv, http, rows, cols) as (room, client):
                prompt = bid(ROW, COL)
                client.doc.get("blocks", type=Map)[prompt]["text"] = Text("a lighthouse")
                before = stats.edges_examined
                r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                    headers=auth(room["edit_token"]),
                                    json={"tool": "run", "inputs": [prompt]})
                assert r.status_code == 202, r.text[:200]
                job = r.json()["job_id"]

                async def done(job: str = job, room: dict[str, str] = room) -> bool:
                    got = (await http.get(f"/api/rooms/{room['room']}/jobs/{job}",
                                          headers=auth(room["view_token"]))).json()
                    assert got["status"] in ("queued", "running", "done"), got
                    return bool(got["status"] == "done")

                await eventually(done, timeout=120, interval=0.1, message="the run to end")
                examined.append(stats.edges_examined - before)
    assert examined == [1, 1], examined  # the one edge into the prompt block, on both
