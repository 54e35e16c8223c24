"""Getting in and starting: a share link opens straight onto the canvas with a made-up name;
a new canvas opens its prompt block ready for typing; an empty one says how to begin; the
home page shows each canvas as a picture; the view goes where this person's work is."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page
from pycrdt import Map, Text

from tests.e2e.conftest import (
    ROOT,
    WAIT_MS,
    Room,
    connected,
    expect,
    new_room,
    open_canvas,
    poll,
    shot,
)
from tests.e2e.helpers import add_text_block, doc_state, node, node_ids, select_block, viewport
from tests.integration.test_gallery import Gallery
from tests.yclient import YClient

pytestmark = pytest.mark.timeout(120)

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
GENERATED = re.compile(r"^You: ([A-Z][a-z]+ [A-Z][a-z]+)$")
SIZES = {"wide": (1440, 900), "laptop": (1024, 768), "phone": (390, 844)}


async def prompt_room(srv, title: str = "New idea") -> Room:
    """A canvas as the home page's "New canvas" makes it: with its first prompt block."""
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.post("/api/rooms", json={"title": title, "first_prompt": True})
        assert r.status_code == 201, r.text
        body = r.json()
    return Room(body["room"], body["edit_token"], body["view_token"])


async def newcomer(browser: Browser, url: str | None = None,
                   size: tuple[int, int] = (1280, 800)) -> tuple[BrowserContext, Page]:
    """Someone who has never used Arbor in this browser (nothing saved), at url."""
    ctx = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    ctx.set_default_timeout(WAIT_MS)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    if url:
        await page.goto(url)
    return ctx, page


