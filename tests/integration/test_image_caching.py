"""Images that a CDN can serve: a published image has a content-addressed URL served with
a year's public immutable caching (from the server for blobs on disk, and for S3 from the
server or from ``ARBOR_PUBLIC_IMAGE_BASE_URL``, never a short private redirect); a canvas's
images stay private, behind presigned URLs that stay the same for a window."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sync.blobs.base import signing_window
from sync.settings import Secret, Settings
from tests.conftest import run_server
from tests.fakes.seaweed import SeaweedS3, seaweed  # noqa: F401 (the fixture)
from tests.integration.test_gallery import PROXY, Gallery
from tests.yclient import eventually

IMMUTABLE = "public, max-age=31536000, immutable"


def s3_settings(settings: Settings, s3: SeaweedS3, **more: Any) -> Settings:
    return settings.replace(
        s3_bucket=s3.bucket, s3_endpoint_url=s3.endpoint_url, s3_region=s3.region,
        s3_path_style=True, s3_access_key_id=s3.access_key,
        s3_secret_access_key=Secret(s3.secret_key), trusted_proxies=PROXY,
        report_min_handle_age_hours=0.0, **more)


@contextlib.asynccontextmanager
async def gallery_on(settings: Settings, web_dist: Path | None = None) -> AsyncIterator[Gallery]:
    async with run_server(settings, web_dist=web_dist) as srv, \
            contextlib.AsyncExitStack() as stack:
        yield Gallery(srv, stack)


@pytest.fixture
async def disk(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_on(settings.replace(trusted_proxies=PROXY,
                                           report_min_handle_age_hours=0.0)) as g:
        yield g


def urls_of(post: dict[str, Any]) -> list[str]:
    """Every image URL a post's page and the grids use (its image, its lineage's)."""
    urls = [post["image"][f] for f in ("url", "thumb_url", "small_url")]
    for step in post.get("lineage") or []:
        if step.get("image"):
            urls += [step["image"][f] for f in ("url", "thumb_url", "small_url")]
    return urls


async def test_published_images_have_content_addressed_public_immutable_urls(
        disk: Gallery) -> None:
    me = await disk.person()
    post = await disk.post(me)
    digest = post["image"]["key"].rsplit("/", 1)[1].removesuffix(".webp")
    assert post["image"]["url"] == f"/images/posts/{post['id']}/{digest}.webp"
    assert post["image"]["thumb_url"] == f"/images/posts/{post['id']}/{digest}_1024.webp"
    assert post["image"]["small_url"] == f"/images/posts/{post['id']}/{digest}_256.webp"
    anon = await disk.browser()
    listed = (await anon.get("/api/posts", params={"limit": 100})).json()["posts"]
    assert next(p for p in listed if p["id"] == post["id"])["image"] == post["image"]
    for url in urls_of(post):
        r = await anon.get(url)
        assert r.status_code == 200, (url, r.text)
        assert r.headers["cache-control"] == IMMUTABLE
        assert r.headers["content-type"] == "image/webp"
        again = await anon.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE
    # The older size-named route answers alike (links made before content addresses).
    old = await anon.get(f"/api/posts/{post['id']}/images/256")
    assert old.status_code == 200 and old.headers["cache-control"] == IMMUTABLE


async def test_a_posts_images_stop_once_it_is_hidden_or_unpublished(disk: Gallery) -> None:
    """Attack: keep reading a hidden (reported) or unpublished post's images by their
    public URLs. The server refuses them to everyone but a hidden post's author, who gets
    them marked never to be kept by any cache."""
    author = await disk.person()
    hidden, gone = await disk.post(author, seed=1), await disk.post(author, seed=2)
    for _ in range(3):
        reporter = await disk.person()
        r = await reporter.post(f"/api/posts/{hidden['id']}/report", json={"reason": "spam"})
        assert r.status_code == 200
    assert (await author.delete(f"/api/posts/{gone['id']}")).status_code == 204
    anon = await disk.browser()
    for url in urls_of(hidden) + urls_of(gone):
        assert (await anon.get(url)).status_code == 404, url
    for url in urls_of(hidden):
        mine = await author.get(url)
        assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"


async def test_the_image_route_serves_nothing_but_a_posts_own_renditions(
        disk: Gallery) -> None:
    """Attack: use the public image route to read other keys: another post's image under
    this post's id, a card, a raw upload, a canvas's image, a path with ``..``."""
    me = await disk.person()
    mine, other = await disk.post(me, seed=1), await disk.post(me, seed=2)
    other_name = other["image"]["key"].rsplit("/", 1)[1]
    room, _ = await disk.canvas(me, seed=3)
    blobs = disk.server.services.blobs
    stored = await blobs.list_prefix(f"rooms/{room['room']}/")
    # Something else kept under the post's prefix (its link-preview card is): not an image.
    await blobs.put(f"posts/{mine['id']}/card-{'0' * 64}.jpg", b"\xff\xd8\xff", "image/jpeg")
    anon = await disk.browser()
    for path in (f"/images/posts/{mine['id']}/{other_name}",
                 f"/images/posts/{mine['id']}/card-{'0' * 64}.jpg",
                 f"/images/rooms/{room['room']}/{stored[0].rsplit('/', 1)[1]}",
                 f"/images/posts/{mine['id']}/..%2F{other['id']}%2F{other_name}",
                 f"/images/posts/{mine['id']}/{other_name.removesuffix('.webp')}_512.webp",
                 f"/images/uploads/{room['room']}/{'0' * 32}"):
        r = await anon.get(path)
        assert r.status_code == 404, path
        assert "immutable" not in r.headers.get("cache-control", "")


# ------------------------------------------------------------------------------------ S3


async def test_s3_published_images_are_public_and_immutable_not_a_private_redirect(
        settings: Settings, seaweed: SeaweedS3) -> None:  # noqa: F811 (the fixture)
    async with gallery_on(s3_settings(settings, seaweed)) as g:
        me = await g.person()
        post = await g.post(me)
        anon = await g.browser()
        for url in urls_of(post):
            assert url.startswith("/images/posts/")
            r = await anon.get(url)
            assert r.status_code == 200, (url, r.text)  # bytes, not a redirect
            assert r.headers["cache-control"] == IMMUTABLE
            assert r.content[:4] == b"RIFF" and r.headers["etag"]
        old = await anon.get(f"/api/posts/{post['id']}/images/full")
        assert old.status_code == 200 and old.headers["cache-control"] == IMMUTABLE


async def test_s3_public_image_base_url_serves_published_images_from_the_bucket(
        settings: Settings, seaweed: SeaweedS3, tmp_path: Path) -> None:  # noqa: F811
    public = f"{seaweed.endpoint_url}/{seaweed.bucket}"
    (tmp_path / "index.html").write_text("<!doctype html><title>Arbor</title>")
    async with gallery_on(s3_settings(settings, seaweed, public_image_base_url=public),
                          web_dist=tmp_path) as g:
        me = await g.person()
        post = await g.post(me)
        for url in urls_of(post):
            assert re.fullmatch(rf"{re.escape(public)}/posts/{post['id']}/[0-9a-f]{{64}}"
                                r"(_1024|_256)?\.webp", url), url
        anon = await g.browser()
        served = await anon.get(f"/images/{post['image']['key']}")
        assert served.status_code == 301
        assert served.headers["location"] == f"{public}/{post['image']['key']}"
        assert served.headers["cache-control"] == IMMUTABLE
        page_csp = (await anon.get("/gallery")).headers["content-security-policy"]
        img_src = next(d for d in page_csp.split("; ") if d.startswith("img-src "))
        assert seaweed.endpoint_url in img_src.split()


async def test_s3_canvas_images_keep_one_private_url_for_a_window(
        settings: Settings, seaweed: SeaweedS3) -> None:  # noqa: F811 (the fixture)
    """A canvas image redirects to a presigned URL that is the same for every request in
    its window (so the browser's cached copy is used), valid past the window's end, and
    private: the bucket answers it with ``private`` caching."""
    window = 3
    async with gallery_on(s3_settings(settings, seaweed, image_url_ttl=window)) as g:
        me = await g.person()
        room, _ = await g.canvas(me)
        key = next(k for k in await g.server.services.blobs.list_prefix(
            f"rooms/{room['room']}/") if k.endswith("_256.webp"))
        path = f"/api/rooms/{room['room']}/images/{key}"

        async def locate() -> tuple[int, httpx.Response]:
            start, _ = signing_window(window)
            r = await me.get(path, params={"token": room["view_token"]})
            return start, r

        async def same_window_twice() -> tuple[int, str, httpx.Response] | None:
            (s1, a), (s2, b) = await locate(), await locate()
            ok = s1 == s2 == signing_window(window)[0] and a.status_code == b.status_code == 302
            return (s1, a.headers["location"], a) if ok and \
                a.headers["location"] == b.headers["location"] else None

        start, url, first = await eventually(same_window_twice, message="two in one window")
        assert first.headers["cache-control"].startswith("private, max-age=")
        assert 0 <= int(first.headers["cache-control"].rsplit("=", 1)[1]) <= window
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == [str(2 * window)]
        assert query["X-Amz-Date"][0].endswith(
            f"{start % 86400 // 3600:02d}{start % 3600 // 60:02d}{start % 60:02d}Z")
        async with httpx.AsyncClient() as outside:
            image = await outside.get(url)
        assert image.status_code == 200 and image.content[:4] == b"RIFF"
        assert image.headers["cache-control"].startswith("private")

        async def next_window() -> str | None:
            r = await me.get(path, params={"token": room["view_token"]})
            return r.headers["location"] if r.headers["location"] != url else None

        assert await eventually(next_window, timeout=3 * window, message="a new window")
