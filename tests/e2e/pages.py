"""Every page of the app with something on it, for the tests that look at all of them
(screenshots at each size, the accessibility pass): a canvas grown prompt → expanded
prompt → image, a published post of that image, and its author's profile."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

import httpx
from playwright.async_api import Browser, BrowserContext, Page

from tests.conftest import RunningServer
from tests.e2e.conftest import COLORS, WAIT_MS, Room, connected, expect, new_room
from tests.integration.test_gallery import Gallery

SIZES = {"1440x900": (1440, 900), "1280x800": (1280, 800), "1024x768": (1024, 768),
         "390x844": (390, 844)}


@dataclass
class Site:
    room: Room
    post_id: str
    handle: str

    def urls(self, base: str) -> dict[str, str]:
        """Page name → address."""
        return {
            "home": f"{base}/",
            "canvas-edit": self.room.url(base),
            "canvas-view": self.room.url(base, self.room.view_token),
            "gallery": f"{base}/gallery",
            "post": f"{base}/p/{self.post_id}",
            "profile": f"{base}/u/{self.handle}",
        }


async def make_site(app: RunningServer) -> Site:
    room = await new_room(app, "Foxes in snow")
    links = {"room": room.room, "edit_token": room.edit_token, "view_token": room.view_token}
    async with contextlib.AsyncExitStack() as stack, \
            httpx.AsyncClient(base_url=app.base_url) as http:
        gallery = Gallery(app, stack)
        await gallery.canvas(http, links)
        author = await gallery.person()
        me = (await author.get("/api/identity")).json()
        post = await gallery.post(author, title="A fox asleep in the snow")
    return Site(room, str(post["id"]), str(me["handle"]))


async def person(browser: Browser, name: str, size: str = "1280x800") -> BrowserContext:
    """A browser context of its own (one person) at a named size, with a saved name; a
    phone size is a touch device."""
    w, h = SIZES[size]
    phone = w < 600
    ctx = await browser.new_context(viewport={"width": w, "height": h}, has_touch=phone,
                                    is_mobile=phone)
    ctx.set_default_timeout(WAIT_MS)
    identity = {"id": f"user-{name.lower()}", "name": name,
                "color": COLORS.get(name, "#5925dc"), "noFollow": False}
    await ctx.add_init_script(
        f"try {{ localStorage.setItem('arbor.identity', {json.dumps(json.dumps(identity))}) }} "
        "catch {}")
    return ctx


async def settled(page: Page, name: str) -> None:
    """Wait until the page shows what it is for (the canvas connected with its blocks, the
    gallery its posts...), so a screenshot or a check sees the finished page."""
    if name.startswith("canvas"):
        await connected(page)
        await expect(page.locator(".react-flow__node").first).to_be_visible()
        await page.wait_for_function(
            "() => Array.from(document.images).every((i) => i.complete)", timeout=WAIT_MS)
    elif name in ("gallery", "profile"):
        await expect(page.locator("img").first).to_be_visible()
    elif name == "post":
        await expect(page.get_by_role("heading", name="A fox asleep in the snow")).to_be_visible()
    else:
        await expect(page.locator("main, .page").first).to_be_visible()
    await page.evaluate("() => document.fonts.ready.then(() => true)")


__all__ = ["SIZES", "Site", "make_site", "person", "settled"]
