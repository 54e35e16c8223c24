"""What the browser tests do to a canvas page, as a person would."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Locator, Page, expect


def node(page: Page, block_id: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{block_id}"]')


async def node_ids(page: Page) -> list[str]:
    ids: list[str] = await page.locator(".react-flow__node").evaluate_all(
        "els => els.map(e => e.dataset.id)")
    return ids


async def add_text_block(page: Page, text: str, at: tuple[int, int] | None = None) -> str:
    """Double-click empty canvas (a new text block there), type text, finish with Escape."""
    before = set(await node_ids(page))
    x, y = await free_pane_point(page, at or (200, 200))
    await page.locator(".react-flow__pane").dblclick(position={"x": x, "y": y})
    await expect(page.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (bid,) = [i for i in await node_ids(page) if i not in before]
    # A new block opens ready for typing.
    await expect(node(page, bid).locator(".cm-content")).to_be_focused()
    await page.keyboard.type(text)
    await page.keyboard.press("Escape")
    await expect(node(page, bid).locator(".text-view")).to_contain_text(text)
    return bid


async def free_pane_point(page: Page, near: tuple[int, int]) -> tuple[int, int]:
    """``near`` if the pane itself is there (no block, toolbar or panel over it), else the
    nearest such point of the pane: where a fit puts the blocks depends on the pane's size
    and what covers it, so a fixed point may fall on a block."""
    spot: list[int] = await page.evaluate("""([nx, ny]) => {
        const pane = document.querySelector('.react-flow__pane')
        const r = pane.getBoundingClientRect()
        const free = (x, y) => document.elementFromPoint(r.left + x, r.top + y) === pane
        if (free(nx, ny)) return [nx, ny]
        let best = null, bestD = Infinity
        for (let y = 40; y < r.height - 40; y += 20)
          for (let x = 40; x < r.width - 40; x += 20) {
            const d = (x - nx) ** 2 + (y - ny) ** 2
            if (d < bestD && free(x, y)) { best = [x, y]; bestD = d }
          }
        return best || [nx, ny]
    }""", list(near))
    return spot[0], spot[1]


async def select_block(page: Page, block_id: str) -> None:
    await node(page, block_id).locator(".block-head").click()
    await expect(node(page, block_id)).to_have_class(re.compile(r"\bselected\b"))


async def viewport(page: Page) -> dict[str, float]:
    """The canvas transform as drawn: x, y (px) and zoom."""
    v: dict[str, float] = await page.evaluate("""() => {
        const el = document.querySelector('.react-flow__viewport')
        const m = new DOMMatrix(getComputedStyle(el).transform)
        return { x: m.e, y: m.f, zoom: m.a }
    }""")
    return v


async def doc_state(page: Page) -> dict[str, Any]:
    """The page's canvas document as plain data (blocks with their text, edge count)."""
    s: dict[str, Any] = await page.evaluate("""() => {
        const c = window.arbor
        const blocks = {}
        c.blocks.forEach((b, id) => { blocks[id] = { text: String(b.get('text') ?? ''),
            x: b.get('x'), y: b.get('y'), status: b.get('status') } })
        return { blocks, edges: c.edges.size }
    }""")
    return s


async def empty_spot(page: Page) -> tuple[int, int]:
    """A point of the canvas (page coordinates) with no block, edge or panel on it."""
    spot: list[int] | None = await page.evaluate("""() => {
        const r = document.querySelector('.react-flow').getBoundingClientRect()
        for (let y = r.top + r.height / 2, i = 0; i < 40; i++, y += (i % 2 ? 1 : -1) * i * 13) {
            for (let x = r.left + r.width / 3; x < r.left + r.width * 0.7; x += 17) {
                const el = document.elementFromPoint(x, y)
                if (el && el.classList.contains('react-flow__pane')) {
                    return [Math.round(x), Math.round(y)]
                }
            }
        }
        return null
    }""")
    assert spot, "no empty spot on the canvas to drag"
    return spot[0], spot[1]


async def drag_pane(page: Page, dx: int, dy: int, steps: int = 10) -> None:
    """Pan the canvas by dragging empty space."""
    x, y = await empty_spot(page)
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + dx, y + dy, steps=steps)
    await page.mouse.up()
