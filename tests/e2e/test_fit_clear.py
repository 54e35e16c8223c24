"""Where a fit puts the blocks: never under the minimap or the zoom buttons (a block fitted
into the bottom-right corner used to sit under the minimap), and on a phone the first fit
shows no block cut off at the left edge."""

from __future__ import annotations

import pytest
from pycrdt import Map, Text

from tests.e2e.conftest import connected, new_room, open_canvas, poll, shot
from tests.e2e.test_getting_in import fit_view
from tests.yclient import YClient

pytestmark = pytest.mark.timeout(120)

# Each drawn block whose box meets the minimap's or the zoom buttons' box.
UNDER = """() => {
    const covers = Array.from(document.querySelectorAll(
        '.react-flow__minimap, .react-flow__controls'))
        .map((e) => e.getBoundingClientRect()).filter((r) => r.width && r.height)
    const out = []
    for (const n of document.querySelectorAll('.react-flow__node')) {
        const b = n.getBoundingClientRect()
        for (const c of covers) {
            if (b.left < c.right && c.left < b.right && b.top < c.bottom && c.top < b.bottom)
                out.push(n.dataset.id)
        }
    }
    return out
}"""

# Each drawn block that straddles the pane's left or right edge.
CUT = """() => {
    const p = document.querySelector('.react-flow').getBoundingClientRect()
    return Array.from(document.querySelectorAll('.react-flow__node'))
        .filter((n) => {
            const b = n.getBoundingClientRect()
            return b.left < p.left - 0.5 && b.right > p.left + 0.5
        }).map((n) => n.dataset.id)
}"""


def _blocks(client: YClient, spots: list[tuple[float, float]]) -> None:
    blocks = client.doc.get("blocks", type=Map)
    with client.doc.transaction():
        for i, (x, y) in enumerate(spots):
            block = Map({"kind": "text", "x": x, "y": y, "w": 260.0, "h": 150.0,
                         "status": "idle", "createdAt": float(1_700_000_000_000 + i)})
            blocks[f"b{i:02d}"] = block
            block["text"] = Text(f"idea {i}")


# Whether n blocks are drawn, every one wholly inside the pane (so the fit has happened:
# the canvases below are too large for the first, unfitted view).
ALL_IN = """(n) => {
    const p = document.querySelector('.react-flow')?.getBoundingClientRect()
    const nodes = Array.from(document.querySelectorAll('.react-flow__node'))
    return !!p && nodes.length >= n && nodes.every((e) => {
        const b = e.getBoundingClientRect()
        return b.left >= p.left && b.right <= p.right && b.top >= p.top && b.bottom <= p.bottom
    })
}"""


async def _all_in(page, n: int) -> bool:
    return bool(await page.evaluate(ALL_IN, n))


@pytest.mark.parametrize("size", [(1024, 768), (1440, 900)])
async def test_a_fit_keeps_every_block_clear_of_the_minimap(app, browser, size):
    """A canvas whose newest block is at its bottom-right corner: opening it (the first
    fit) and Fit view both leave that block above the minimap, not under it."""
    room = await new_room(app, "corner")
    writer = await YClient.connect(f"{app.ws_url}/sync/{room.room}?token={room.edit_token}")
    try:
        spots = [(c * 340.0, r * 220.0) for r in range(4) for c in range(5)]
        _blocks(writer, spots)
        _, a = await open_canvas(browser, room.url(app.base_url), "Ada",
                                 {"width": size[0], "height": size[1]})
        await connected(a)
        await poll(lambda: _all_in(a, len(spots)))
        assert await a.evaluate(UNDER) == []
        await a.mouse.move(size[0] // 2, size[1] // 2)
        await a.mouse.wheel(0, -600)  # in, away from the fit; then back
        await poll(lambda: a.evaluate("() => document.querySelectorAll("
                                      "'.react-flow__node').length < 20 || null"))
        await fit_view(a)
        await poll(lambda: _all_in(a, len(spots)))
        assert await a.evaluate(UNDER) == []
        await shot(a, f"fit-clear-of-minimap-{size[0]}")
        assert not a.errors, a.errors
    finally:
        await writer.close()


async def test_a_phone_first_fit_cuts_no_block_at_the_left(app, browser):
    """A row of blocks too wide for a phone at a readable zoom: the first fit shows the
    newest ones from a block's left edge, with no block half out of view at the left."""
    room = await new_room(app, "row")
    writer = await YClient.connect(f"{app.ws_url}/sync/{room.room}?token={room.edit_token}")
    try:
        _blocks(writer, [(c * 300.0, 0.0) for c in range(6)])
        _, a = await open_canvas(browser, room.url(app.base_url), "Ada",
                                 {"width": 390, "height": 844})
        await connected(a)
        # The fit: the first view's zoom (1) changed to the fit's.
        await a.wait_for_function("() => /scale\\((?!1\\))/.test(document.querySelector("
                                  "'.react-flow__viewport')?.style.transform ?? '')")
        assert await a.evaluate(CUT) == []
        await shot(a, "fit-phone-first")
        assert not a.errors, a.errors
    finally:
        await writer.close()
