"""A person's avatar: uploaded through the image pipeline, stored under their own prefix
(``people/{person}/avatar-{sha256}.webp``), served public and immutable, and shown on
their profile, their posts' author lines and the gallery's cards."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, handle, png_bytes


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(settings) as running:
        yield running


async def test_an_avatar_is_a_public_square_shown_on_profile_posts_and_cards(
        gallery: Gallery) -> None:
    name = handle()
    me, other = await gallery.person(name), await gallery.browser()
    post = await gallery.post(me)
    assert (await other.get(f"/api/people/{name}")).json()["avatar_url"] is None
    r = await me.put("/api/identity/avatar", content=png_bytes(640, 300),
                     headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    assert url.startswith("/images/people/") and url.endswith(".webp")
    # Public, immutable, a 256 px square WebP, with no cookie at all.
    anon = await gallery.browser()
    got = await anon.get(url)
    assert got.status_code == 200
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    with Image.open(io.BytesIO(got.content)) as im:
        assert (im.format, im.size) == ("WEBP", (256, 256))
    # Shown wherever the person is named.
    assert (await other.get(f"/api/people/{name}")).json()["avatar_url"] == url
    assert (await other.get(f"/api/posts/{post['id']}")).json()["author"]["avatar_url"] == url
    cards = (await other.get("/api/posts", params={"sort": "new"})).json()["posts"]
    assert next(p for p in cards if p["id"] == post["id"])["author"]["avatar_url"] == url
    assert (await me.get("/api/identity")).json()["avatar_url"] == url
    # A new avatar is a new URL, and the old one is gone.
    r = await me.put("/api/identity/avatar", content=png_bytes(100, 100, seed=3),
                     headers={"Content-Type": "image/png"})
    new = r.json()["avatar_url"]
    assert new != url
    assert (await anon.get(url)).status_code == 404
    assert (await anon.get(new)).status_code == 200
    # Removed: none shown, and its image no longer served.
    r = await me.delete("/api/identity/avatar")
    assert r.status_code == 200 and r.json()["avatar_url"] is None
    assert (await other.get(f"/api/people/{name}")).json()["avatar_url"] is None
    assert (await anon.get(new)).status_code == 404
