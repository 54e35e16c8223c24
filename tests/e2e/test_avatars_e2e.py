"""Avatars in the browser: a person picks an image in "Edit profile", it is sent through
the image pipeline at once, and another browser sees it on the profile, on the gallery's
card and on the post page's author line; a file that is not an image is refused with the
server's sentence."""

from __future__ import annotations

import contextlib
import re
import secrets

import pytest

from tests.e2e.conftest import expect, shot
from tests.e2e.test_a11y import AXE, axe_violations, check_page
from tests.e2e.test_gallery_place_e2e import card, gallery_page
from tests.integration.test_gallery import Gallery, png_bytes

pytestmark = pytest.mark.timeout(120)


async def test_an_avatar_picked_in_the_profile_shows_on_cards_and_posts(app, browser, tmp_path):
    tag = secrets.token_hex(3)
    me = "ava_" + tag
    async with contextlib.AsyncExitStack() as stack:
        g = Gallery(app, stack)
        http = await g.person(me)
        post = await g.post(http, title=f"Avatar fox {tag}")
        secret = (await http.get("/api/identity")).json()["recovery_url"].split("secret=")[1]
    image = tmp_path / "me.png"
    image.write_bytes(png_bytes(300, 200, seed=7))
    fake = tmp_path / "me.jpg"
    fake.write_text("<html>not an image</html>")
    ctx, page, errors = await gallery_page(browser, app.base_url, "/gallery")
    await ctx.add_cookies([{"name": "arbor_id", "value": secret, "url": app.base_url}])
    await page.goto(f"{app.base_url}/u/{me}")
    await expect(page.locator(".profile-head-top .person-avatar-letter")).to_have_text("A")
    await page.get_by_role("button", name="Edit profile").click()
    dialog = page.get_by_role("dialog", name="Edit your profile")
    await dialog.get_by_label("Avatar").set_input_files(str(fake))
    await expect(dialog.get_by_role("alert")).to_contain_text("not an image")
    await dialog.get_by_label("Avatar").set_input_files(str(image))
    await expect(dialog.locator("img.person-avatar")).to_have_attribute(
        "src", re.compile(r"^/images/people/"))
    await check_page(page, "avatar picked", {})
    if AXE.is_file():
        assert await axe_violations(page) == []
    await shot(page, "avatar-dialog")
    await page.keyboard.press("Escape")
    avatar = page.locator(".profile-head-top img.person-avatar")
    await expect(avatar).to_be_visible()
    src = await avatar.get_attribute("src")
    assert src and src.startswith("/images/people/") and src.endswith(".webp")
    # Another browser sees it on the profile, the card and the post's author line.
    other_ctx, other, other_errors = await gallery_page(browser, app.base_url, f"/u/{me}",
                                                        width=390, height=844)
    await expect(other.locator(".profile-head-top img.person-avatar")).to_have_attribute(
        "src", src)
    await shot(other, "avatar-profile-390")
    await other.goto(f"{app.base_url}/gallery")
    await expect(card(other, f"Avatar fox {tag}").locator("img.person-avatar")).to_have_attribute(
        "src", src)
    await other.goto(f"{app.base_url}/p/{post['id']}")
    await expect(other.locator(".post-byline img.person-avatar")).to_have_attribute("src", src)
    await shot(other, "avatar-post-390")
    assert not errors and not other_errors, (errors, other_errors)
    await ctx.close()
    await other_ctx.close()

