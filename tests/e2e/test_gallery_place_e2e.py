"""The gallery as a place, in the browser: the header's New / Top (today, this week, all
time) / Following, the "new posts" notice while someone else publishes, liking from a card
(with the rollback when the server refuses), following from a post page, and editing
one's profile. Posts are made over the API by a second person (their own cookie jar); a
post is made "old" by moving its creation time back in the database (set-up, not a mock).
"""

from __future__ import annotations

import contextlib
import secrets

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.e2e.conftest import expect, shot
from tests.e2e.test_a11y import AXE, axe_violations, check_page
from tests.e2e.test_gallery_e2e import claim
from tests.integration.test_gallery import Gallery
from tests.integration.test_gallery_place import backdate, grown_by, like_with

pytestmark = pytest.mark.timeout(120)


async def gallery_page(browser: Browser, base: str, path: str = "/gallery",
                       width: int = 1280, height: int = 800,
                       clock: bool = False) -> tuple[BrowserContext, Page, list[str]]:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    if AXE.is_file():
        await ctx.add_init_script(path=str(AXE))  # axe-core, for the accessibility checks
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if clock:
        await page.clock.install()
    await page.goto(f"{base}{path}")
    return ctx, page, errors


def card(page: Page, title: str):  # type: ignore[no-untyped-def]
    return page.locator(".post-card", has_text=title)


