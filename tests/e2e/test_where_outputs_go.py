"""Where outputs go, as two people see it: a run's outputs beside their input, to the right,
never above or left of it (four variations as a 2x2 grid), and two people running tools on
the same block at the same moment never get outputs on top of each other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, node, select_block
from tests.e2e.test_block_tools import BIG, toolbar

pytestmark = pytest.mark.timeout(120)

RECTS = """() => {
    const out = {}
    window.arbor.blocks.forEach((b, id) => {
        out[id] = [b.get('x'), b.get('y'), b.get('w') ?? 260, b.get('h') ?? 150,
                   b.get('status') ?? 'idle', b.get('kind')]
    })
    return out
}"""


def _overlaps(rects: dict[str, Any]) -> list[tuple[str, str]]:
    ids = sorted(rects)
    out = []
    for i, a in enumerate(ids):
        ax, ay, aw, ah = rects[a][:4]
        for b in ids[i + 1:]:
            bx, by, bw, bh = rects[b][:4]
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                out.append((a, b))
    return out


@pytest.mark.offline_delay(0.05)
async def test_two_people_running_tools_at_once_get_outputs_beside_and_apart(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben", viewport=BIG)
    await connected(a)
    await connected(b)
    root = await add_text_block(a, "a heron at dawn", at=(260, 300))
    await expect(node(b, root)).to_have_count(1)
    await select_block(a, root)
    await select_block(b, root)
    variations = toolbar(a).get_by_role("button", name="Variations", exact=True)
    expand = toolbar(b).get_by_role("button", name="Expand", exact=True)
    await expect(variations).to_be_enabled()
    await expect(expand).to_be_enabled()
    await asyncio.gather(variations.click(), expand.click())

    async def settled() -> dict[str, Any] | None:
        rects: dict[str, Any] = await a.evaluate(RECTS)
        done = len(rects) == 6 and all(r[4] == "done" for k, r in rects.items() if k != root)
        return rects if done and not _overlaps(rects) else None

    rects = await poll(settled, timeout=60)  # six runs of the offline model, on a busy machine
    rx, ry, rw = rects[root][:3]
    for block_id, (x, y, *_rest) in rects.items():
        if block_id != root:
            assert x >= rx + rw and y >= ry, (block_id, "left of or above its input")
    images = [r for k, r in rects.items() if k != root and r[5] == "image"]
    assert len(images) == 4
    assert len({r[0] for r in images}) == 2 and len({r[1] for r in images}) == 2, "not 2x2"
    assert await poll(lambda: _same(b, rects)), "Ben sees another layout"
    await shot(a, "outputs-two-people-at-once")
    assert not a.errors and not b.errors  # type: ignore[attr-defined]


def _places(rects: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    """Where each block is and what it is (a text block's height follows its text as it
    arrives, so heights are not compared)."""
    return {k: (r[0], r[1], r[5]) for k, r in rects.items()}


async def _same(page, rects: dict[str, Any]) -> bool:
    return _places(await page.evaluate(RECTS)) == _places(rects)
