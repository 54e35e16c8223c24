"""Posting your own art in the browser: "Post your art" on the gallery asks for a handle
first, then a form (image, title, prompt, model, description); a file that is not an
image is refused with the server's sentence; a real one becomes a post whose page says
"Made with {model}" and shows the prompt, and which another browser sees in the gallery."""

from __future__ import annotations

import re
import secrets

import pytest

from tests.e2e.conftest import expect, shot
from tests.e2e.test_a11y import AXE, axe_violations, check_page
from tests.e2e.test_gallery_e2e import claim
from tests.e2e.test_gallery_place_e2e import card, gallery_page
from tests.integration.test_gallery import png_bytes

pytestmark = pytest.mark.timeout(120)


async def test_post_your_art_from_the_gallery(app, browser, tmp_path):
    tag = secrets.token_hex(3)
    image = tmp_path / "heron.png"
    image.write_bytes(png_bytes(480, 320, seed=11))
    fake = tmp_path / "heron.jpg"
    fake.write_text("<html>not an image</html>")
    ctx, page, errors = await gallery_page(browser, app.base_url, "/gallery")
    await page.get_by_role("button", name="Post your art").click()
    await expect(page.get_by_role("dialog")).to_contain_text("Pick a handle to post your art")
    await claim(page, "art_" + tag)
    dialog = page.get_by_role("dialog", name="Post your art")
    await expect(dialog.get_by_role("button", name="Post")).to_be_disabled()
    await dialog.get_by_label("Image").set_input_files(str(fake))
    await dialog.get_by_label("Title").fill(f"Heron {tag}")
    await dialog.get_by_label("Prompt").fill("a heron in morning fog")
    await dialog.get_by_label("Model (optional)").fill("Flux 1.1 Pro")
    await dialog.get_by_label("Description (optional)").fill("Made at dawn.")
    await check_page(page, "own art form", {})
    if AXE.is_file():
        assert await axe_violations(page) == []
    await shot(page, "own-art-form")
    await dialog.get_by_role("button", name="Post").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("not an image")
    await dialog.get_by_label("Image").set_input_files(str(image))
    await dialog.get_by_role("button", name="Post").click()
    await expect(page).to_have_url(re.compile(r"/p/[A-Za-z0-9_-]+$"))
    await expect(page.locator(".post-model")).to_have_text("Made with Flux 1.1 Pro")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Heron {tag}")
    await expect(page.get_by_text("a heron in morning fog")).to_be_visible()
    await shot(page, "own-art-post")
    # Someone else finds it in the gallery, on a phone.
    other_ctx, other, other_errors = await gallery_page(browser, app.base_url, "/gallery",
                                                        width=390, height=844)
    await expect(card(other, f"Heron {tag}")).to_be_visible()
    await expect(other.get_by_role("button", name="Post your art")).to_be_visible()
    await shot(other, "own-art-gallery-390")
    assert not errors and not other_errors, (errors, other_errors)
    await ctx.close()
    await other_ctx.close()
