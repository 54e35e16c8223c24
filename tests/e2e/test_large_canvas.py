"""A 1,000-block canvas stays usable: only visible blocks are drawn, and panning is
measured (frame times printed, not asserted: this machine's speed is not the product's)."""

from __future__ import annotations

import pytest
from pycrdt import Map, Text

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import drag_pane, viewport
from tests.yclient import YClient

pytestmark = pytest.mark.timeout(120)

COLS, ROWS = 40, 25

START_FRAMES = """() => {
    window.frameDeltas = []
    let last = performance.now()
    window.recording = true
    const tick = (t) => {
        window.frameDeltas.push(t - last)
        last = t
        if (window.recording) requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
}"""


def build(client: YClient) -> None:
    blocks = client.doc.get("blocks", type=Map)
    edges = client.doc.get("edges", type=Map)
    with client.doc.transaction():
        for r in range(ROWS):
            for c in range(COLS):
                i = r * COLS + c
                block = Map({"kind": "text", "x": float(c * 340), "y": float(r * 220),
                             "w": 260.0, "h": 150.0, "status": "idle",
                             "createdAt": float(1_700_000_000_000 + i)})
                blocks[f"b{i:04d}"] = block
                block["text"] = Text(f"idea {i}: a **lantern** over water, variation {c}")
                if c:
                    edges[f"e{i:04d}"] = Map({"source": f"b{i - 1:04d}", "target": f"b{i:04d}",
                                              "tool": "expand"})


async def frame_stats(page, moves: list[tuple[int, int]]) -> tuple[float, float, int]:
    await page.evaluate(START_FRAMES)
    for dx, dy in moves:
        await drag_pane(page, dx, dy, steps=30)
    deltas = await page.evaluate("() => { window.recording = false; return window.frameDeltas }")
    deltas = sorted(deltas[1:])
    assert len(deltas) > 10, deltas
    return (deltas[len(deltas) // 2], deltas[min(len(deltas) - 1, int(len(deltas) * 0.95))],
            len(deltas))


async def test_a_thousand_blocks_pan_without_drawing_them_all(app, browser):
    room = await new_room(app, "big")
    writer = await YClient.connect(f"{app.ws_url}/sync/{room.room}?token={room.edit_token}")
    try:
        build(writer)
        _, page = await open_canvas(browser, room.url(app.base_url), "Ada")
        await connected(page)
        await page.wait_for_function("() => window.arbor.blocks.size === 1000", timeout=30_000)
        await expect(page.locator(".react-flow__node").first).to_be_visible(timeout=30_000)
        overview = await page.locator(".react-flow__node").count()
        p50, p95, n = await frame_stats(page, [(-200, -100), (200, 100)])
        print(f"\n1000 blocks, whole canvas in view ({overview} drawn): "
              f"frame p50 {p50:.1f} ms, p95 {p95:.1f} ms over {n} frames")
        await shot(page, "large-overview")
        # Zoom in to a working zoom: only what is on screen is drawn.
        await page.mouse.move(640, 420)
        for _ in range(40):
            if (await viewport(page))["zoom"] >= 0.8:
                break
            await page.mouse.wheel(0, -400)
            await poll(lambda: viewport(page))
        await poll(lambda: _zoomed(page))
        drawn = await page.locator(".react-flow__node").count()
        assert drawn < 100, f"{drawn} blocks drawn at zoom ~1: visible-only rendering is off"
        p50, p95, n = await frame_stats(page, [(-400, -200), (400, 200), (-600, 0), (600, 0)])
        drawn_after = await page.locator(".react-flow__node").count()
        print(f"1000 blocks at zoom ~1 ({drawn}->{drawn_after} drawn): "
              f"frame p50 {p50:.1f} ms, p95 {p95:.1f} ms over {n} frames")
        await shot(page, "large-zoomed")
        assert not page.errors, page.errors
    finally:
        await writer.close()


async def _zoomed(page) -> bool:
    return bool((await viewport(page))["zoom"] >= 0.8)
