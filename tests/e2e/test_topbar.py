"""The canvas's top bar and side rail as people see them: nothing overlaps at any width from
1024 px up (with three people following you and the spotlight on), the title and status are
never covered, the secondary panels live in one rail and never cover an open menu, and on a
phone the bar collapses into one menu while pinch and tap work on the canvas."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, node, select_block, viewport
from tests.e2e.pages import person
from tests.e2e.test_screens import TOPBAR_CLASHES

pytestmark = pytest.mark.timeout(180)

# Whether the element's middle point shows the element itself (nothing drawn over it), and
# its text is not cut (no overflow hidden behind an ellipsis).
UNCOVERED = """(el) => {
    const r = el.getBoundingClientRect()
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)
    return { covered: !(top && (el === top || el.contains(top))),
             by: top ? String(top.className).slice(0, 60) : null, at: [r.left, r.top, innerWidth],
             cut: el.scrollWidth > el.clientWidth + 1, width: r.width }
}"""


async def check_bar(page: Page, label: str) -> None:
    clashes = await page.evaluate(TOPBAR_CLASHES)
    assert not clashes, f"{label}: {clashes}"
    for what in (".title-input", ".status-indicator"):
        seen = await page.locator(f".topbar {what}").evaluate(UNCOVERED)
        assert not seen["covered"] and not seen["cut"], f"{label}: {what} {seen}"


async def test_nothing_overlaps_from_1024_px_up_while_people_follow_you(app, browser):
    room = await new_room(app, "A lighthouse in a storm")
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    others = [await open_canvas(browser, room.url(app.base_url), n) for n in ("Ben", "Cy", "Di")]
    await connected(a)
    await add_text_block(a, "a lighthouse", at=(300, 300))
    # Everyone asks to follow Ada: her spotlight is on, and three people follow her.
    await a.get_by_role("button", name="You: Ada").click()
    await a.get_by_role("menuitemcheckbox", name="Spotlight me").click()
    for _, p in others:
        await expect(p.get_by_role("status").filter(has_text="Following Ada")).to_be_visible()
    await expect(a.locator(".follow-count")).to_contain_text("3")
    await expect(a.locator(".follow-count")).to_contain_text("following you")
    for width, height in ((1440, 900), (1280, 800), (1024, 768)):
        await a.set_viewport_size({"width": width, "height": height})
        await check_bar(a, f"{width}px")
        await shot(a, f"topbar-{width}")
    # The bar keeps one row: the canvas starts right under it.
    bar = await a.locator(".topbar").bounding_box()
    assert bar and bar["height"] < 60, bar
    assert not a.errors, a.errors


async def test_the_panels_share_one_rail_and_never_cover_an_open_menu(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    bid = await add_text_block(a, "an owl at dusk", at=(300, 300))
    rail = a.get_by_role("navigation", name="Panels")
    for name in ("Queue", "History", "Prompts", "Spend", "Keys"):
        button = rail.get_by_role("button", name=re.compile(f"^{name}"))
        await button.click()
        await expect(button).to_have_attribute("aria-expanded", "true")
        # One panel at a time, beside the rail, inside the canvas area.
        await expect(a.locator(".side-panels > .side-panel")).to_have_count(1)
        panel = await a.locator(".side-panels").bounding_box()
        bar = await rail.bounding_box()
        assert panel and bar and panel["x"] + panel["width"] <= bar["x"], (panel, bar)
    # The Keys panel is open; a menu from the top bar opens over it.
    await select_block(a, bid)
    await a.get_by_role("button", name="Tools ▾").click()
    menu = a.get_by_role("menu", name="Tools")
    await expect(menu).to_be_visible()
    items = menu.get_by_role("menuitem")
    for i in range(await items.count()):
        seen = await items.nth(i).evaluate(UNCOVERED)
        assert not seen["covered"], (i, seen)
    await a.keyboard.press("Escape")
    await a.get_by_role("button", name="Ben", exact=True).click()
    people = a.get_by_role("menu", name="Ben")
    await expect(people).to_be_visible()
    for i in range(await people.get_by_role("menuitem").count()):
        seen = await people.get_by_role("menuitem").nth(i).evaluate(UNCOVERED)
        assert not seen["covered"], (i, seen)
    # Watching Ben's branch puts it in the rail too, open.
    await people.get_by_role("menuitem", name="Watch Ben\u2019s branch").click()
    await expect(a.get_by_role("region", name="Ben\u2019s branch")).to_be_visible()
    await expect(rail.get_by_role("button", name="Branch")).to_have_attribute(
        "aria-expanded", "true")
    # Escape in a panel closes it.
    await a.get_by_role("button", name="Stop watching this branch").focus()
    await a.keyboard.press("Escape")
    await expect(a.locator(".side-panels")).to_have_count(0)
    await shot(a, "rail-menus")
    assert not a.errors, a.errors


async def _pinch(page: Page, x: float, y: float, spread: float) -> None:
    """Two fingers on (x, y) moving apart by `spread` px each (CDP touch events)."""
    cdp = await page.context.new_cdp_session(page)

    def points(d: float) -> list[dict[str, float]]:
        return [{"x": x - 20 - d, "y": y, "id": 0}, {"x": x + 20 + d, "y": y, "id": 1}]

    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
    for step in range(1, 11):
        await cdp.send("Input.dispatchTouchEvent",
                       {"type": "touchMove", "touchPoints": points(spread * step / 10)})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def test_on_a_phone_the_bar_is_one_menu_and_pinch_and_tap_work(app, browser):
    room = await new_room(app, "Phone")
    ctx = await person(browser, "Ada", "390x844")
    a = await ctx.new_page()
    await a.goto(room.url(app.base_url))
    await connected(a)
    await check_bar(a, "phone")
    # The toolbars are folded into one menu; the side rail is not shown.
    await expect(a.get_by_role("navigation", name="Panels")).to_be_hidden()
    await expect(a.get_by_role("button", name="Share")).to_be_hidden()
    menu_button = a.get_by_role("button", name="Canvas menu")
    await menu_button.tap()
    menu = a.get_by_role("menu", name="Canvas menu")
    for item in ("+ Text block", "+ Image block", "Fit view", "Queue", "History", "Share…"):
        await expect(menu.get_by_role("menuitem", name=item)).to_be_visible()
    box = await menu.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    await menu.get_by_role("menuitem", name="+ Text block").tap()
    await expect(a.locator(".react-flow__node")).to_have_count(1)
    bid = await a.locator(".react-flow__node").first.get_attribute("data-id")
    assert bid
    await a.keyboard.type("a kite")
    await a.keyboard.press("Escape")
    # Tap on empty canvas, then on the block: it is selected.
    await a.locator(".react-flow__pane").tap(position={"x": 30, "y": 600})
    await expect(node(a, bid)).not_to_have_class(re.compile(r"\bselected\b"))
    await node(a, bid).locator(".block-head").tap()
    await expect(node(a, bid)).to_have_class(re.compile(r"\bselected\b"))
    # A pinch zooms the canvas in.
    before = (await viewport(a))["zoom"]
    await _pinch(a, 195, 600, 80)

    async def zoomed() -> bool:
        return (await viewport(a))["zoom"] > before * 1.2

    await poll(zoomed)
    # A panel opened from the menu covers the canvas as a sheet, and closes.
    await menu_button.tap()
    await a.get_by_role("menu", name="Canvas menu").get_by_role("menuitem", name="History").tap()
    history = a.get_by_role("region", name="History")
    await expect(history).to_be_visible()
    hb = await history.bounding_box()
    assert hb and hb["x"] >= 0 and hb["x"] + hb["width"] <= 390, hb
    await shot(a, "phone-history")
    await history.get_by_role("button", name="Close the history").tap()
    await expect(history).to_have_count(0)
    await ctx.close()