async def serious_violations(page: Page, *include: str) -> list[str]:
    """axe-core's serious and critical findings on the page (or the parts `include` names).
    Evaluated, not added as a script tag: the page's CSP allows no inline script."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed in web/node_modules")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[str] = await page.evaluate("""async (include) => {
        const context = include.length ? { include: include.map((s) => [s]) } : document
        const r = await window.axe.run(context, { resultTypes: ['violations'] })
        return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
    }""", list(include))
    return found


async def my_name(page: Page) -> str:
    label = await page.locator(".avatar.me").get_attribute("aria-label")
    m = GENERATED.match(label or "")
    assert m, f"not a generated name: {label!r}"
    return m.group(1)


async def in_view(page: Page, block_id: str, margin: float = 0) -> bool:
    """Whether the block is drawn wholly inside the canvas pane."""
    return bool(await page.evaluate("""([id, m]) => {
        const el = document.querySelector(`.react-flow__node[data-id="${id}"]`)
        if (!el) return false
        const b = el.getBoundingClientRect()
        const p = document.querySelector('.react-flow').getBoundingClientRect()
        return b.left >= p.left + m && b.right <= p.right - m && b.top >= p.top + m
            && b.bottom <= p.bottom - m
    }""", [block_id, margin]))


async def test_two_people_opening_a_share_link_land_live_with_distinct_names(app, browser):
    """Nothing to fill in: each newcomer gets a friendly made-up name and a colour, and can
    change both later from their avatar."""
    room = await prompt_room(app)
    _, a = await newcomer(browser, room.url(app.base_url))
    _, b = await newcomer(browser, room.url(app.base_url))
    for p in (a, b):
        await connected(p)
        await expect(p.get_by_label("Display name")).to_have_count(0)
        await expect(p.get_by_role("dialog")).to_have_count(0)
    # Each sees the other; a made-up name or colour that clashes is made up again.
    for p in (a, b):
        await expect(p.locator(".avatars li")).to_have_count(1)
    await poll(lambda: _distinct(a, b))
    name_a, name_b = await my_name(a), await my_name(b)
    # Each sees the other, live, by name.
    await expect(a.get_by_role("button", name=name_b, exact=True)).to_be_visible()
    await expect(b.get_by_role("button", name=name_a, exact=True)).to_be_visible()
    # The name is this browser's: it stays across a reload.
    # (A new address, not a reload: a reload revalidates the page, and the server's 304
    # for it carries the API's Content-Security-Policy, which blocks the app's script.)
    await a.goto(room.url(app.base_url).replace("#", "?again#"))
    await connected(a)
    assert await my_name(a) == name_a
    await shot(a, "getting-in-generated-name")

    # Later, from the avatar menu: the colour picker shows the colour in use.
    await a.get_by_role("button", name=f"You: {name_a}").click()
    await a.get_by_role("menuitem", name="Change name or colour…").click()
    dialog = a.get_by_role("dialog", name="Your name and colour")
    await expect(dialog.get_by_label("Name others see")).to_have_value(name_a)
    await expect(dialog.get_by_role("radio", checked=True)).to_have_count(1)
    await expect(dialog.locator(".swatch.chosen")).to_have_count(1)
    ring = await dialog.locator(".swatch.chosen").evaluate("e => getComputedStyle(e).boxShadow")
    assert ring != "none", "the chosen colour has no visible ring"
    green = dialog.get_by_role("radio", name="Green")
    if await green.is_checked():
        green = dialog.get_by_role("radio", name="Teal")
    await green.check()
    await expect(green).to_be_checked()
    await expect(dialog.locator(".swatch.chosen input")).to_be_checked()
    await shot(a, "getting-in-name-dialog")
    assert await serious_violations(a, ".modal") == []
    await dialog.get_by_label("Name others see").fill("Ada Lovelace")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(a.get_by_role("button", name="You: Ada Lovelace")).to_be_visible()
    await expect(b.get_by_role("button", name="Ada Lovelace", exact=True)).to_be_visible()
    assert not a.errors and not b.errors, (a.errors, b.errors)


async def _distinct(a: Page, b: Page) -> bool:
    me = ".avatar.me"
    style = "e => getComputedStyle(e).backgroundColor"
    return (await my_name(a) != await my_name(b)
            and await a.locator(me).evaluate(style) != await b.locator(me).evaluate(style))


async def test_a_new_canvas_opens_its_one_prompt_ready_for_typing(app, browser):
    """"New canvas" on the home page: one prompt block, the caret in it, a placeholder
    inviting an image idea, and a hint of the next step. Someone opening the same new
    canvas at the same moment finds the same one block."""
    _, a = await newcomer(browser, f"{app.base_url}/", SIZES["wide"])
    await a.get_by_label("Canvas title").fill("Lanterns")
    await a.get_by_role("button", name="New canvas").click()
    await expect(a).to_have_url(re.compile(r"/r/[^#]+#token="))
    await connected(a)
    await expect(a.locator(".react-flow__node")).to_have_count(1)
    (bid,) = await node_ids(a)
    editor = node(a, bid).locator(".cm-content")
    await expect(editor).to_be_focused()
    await expect(node(a, bid).locator(".cm-placeholder")).to_have_text("Describe an image idea…")
    hint = a.get_by_role("note").filter(has_text="Next:")
    await expect(hint).to_contain_text("run a tool from it")
    assert await serious_violations(a, ".start-hint", ".cm-editor") == []
    await shot(a, "getting-in-new-canvas-wide")
    await a.keyboard.type("a paper lantern drifting over a night lake")
    await expect(node(a, bid).locator(".cm-content")).to_contain_text("paper lantern")
    assert len((await doc_state(a))["blocks"]) == 1

    # Two people opening a brand-new canvas at once: one block between them, both typing.
    room = await prompt_room(app, "Together")
    (_, b), (_, c) = await asyncio.gather(
        newcomer(browser, room.url(app.base_url), SIZES["laptop"]),
        newcomer(browser, room.url(app.base_url), SIZES["phone"]))
    for p in (b, c):
        await connected(p)
        await expect(p.locator(".react-flow__node")).to_have_count(1)
        await expect(p.locator(".react-flow__node .cm-content")).to_be_focused()
    assert await node_ids(b) == await node_ids(c)
    await b.keyboard.type("fox")
    await expect(c.locator(".react-flow__node")).to_contain_text("fox")
    await poll(lambda: _block_count(c, 1))
    await shot(b, "getting-in-new-canvas-laptop")
    await shot(c, "getting-in-new-canvas-phone")
    assert not a.errors and not b.errors and not c.errors


async def _block_count(page: Page, n: int) -> bool:
    return len((await doc_state(page))["blocks"]) == n


async def test_an_empty_canvas_says_how_to_add_blocks_until_it_has_one(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada",
                             viewport={"width": 1024, "height": 768})
    _, v = await open_canvas(browser, room.url(app.base_url, room.view_token), "Ben")
    await connected(a)
    await connected(v)
    hint = a.get_by_role("note", name="How to start")
    await expect(hint).to_be_visible()
    for words in ("Double-click", "T", "I", "Right-click"):
        await expect(hint).to_contain_text(words)
    await shot(a, "getting-in-empty-canvas-laptop")
    assert await serious_violations(a, ".start-hint") == []
    # The view link cannot add blocks, so it is not told how.
    view_hint = v.get_by_role("note", name="How to start")
    await expect(view_hint).to_contain_text("Nothing here yet")
    await expect(view_hint).not_to_contain_text("Double-click")
    # The hint never stands in the way: a double-click right on it makes a block.
    box = await hint.bounding_box()
    assert box
    before = set(await node_ids(a))
    await a.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await expect(a.locator(".react-flow__node")).to_have_count(len(before) + 1)
    await expect(hint).to_have_count(0)
    await expect(view_hint).to_have_count(0)


async def test_the_home_page_shows_each_canvas_as_a_picture_and_links_to_the_gallery(
        app, browser):
    room = await new_room(app, "Snow foxes")
    async with contextlib.AsyncExitStack() as stack, \
            httpx.AsyncClient(base_url=app.base_url) as http:
        # prompt -> expanded prompt -> image (a real upload), and one more text
        links = {"room": room.room, "edit_token": room.edit_token, "view_token": room.view_token}
        await Gallery(app, stack).canvas(http, links)
    ctx, a = await open_canvas(browser, room.url(app.base_url), "Ada",
                               viewport={"width": 1440, "height": 900})
    await connected(a)
    await expect(a.locator(".react-flow__node")).to_have_count(4)
    # The canvas links to the gallery from the person's own menu.
    await a.get_by_role("button", name="You: Ada").click()
    gallery = a.get_by_role("menuitem", name=re.compile("Gallery"))
    await expect(gallery).to_have_attribute("href", "/gallery")
    assert await serious_violations(a, ".avatar-menu") == []
    await a.keyboard.press("Escape")
    # Leaving the canvas keeps its picture; the home page lists it with that picture.
    await a.get_by_role("link", name="Arbor home: your canvases").click()
    card = a.locator(".canvas-card", has_text="Snow foxes")
    await expect(card).to_have_count(1)
    picture = card.locator("svg.thumb")
    await expect(picture.locator("rect.thumb-text")).to_have_count(3)
    await expect(picture.locator("rect.thumb-image")).to_have_count(1)
    href = await picture.locator("image").get_attribute("href")
    assert href and "/images/" in href
    status = await a.evaluate("(u) => fetch(u).then((r) => r.status)", href)
    assert status == 200
    assert await serious_violations(a) == []
    stored = await a.evaluate("() => localStorage.getItem('arbor.thumbs').length")
    assert 0 < stored < 5000, stored
    for size, (w, h) in SIZES.items():
        await a.set_viewport_size({"width": w, "height": h})
        await shot(a, f"getting-in-home-{size}")
    # Open it again from its card; and the home page links to the gallery.
    await card.get_by_role("link", name="Snow foxes").click()
    await connected(a)
    await a.get_by_role("link", name="Arbor home: your canvases").click()
    await a.get_by_role("navigation", name="Arbor").get_by_role("link", name="Gallery").click()
    await expect(a).to_have_url(re.compile(r"/gallery$"))
    assert not a.errors, a.errors
    await ctx.close()


def _grid(client: YClient, cols: int, rows: int) -> None:
    blocks = client.doc.get("blocks", type=Map)
    with client.doc.transaction():
        for r in range(rows):
            for c in range(cols):
                i = r * cols + c
                block = Map({"kind": "text", "x": float(c * 340), "y": float(r * 220),
                             "w": 260.0, "h": 150.0, "status": "idle",
                             "createdAt": float(1_700_000_000_000 + i)})
                blocks[f"b{i:04d}"] = block
                block["text"] = Text(f"idea {i}")


async def test_fit_view_keeps_a_large_canvas_readable_at_its_newest_work(app, browser):
    room = await new_room(app, "big")
    writer = await YClient.connect(f"{app.ws_url}/sync/{room.room}?token={room.edit_token}")
    try:
        _grid(writer, 30, 20)
        _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
        await connected(a)
        await a.wait_for_function("() => window.arbor.blocks.size === 600")
        newest = "b0599"
        # Opening fits too: at a readable zoom, on the newest work.
        await poll(lambda: in_view(a, newest))
        assert (await viewport(a))["zoom"] >= 0.35 - 1e-6
        await a.mouse.move(640, 420)
        for _ in range(12):
            await a.mouse.wheel(0, 600)
        await poll(lambda: _zoom_below(a, 0.2))
        await fit_view(a)
        await poll(lambda: _zoom_at_least(a, 0.35))
        await poll(lambda: in_view(a, newest))
        await shot(a, "getting-in-fit-newest")
        # With a selection, Fit view fits the selection.
        await node(a, "b0598").locator(".block-head").click()
        await fit_view(a)
        await poll(lambda: _zoom_at_least(a, 1.0))
        assert await in_view(a, "b0598")
        assert not a.errors, a.errors
    finally:
        await writer.close()


async def fit_view(page: Page) -> None:
    await page.get_by_label("Zoom controls").get_by_role("button", name="Fit view").click()


async def _zoom_below(page: Page, z: float) -> bool:
    return (await viewport(page))["zoom"] < z


async def _zoom_at_least(page: Page, z: float) -> bool:
    return (await viewport(page))["zoom"] >= z - 1e-6


@pytest.mark.offline_delay(0.05)
async def test_my_run_glides_into_view_but_someone_elses_does_not(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    # A prompt near the right edge: its outputs would land past it.
    root = await add_text_block(a, "a heron at dawn", at=(1120, 420))
    await expect(node(b, root)).to_have_count(1)
    await select_block(a, root)
    before_b = await viewport(b)
    before = set((await doc_state(a))["blocks"])
    await a.get_by_role("button", name="Tools ▾").click()
    await a.get_by_role("menuitem", name=re.compile(r"^Expand \d")).click()
    (out,) = await poll(lambda: _new_blocks(a, before))
    await poll(lambda: in_view(a, out, margin=8))
    await poll(lambda: _status(b, out, "done"))
    assert await viewport(b) == before_b, "someone else's run moved Ben's view"
    await shot(a, "getting-in-run-glides")


@pytest.mark.offline_delay(0.01)
async def test_text_blocks_grow_with_their_text_then_scroll_with_a_fade(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    bid = await add_text_block(a, "short", at=(300, 250))
    height = "(id) => window.arbor.blocks.get(id).get('h')"
    assert await a.evaluate(height, bid) == 150
    await node(a, bid).locator(".text-view").dblclick()
    await a.keyboard.press("End")
    for i in range(8):
        await a.keyboard.press("Enter")
        await a.keyboard.type(f"line {i} of a longer idea")
    # It grew to show them (and everyone sees the new size), without a fade yet.
    await poll(lambda: _grew(a, bid, 150))
    grown = await a.evaluate(height, bid)
    await poll(lambda: _same_h(b, bid, grown))
    await expect(node(a, bid).locator(".text-grow")).not_to_have_class(re.compile("has-more"))
    # Much more: it stops at its limit, scrolls inside, and fades at the bottom.
    for i in range(30):
        await a.keyboard.press("Enter")
        await a.keyboard.type(f"more {i}")
    await poll(lambda: _same_h(a, bid, 440))
    await a.keyboard.press("Escape")
    await expect(node(a, bid).locator(".text-grow")).to_have_class(re.compile("has-more"))
    await expect(node(b, bid).locator(".text-grow")).to_have_class(re.compile("has-more"))
    await shot(a, "getting-in-text-grows")

    # Resizing by hand: the size goes into the document for everyone.
    await select_block(a, bid)
    handle = node(a, bid).locator(".react-flow__resize-control.bottom.right")
    hb = await handle.bounding_box()
    assert hb
    await a.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    await a.mouse.down()
    await a.mouse.move(hb["x"] + 120, hb["y"] + 60, steps=8)
    await a.mouse.up()
    await poll(lambda: _wider(b, bid, 260))
    assert not a.errors and not b.errors


async def _new_blocks(page: Page, before: set[str]) -> list[str]:
    return [i for i in (await doc_state(page))["blocks"] if i not in before]


async def _status(page: Page, bid: str, status: str) -> bool:
    return bool((await doc_state(page))["blocks"].get(bid, {}).get("status") == status)


async def _grew(page: Page, bid: str, h: float) -> bool:
    return bool(await page.evaluate("(id) => window.arbor.blocks.get(id).get('h')", bid) > h)


async def _same_h(page: Page, bid: str, h: float) -> bool:
    return bool(await page.evaluate("(id) => window.arbor.blocks.get(id).get('h')", bid) == h)


async def _wider(page: Page, bid: str, w: float) -> bool:
    return bool(await page.evaluate("(id) => window.arbor.blocks.get(id).get('w')", bid) > w)