async def test_the_header_browses_new_top_of_a_period_and_following(app, browser):
    tag = secrets.token_hex(3)
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        author = await g.person()
        fresh = await g.post(author, title=f"Fresh fox {tag}")
        old = await g.post(author, seed=1, title=f"Old fox {tag}")
        await backdate(g, old["id"], 3)
        await like_with(g, old["id"], 1)
        assert fresh
    ctx, page, errors = await gallery_page(browser, app.base_url)
    nav = page.get_by_role("navigation", name="Browse the gallery")
    await expect(nav.get_by_role("tab", name="New")).to_have_attribute("aria-selected", "true")
    await expect(card(page, f"Fresh fox {tag}")).to_have_count(1)
    await nav.get_by_role("tab", name="Top").click()
    periods = page.get_by_role("group", name="Top of")
    await expect(periods.get_by_role("button", name="This week")).to_have_attribute(
        "aria-pressed", "true")
    await expect(card(page, f"Old fox {tag}")).to_have_count(1)
    await expect(card(page, f"Old fox {tag}").locator(".like-count")).to_have_text("1")
    await periods.get_by_role("button", name="Today").click()
    await expect(card(page, f"Fresh fox {tag}")).to_have_count(1)
    await expect(card(page, f"Old fox {tag}")).to_have_count(0)
    # The view is in the address: a reload (or a shared link) shows the same listing.
    assert page.url.endswith("/gallery?sort=top&period=day"), page.url
    await page.reload()
    await expect(periods.get_by_role("button", name="Today")).to_have_attribute(
        "aria-pressed", "true")
    await expect(card(page, f"Fresh fox {tag}")).to_have_count(1)
    await expect(card(page, f"Old fox {tag}")).to_have_count(0)
    await periods.get_by_role("button", name="All time").click()
    await expect(card(page, f"Old fox {tag}")).to_have_count(1)
    await check_page(page, "gallery top", {})
    if AXE.is_file():
        assert await axe_violations(page) == []
    for width, height in ((1440, 900), (1024, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await shot(page, f"gallery-place-top-{width}")
    await nav.get_by_role("tab", name="Following").click()
    await expect(page.get_by_text("Pick a handle to follow people")).to_be_visible()
    assert not errors, errors
    await ctx.close()


async def test_the_feed_tells_of_posts_published_meanwhile(app, browser):
    tag = secrets.token_hex(3)
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        publisher = await g.person()
        await g.post(publisher, title=f"First fox {tag}")
        ctx, page, errors = await gallery_page(browser, app.base_url, clock=True)
        await expect(card(page, f"First fox {tag}")).to_have_count(1)
        notice = page.locator(".new-posts")
        await page.clock.fast_forward(31_000)
        await expect(notice.get_by_role("button")).to_have_count(0)
        # Someone else publishes twice while this feed is open; no reload here.
        await g.post(publisher, seed=1, title=f"Second fox {tag}")
        await g.post(publisher, seed=2, title=f"Third fox {tag}")
    await page.clock.fast_forward(31_000)
    button = notice.get_by_role("button", name="2 new posts")
    await expect(button).to_be_visible()
    await expect(card(page, f"Third fox {tag}")).to_have_count(0)
    await shot(page, "gallery-place-new-posts")
    await button.click()
    await expect(page.locator(".post-card").first).to_contain_text(f"Third fox {tag}")
    await expect(card(page, f"Second fox {tag}")).to_have_count(1)
    await expect(notice.get_by_role("button")).to_have_count(0)
    assert not errors, errors
    await ctx.close()


async def test_a_like_from_a_card_asks_for_a_handle_and_rolls_back_when_refused(app, browser):
    tag = secrets.token_hex(3)
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        post = await g.post(await g.person(), title=f"Liked fox {tag}")
    ctx, page, errors = await gallery_page(browser, app.base_url)
    like = card(page, f"Liked fox {tag}").get_by_role("button", name="Like")
    await expect(like).to_have_attribute("title",
                                         "Pick a handle to like posts (no password needed)")
    await like.click()
    await claim(page, "fan_" + secrets.token_hex(3))
    liked = card(page, f"Liked fox {tag}").get_by_role("button", name="Unlike")
    await expect(liked).to_have_attribute("aria-pressed", "true")
    await expect(liked.locator(".like-count")).to_have_text("1")
    await shot(page, "gallery-place-card-liked")
    # The server refuses the unlike: the card shows the like again, and says why.
    await page.route(f"**/api/posts/{post['id']}/like", lambda route: route.fulfill(
        status=503, content_type="application/problem+json",
        body='{"status": 503, "title": "Service Unavailable", "detail": "storage is unavailable"}'))
    await liked.click()
    await expect(card(page, f"Liked fox {tag}").get_by_role("alert")).to_be_visible()
    await expect(liked).to_have_attribute("aria-pressed", "true")
    await expect(liked.locator(".like-count")).to_have_text("1")
    await page.unroute(f"**/api/posts/{post['id']}/like")
    # The like is really stored: a reload shows it.
    await page.reload()
    await expect(card(page, f"Liked fox {tag}").get_by_role("button", name="Unlike")) \
        .to_have_attribute("aria-pressed", "true")
    assert not [e for e in errors if "503" not in e], errors
    await ctx.close()


async def test_profile_edit_and_follow_from_a_post_page(app, browser):
    tag = secrets.token_hex(3)
    author_handle = "ada_" + tag
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        post = await g.post(await g.person(author_handle), title=f"Followed fox {tag}")
    # Someone on the post page follows its author (after picking a handle).
    ctx, page, errors = await gallery_page(browser, app.base_url, f"/p/{post['id']}")
    follow = page.get_by_role("button", name=f"Follow @{author_handle}")
    await follow.click()
    me = "ben_" + tag
    await claim(page, me)
    await expect(page.get_by_role("button", name="Following")).to_have_attribute(
        "aria-pressed", "true")
    await shot(page, "gallery-place-post-follow")
    await page.goto(f"{app.base_url}/u/{author_handle}")
    await expect(page.locator(".followers")).to_have_text("1 followers")
    # Then edits their own profile: a name and a bio, seen by anyone.
    await page.goto(f"{app.base_url}/u/{me}")
    await page.get_by_role("button", name="Edit profile").click()
    dialog = page.get_by_role("dialog", name="Edit your profile")
    await dialog.get_by_label("Display name").fill("Ben Fox")
    await dialog.get_by_label("Bio").fill("x" * 281)
    await expect(dialog.get_by_role("button", name="Save")).to_be_disabled()
    await dialog.get_by_label("Bio").fill("I follow foxes.\nMostly in snow.")
    await check_page(page, "profile edit", {})
    if AXE.is_file():
        assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ben Fox")
    await expect(page.locator(".profile-bio")).to_have_text("I follow foxes.\nMostly in snow.")
    await shot(page, "gallery-place-profile")
    other_ctx, other, other_errors = await gallery_page(browser, app.base_url, f"/u/{me}",
                                                        width=390, height=844)
    await expect(other.get_by_role("heading", level=1)).to_have_text("Ben Fox")
    await expect(other.locator(".profile-bio")).to_contain_text("I follow foxes.")
    await expect(other.get_by_role("button", name="Edit profile")).to_have_count(0)
    await shot(other, "gallery-place-profile-390")
    assert not errors and not other_errors, (errors, other_errors)
    await ctx.close()
    await other_ctx.close()


async def test_a_post_page_credits_who_grew_it(app, browser):
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        post = await grown_by(g, await g.person(), {"prompt": "user-bob", "expanded": "user-gone",
                                                    "image": "user-alice"},
                              {"user-alice": "Alice", "user-bob": "Bob"})
    ctx, page, errors = await gallery_page(browser, app.base_url, f"/p/{post['id']}")
    await expect(page.locator(".post-credits")).to_have_text("Grown by Alice with Bob and 1 other")
    await shot(page, "gallery-place-credits")
    assert not errors, errors
    await ctx.close()
