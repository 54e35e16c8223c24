"""The canvas index: the same placements as the search over every block it replaced, kept
current through every kind of change (a peer's update, a server edit, deletes, moves,
replaced blocks, edges), and never covering a block, even where the search gives up."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

from pycrdt import Doc, Map, Text

from sync import canvas_index as ci
from sync.canvas_index import CanvasIndex, index_for, rect_of
from sync.lineage import lineage_of
from sync.room import Room

W, H = 280.0, 200.0


def new_room() -> Room:
    return Room("r", max_doc_bytes=1 << 30, awareness_timeout=30, awareness_tick=0.05)


def brute(places: list[tuple[float, float]], size: tuple[float, float],
          taken: list[ci.Rect]) -> list[tuple[float, float]] | None:
    """The search the index replaced (server/api/jobs.py before it): None where it gave up."""
    w, h = size

    def hits(px: float, py: float) -> bool:
        return any(px < x + bw and x < px + w and py < y + bh and y < py + h
                   for x, y, bw, bh in taken)

    dy = 0.0
    for _ in range(ci.MAX_STEPS):
        if not any(hits(px, py + dy) for px, py in places):
            return [(px, py + dy) for px, py in places]
        dy += h + ci.STEP_GAP
    return None


def scan(room: Room) -> tuple[dict[str, ci.Rect], dict[str, list[tuple[str, str | None]]]]:
    blocks = room.doc.get("blocks", type=Map)
    edges = room.doc.get("edges", type=Map)
    rects = {k: r for k, b in blocks.items() if (r := rect_of(b)) is not None}
    into: dict[str, list[tuple[str, str, str | None]]] = {}
    for k, e in edges.items():
        if not isinstance(e, Map):
            continue
        source, target, tool = e.get("source"), e.get("target"), e.get("tool")
        if isinstance(source, str) and isinstance(target, str):
            into.setdefault(target, []).append(
                (k, source, tool if isinstance(tool, str) else None))
    return rects, {t: [(s, tool) for _, s, tool in sorted(v)] for t, v in into.items()}


async def assert_current(room: Room, index: CanvasIndex) -> None:
    await index.ready()  # reads again what changed since it last looked
    rects, into = scan(room)
    assert index.grid.rects == rects
    for key, rect in rects.items():  # every block sits in every cell it covers
        if key not in index.grid.wide:
            cx0, cx1, cy0, cy1 = ci._cells(rect)
            assert all(key in index.grid.cells[(cx, cy)] for cx in range(cx0, cx1 + 1)
                       for cy in range(cy0, cy1 + 1))
    assert sum(len(c) for c in index.grid.cells.values()) == sum(
        (ci._cells(r)[1] - ci._cells(r)[0] + 1) * (ci._cells(r)[3] - ci._cells(r)[2] + 1)
        for k, r in rects.items() if k not in index.grid.wide)
    assert {t: index.incoming(t) for t in into} == into


def block(x: float, y: float, **more: Any) -> Map[Any]:
    return Map({"kind": "text", "x": x, "y": y, "w": W, "h": H, **more})


async def test_places_match_the_search_over_every_block():
    rng = random.Random(7)
    for trial in range(40):
        room = new_room()
        n = rng.choice([0, 5, 40, 200])

        def fill(doc: Doc[Any], n: int = n) -> None:
            blocks = doc.get("blocks", type=Map)
            for i in range(n):
                blocks[f"b{i}"] = Map({"x": rng.uniform(-500, 3000), "y": rng.uniform(-500, 6000),
                                       "w": rng.choice([W, 120.0, 900.0]),
                                       "h": rng.choice([H, 60.0, 1500.0])})

        room.transact(fill)
        index = await index_for(room)
        for _ in range(10):
            x, y = rng.uniform(-400, 3000), rng.uniform(-400, 5000)
            count = rng.choice([1, 2, 4])
            places = [(x, y + i * (H + 20)) for i in range(count)]
            want = brute(places, (W, H), list(scan(room)[0].values()))
            got = index.place(places, (W, H))
            if want is not None:
                assert got == want, (trial, places)
            taken = list(scan(room)[0].values())
            assert not any(ci._overlaps((px, py, W, H), r) for px, py in got for r in taken)


async def test_a_server_edit_and_a_peers_update_both_reach_the_index():
    room = new_room()
    room.transact(lambda doc: doc.get("blocks", type=Map).update({"a": block(0, 0)}))
    index = await index_for(room)
    assert index is await index_for(room)  # one per room, built once
    assert room.stats.canvas_indexes_built == 1
    peer: Doc[Any] = Doc()
    peer.apply_update(room.doc.get_update())
    pb = peer.get("blocks", type=Map)
    sent: list[bytes] = []
    sub = peer.observe(lambda e: sent.append(e.update))
    with peer.transaction():
        pb["b"] = block(1000, 0)
        pb["b"]["text"] = Text("hi")
    pb["a"]["x"] = 5000.0  # moved
    pb["b"]["text"] += " there"  # its text: nothing about where it is
    peer.get("edges", type=Map)["e1"] = Map({"source": "a", "target": "b", "tool": "expand"})
    peer.unobserve(sub)
    for update in sent:
        room.apply_remote(update)
    await assert_current(room, index)
    assert index.incoming("b") == [("a", "expand")]


async def test_the_index_follows_deletes_replacements_and_garbage():
    rng = random.Random(3)
    room = new_room()
    index = await index_for(room)
    keys = [f"k{i}" for i in range(30)]
    for _ in range(400):
        def edit(doc: Doc[Any]) -> None:
            blocks = doc.get("blocks", type=Map)
            edges = doc.get("edges", type=Map)
            key = rng.choice(keys)
            what = rng.randrange(7)
            if what == 0:
                blocks[key] = block(rng.uniform(-2000, 2000), rng.uniform(-2000, 2000))
            elif what == 1 and key in blocks:
                del blocks[key]
            elif what == 2 and isinstance(blocks.get(key), Map):
                blocks[key][rng.choice("xywh")] = rng.choice(
                    [rng.uniform(-3000, 3000), -50.0, 1e308, math.nan, "junk", 0.0])
            elif what == 3:
                blocks[key] = rng.choice(["not a block", 7, Map({"w": 1e9, "h": 1e9})])
            elif what == 4:
                edges[key] = Map({"source": rng.choice(keys), "target": rng.choice(keys),
                                  "tool": rng.choice(["expand", None, 3])})
            elif what == 5 and key in edges:
                del edges[key]
            elif what == 6 and isinstance(edges.get(key), Map):
                edges[key]["target"] = rng.choice(keys)

        room.transact(edit)
    await assert_current(room, index)


async def test_an_index_built_while_the_canvas_changes_holds_every_change():
    room = new_room()
    n = 3 * ci.BUILD_SLICE
    room.transact(lambda doc: doc.get("blocks", type=Map).update(
        {f"b{i}": block(i * 300.0, 0) for i in range(n)}))
    index = CanvasIndex(room)
    room.extensions.append(index)
    task = asyncio.ensure_future(index.ready())
    for i in range(3):  # the build yields between slices: change the canvas meanwhile
        await asyncio.sleep(0)

        def edit(doc: Doc[Any], i: int = i) -> None:
            blocks = doc.get("blocks", type=Map)
            del blocks[f"b{n - 1 - i}"]  # not read yet
            del blocks[f"b{i}"]  # read already
            blocks[f"b{n // 2 + i}"]["y"] = 700.0
            blocks[f"late{i}"] = block(0, 900)

        room.transact(edit)
    assert not index.built  # all three changes came while it was being built
    await task
    await assert_current(room, index)


async def test_a_crowded_pile_is_given_up_on_below_the_lowest_block():
    """Ten thousand blocks piled on the spot beside the input: the search looks at a
    bounded number of them, then puts the group below the lowest block (never on one)."""
    room = new_room()
    room.transact(lambda doc: doc.get("blocks", type=Map).update(
        {f"p{i}": block(340.0, 0.0) for i in range(10_000)}
        | {"deep": block(5000.0, 90_000.0)}))
    index = await index_for(room)
    before = room.stats.layout_blocks_examined
    got = index.place([(340.0, 0.0)], (W, H))
    assert room.stats.layout_blocks_examined - before <= ci.MAX_EXAMINED + 1
    assert got == [(340.0, 90_000.0 + H + ci.STEP_GAP)]


async def test_a_lineage_from_the_index_is_the_lineage_from_every_edge():
    """Random graphs with cycles, self-loops, duplicate edges, edges to deleted blocks and
    edges that are not edges: the index's answer and the full scan's agree step for step."""
    rng = random.Random(11)
    for _ in range(30):
        room = new_room()
        n = rng.randrange(2, 40)

        def fill(doc: Doc[Any], n: int = n) -> None:
            blocks = doc.get("blocks", type=Map)
            edges = doc.get("edges", type=Map)
            for i in range(n):
                blocks[f"b{i}"] = Map({"kind": rng.choice(["text", "image"]),
                                       "createdAt": float(rng.randrange(5)),
                                       "tool": rng.choice(["run", None])})
                blocks[f"b{i}"]["text"] = Text(f"step {i}")
            for j in range(rng.randrange(0, 3 * n)):
                edges[f"e{j:03d}"] = Map({"source": f"b{rng.randrange(n + 2)}",
                                          "target": rng.choice([f"b{rng.randrange(n)}", 5]),
                                          "tool": rng.choice(["expand", "combine", None])})

        room.transact(fill)
        index = await index_for(room)
        for i in range(n):
            for most in (3, 64):
                want = lineage_of(room.doc, f"b{i}", most)
                assert lineage_of(room.doc, f"b{i}", most, incoming=index.incoming) == want
