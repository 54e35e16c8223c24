"""The gallery in the browser: publish an image block from a canvas, find it in the
gallery from another browser, like it, remix it, and find its lineage in the new canvas."""

from __future__ import annotations

import contextlib
import json
import re
import secrets

import httpx
import pytest
from playwright.async_api import Page

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import doc_state, node, select_block
from tests.integration.test_gallery import Gallery

pytestmark = pytest.mark.timeout(120)


async def claim(page: Page, handle: str) -> None:
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Handle").fill(handle)
    await dialog.get_by_role("button", name="Claim handle").click()
    await expect(dialog.get_by_role("heading", name=f"You are @{handle}")).to_be_visible()
    await expect(dialog.get_by_label("Recovery link")).to_have_value(
        re.compile(r"/recover#secret=[A-Za-z0-9_-]{40,}$"))
    await dialog.get_by_role("button", name="Continue").click()


async def test_publish_like_and_remix_across_two_browsers(app, browser):
    room = await new_room(app, "Foxes")
    async with contextlib.AsyncExitStack() as stack, \
            httpx.AsyncClient(base_url=app.base_url) as http:
        # A canvas grown prompt -> expanded prompt -> image, with a real uploaded image.
        links = {"room": room.room, "edit_token": room.edit_token,
                 "view_token": room.view_token}
        _, ids = await Gallery(app, stack).canvas(http, links)

    author_ctx, author = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(author)
    await select_block(author, ids["image"])
    await node(author, ids["image"]).get_by_role("button", name="Publish").click()
    ada = "ada_" + secrets.token_hex(3)
    await claim(author, ada)
    dialog = author.get_by_role("dialog")
    await expect(dialog.locator(".lineage-step")).to_have_count(3)
    await expect(dialog.locator(".lineage-step").first).to_contain_text("a fox")
    await dialog.get_by_label("Title", exact=True).fill("Snow fox <b>asleep</b>")
    await dialog.get_by_role("button", name="Publish", exact=True).click()
    await expect(dialog.get_by_role("heading", name="Published")).to_be_visible()
    await shot(author, "gallery-published")

    # Someone else, in another browser, finds it in the gallery.
    viewer_ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    person = {"id": "user-ben", "name": "Ben", "color": "#b42318", "noFollow": False}
    await viewer_ctx.add_init_script(
        f"localStorage.setItem('arbor.identity', {json.dumps(json.dumps(person))})")
    viewer = await viewer_ctx.new_page()
    await viewer.goto(f"{app.base_url}/gallery")
    card = viewer.locator(".post-card", has_text="Snow fox <b>asleep</b>")
    await expect(card).to_have_count(1)
    thumb = card.locator("img")
    await expect(thumb).to_have_attribute("loading", "lazy")
    await poll(lambda: thumb.evaluate("img => img.complete && img.naturalWidth > 0"))
    await card.locator("a").first.click()
    await expect(viewer.locator("h1.post-title")).to_have_text("Snow fox <b>asleep</b>")
    assert await viewer.locator("h1.post-title b").count() == 0  # text, never HTML
    story = viewer.get_by_role("list", name="How this image grew")
    await expect(story.locator("li")).to_have_count(3)
    await expect(story.locator("li").first).to_contain_text("a fox")
    await expect(viewer.get_by_role("link", name=re.compile(f"@{ada}"))).to_be_visible()

    # Liking needs a handle: the dialog asks for one, then the like goes through.
    await viewer.get_by_role("button", name="Like").click()
    await claim(viewer, "ben_" + secrets.token_hex(3))
    await expect(viewer.locator(".like-count")).to_have_text("1")
    await expect(viewer.get_by_role("button", name="Unlike")).to_be_visible()
    await shot(viewer, "gallery-post-liked")

    # Remix opens a new canvas holding the lineage.
    await viewer.get_by_role("button", name="Remix").click()
    await viewer.wait_for_url(re.compile(r"/r/[A-Za-z0-9_-]+#token="))
    await connected(viewer)

    async def lineage_arrived():
        state = await doc_state(viewer)
        texts = sorted(b["text"] for b in state["blocks"].values())
        return state["edges"] == 2 and texts == sorted(
            ["a fox", "a red fox asleep in fresh snow", "a red fox asleep in fresh snow"])

    await poll(lineage_arrived)
    image = viewer.locator(".react-flow__node img")
    await expect(image).to_have_count(1)
    await poll(lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"))
    assert re.search(r"/r/([A-Za-z0-9_-]+)", viewer.url)[1] != room.room  # type: ignore[index]
    await shot(viewer, "gallery-remix-canvas")
    assert not author.errors, author.errors  # type: ignore[attr-defined]
    await author_ctx.close()
    await viewer_ctx.close()


LAYOUT_SHIFT = """() => { window.__cls = 0; window.__shifts = []
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
            if (e.hadRecentInput) continue
            window.__cls += e.value
            window.__shifts.push([e.value, ...e.sources.map((s) => s.node
                ? `${s.node.nodeName}.${s.node.className}` : '?')])
        }
    }).observe({ type: 'layout-shift', buffered: true }) }"""
FAKE_SHARE = """() => { window.__shared = []
    navigator.share = (data) => { window.__shared.push(data); return Promise.resolve() }
    navigator.canShare = () => true }"""
NO_SHARE = "() => { delete Navigator.prototype.share; delete Navigator.prototype.canShare }"


async def slow_network(route) -> None:
    """Images arrive a moment after the page is drawn, as over a real network: a box not
    reserved for one would then move what is below it."""
    import asyncio

    await asyncio.sleep(0.3)  # latency of the simulated network, not a wait for a result
    await route.continue_()


async def post_page(browser, base: str, post_id: str, script: str,
                    viewport: dict[str, int] | None = None):
    ctx = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    await ctx.route("**/images/posts/**", slow_network)
    await ctx.add_init_script(f"({LAYOUT_SHIFT})(); ({script})()")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{base}/p/{post_id}")
    await expect(page.locator("h1.post-title")).to_have_text("Fox in the snow")
    return ctx, page, errors


async def test_share_and_copy_prompt_buttons_on_a_post_page(app, browser):
    from tests.e2e.test_a11y import check_page

    async with contextlib.AsyncExitStack() as stack:
        gallery = Gallery(app, stack)
        author = await gallery.person()
        post = await gallery.post(author, title="Fox in the snow")
    url = f"{app.base_url}/p/{post['id']}"

    # No share sheet here (desktop Linux): Share copies the link.
    ctx, page, errors = await post_page(browser, app.base_url, post["id"], NO_SHARE)

    # Before anything is clicked: the image comes from its renditions, and its box is
    # reserved before it loads (nothing below moves when it arrives).
    figure = page.locator(".post-figure img")
    await poll(lambda: figure.evaluate("img => img.complete && img.naturalWidth > 0"))
    srcset = await figure.get_attribute("srcset")
    assert srcset and "_256.webp 256w" in srcset and " 320w" in srcset, srcset
    assert await figure.get_attribute("sizes")
    assert (await figure.get_attribute("width"), await figure.get_attribute("height")) == \
        ("320", "240")
    assert await page.evaluate("window.__cls") < 0.01, await page.evaluate("window.__shifts")

    await page.get_by_role("button", name="Share").click()
    await expect(page.locator(".share-note")).to_have_text("Link copied")
    assert await page.evaluate("navigator.clipboard.readText()") == url
    assert await page.title() == "Fox in the snow · Arbor"

    # Each step's prompt is copied by its own button.
    story = page.get_by_role("list", name="How this image grew")
    await story.get_by_role("button", name="Copy prompt of step 1").click()
    await expect(story.locator("li").nth(0).get_by_role("status")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == "a fox"
    await story.get_by_role("button", name="Copy prompt of step 2").click()
    assert await page.evaluate("navigator.clipboard.readText()") == \
        "a red fox asleep in fresh snow"

    await check_page(page, "post page", {})
    for width, height in ((1440, 900), (1024, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await shot(page, f"gallery-post-share-{width}")
    assert not errors, errors
    await ctx.close()

    # Where the browser has a share sheet, Share opens it with the post's link and title.
    ctx, page, errors = await post_page(browser, app.base_url, post["id"], FAKE_SHARE)
    await page.get_by_role("button", name="Share").click()
    shared = await poll(lambda: page.evaluate("window.__shared"))
    assert shared[0]["url"] == url and shared[0]["title"] == "Fox in the snow"
    await expect(page.locator(".share-note")).to_have_text("")
    assert not errors, errors
    await ctx.close()


async def test_the_gallery_grid_reserves_each_image_and_picks_a_rendition(app, browser):
    async with contextlib.AsyncExitStack() as stack, \
            httpx.AsyncClient(base_url=app.base_url) as http:
        gallery = Gallery(app, stack)
        author = await gallery.person()
        post = await gallery.post(author, title="Grid fox " + secrets.token_hex(3))
        assert http  # the posts are made; the browser reads them
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    await ctx.add_init_script(f"({LAYOUT_SHIFT})()")
    await ctx.route("**/images/posts/**", slow_network)
    page = await ctx.new_page()
    await page.goto(f"{app.base_url}/gallery")
    card = page.locator(".post-card", has_text=post["title"])
    img = card.locator("img")
    await poll(lambda: img.evaluate("img => img.complete && img.naturalWidth > 0"))
    assert "256w" in (await img.get_attribute("srcset") or "")
    assert "260px" in (await img.get_attribute("sizes") or "")
    current = await img.evaluate("img => img.currentSrc")
    assert re.search(rf"/images/posts/{post['id']}/[0-9a-f]{{64}}(_256|_1024)?\.webp$", current)
    assert await page.evaluate("window.__cls") < 0.01, await page.evaluate("window.__shifts")
    assert await page.title() == "Gallery · Arbor"
    await ctx.close()
