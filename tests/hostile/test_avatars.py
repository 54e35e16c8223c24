"""Attacks on avatars (``PUT /api/identity/avatar`` with the image as the body, and the
public route ``/images/people/{person}/{name}``).

Each is sent over real HTTP to the real server (PostgreSQL, Redis, the disk blob store)
and must be refused with a clear 4xx that changes nothing: the profile's avatar reads the
same afterwards.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from sync.blobs import DiskBlobStore
from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, handle, png_bytes

PNG = {"Content-Type": "image/png"}


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(settings) as running:
        yield running


async def avatar_of(g: Gallery, name: str) -> str | None:
    r = await (await g.browser()).get(f"/api/people/{name}")
    assert r.status_code == 200, r.text
    url: str | None = r.json()["avatar_url"]
    return url


async def someone(g: Gallery) -> tuple[str, httpx.AsyncClient, str]:
    """A person with an avatar set, and its URL."""
    name = handle()
    http = await g.person(name)
    r = await http.put("/api/identity/avatar", content=png_bytes(64, 64), headers=PNG)
    assert r.status_code == 200, r.text
    return name, http, r.json()["avatar_url"]


async def test_avatar_refuses_a_file_that_is_not_an_image(gallery: Gallery) -> None:
    """An HTML page, an SVG with script and a GIF renamed, each declared as a PNG."""
    name, me, before = await someone(gallery)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    for body, status in ((b"<html><script>alert(1)</script></html>", 415),
                         (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', 415),
                         (buf.getvalue(), 415), (b"", 422)):
        r = await me.put("/api/identity/avatar", content=body, headers=PNG)
        assert r.status_code == status, (body[:20], r.text)
    assert await avatar_of(gallery, name) == before


async def test_avatar_refuses_a_declared_type_that_is_not_an_image(gallery: Gallery) -> None:
    """A real PNG sent as text/html, as an SVG, and with no type at all."""
    name, me, before = await someone(gallery)
    for kind in ("text/html", "image/svg+xml", ""):
        r = await me.put("/api/identity/avatar", content=png_bytes(32, 32),
                         headers={"Content-Type": kind})
        assert r.status_code == 415, (kind, r.text)
    assert await avatar_of(gallery, name) == before


async def test_avatar_refuses_an_oversized_file(settings: Settings) -> None:
    """A body past ARBOR_MAX_UPLOAD_BYTES, declared honestly and sent chunked (no length)."""
    async with gallery_with(settings.replace(max_upload_bytes=4096)) as g:
        name = handle()
        me = await g.person(name)
        big = png_bytes(256, 256)
        assert len(big) > 4096
        r = await me.put("/api/identity/avatar", content=big, headers=PNG)
        assert r.status_code == 413, r.text

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(big), 1000):
                yield big[i:i + 1000]

        r = await me.put("/api/identity/avatar", content=chunks(), headers=PNG)
        assert r.status_code == 413, r.text
        assert await avatar_of(g, name) is None


async def test_avatar_refuses_a_pixel_bomb(gallery: Gallery) -> None:
    """A tiny PNG that declares 100000 x 100000 pixels."""
    import struct
    import zlib
    name, me, before = await someone(gallery)
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))
    r = await me.put("/api/identity/avatar", content=bomb, headers=PNG)
    assert r.status_code == 422, r.text
    assert await avatar_of(gallery, name) == before


async def test_avatar_without_identity_is_refused(gallery: Gallery) -> None:
    """An upload from a browser that has claimed no handle, and one with a forged cookie."""
    anon = await gallery.browser()
    r = await anon.put("/api/identity/avatar", content=png_bytes(32, 32), headers=PNG)
    assert r.status_code == 401 and r.json()["type"].endswith("#identity_required")
    anon.cookies.set("arbor_id", "x" * 43)
    r = await anon.put("/api/identity/avatar", content=png_bytes(32, 32), headers=PNG)
    assert r.status_code == 401
    assert (await anon.delete("/api/identity/avatar")).status_code == 401


async def test_avatar_change_without_csrf_is_refused(gallery: Gallery) -> None:
    """A cross-site form (no X-Arbor-CSRF header) and a foreign Origin, to set and remove."""
    name, me, before = await someone(gallery)
    for headers in ({**PNG, "X-Arbor-CSRF": ""}, {**PNG, "Origin": "https://evil.example"}):
        r = await me.put("/api/identity/avatar", content=png_bytes(32, 32, seed=5),
                         headers=headers)
        assert r.status_code == 403, r.text
        assert (await me.delete("/api/identity/avatar", headers=headers)).status_code == 403
    assert await avatar_of(gallery, name) == before


async def test_avatar_route_serves_nothing_but_avatars(gallery: Gallery) -> None:
    """Other objects that exist under the person's prefix (a card, a copy with another
    suffix), a traversal, another person's prefix, an unknown digest: 404 each."""
    _, _, url = await someone(gallery)
    anon = await gallery.browser()
    person, file = url.split("/")[3], url.split("/")[4]
    store = DiskBlobStore(gallery.server.settings.data_dir / "blobs", b"test", "")
    for planted in (f"people/{person}/card-{'a' * 64}.jpg", f"people/{person}/{file}.x"):
        await store.put(planted, b"not an avatar", "image/jpeg")
    for path in (f"/images/people/{person}/card-{'a' * 64}.jpg",
                 f"/images/people/{person}/..%2F..%2Fblobs%2F.secret",
                 f"/images/people/{person}/{file}.x",
                 f"/images/people/{'b' * 32}/{file}",
                 f"/images/people/{person}/avatar-{'0' * 64}.webp"):
        r = await anon.get(path)
        assert r.status_code == 404, (path, r.status_code)
    assert (await anon.get(url)).status_code == 200
