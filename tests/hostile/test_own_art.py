"""Attacks on posting your own art (``POST /api/rooms/{room}/own-art`` after an upload
through the upload pipeline). Each is sent over real HTTP (and the real websocket to read
the canvas) against the real server, PostgreSQL and Redis, and must be refused with a
clear 4xx that changes nothing: no post is listed and the canvas holds no block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, handle, png_bytes
from tests.integration.test_own_art import own_art, upload
from tests.yclient import YClient


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(settings) as running:
        yield running


async def ready(g: Gallery, http: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, Any]]:
    """A new canvas with an uploaded image, and a valid body to post it."""
    room = await g.room(http)
    done = await upload(http, room, png_bytes(200, 150))
    assert done.status_code == 200, done.text
    return room, {"image_key": done.json()["image"]["key"], "prompt": "a heron",
                  "model": "Flux", "title": "Heron"}


async def nothing_changed(g: Gallery, name: str, room: dict[str, str]) -> None:
    profile = (await (await g.browser()).get(f"/api/people/{name}")).json()
    assert profile["posts"] == []
    client = await YClient.connect(
        f"{g.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    try:
        assert client.blocks() == {}
    finally:
        await client.close()


async def test_own_art_refuses_a_file_that_is_not_an_image(gallery: Gallery) -> None:
    """An HTML page announced as a PNG, and an SVG announced as one: the pipeline refuses
    the bytes, so there is no image to post, and posting a made-up key is refused."""
    name = handle()
    me = await gallery.person(name)
    room = await gallery.room(me)
    for data, kind in ((b"<html><script>alert(1)</script></html>", "image/png"),
                       (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")):
        r = await upload(me, room, data, kind)
        assert r.status_code == 415, r.text
    r = await own_art(me, room, image_key=f"rooms/{room['room']}/{'a' * 64}.webp",
                      prompt="a heron", title="Heron")
    assert r.status_code == 400, r.text
    await nothing_changed(gallery, name, room)


async def test_own_art_refuses_an_image_of_another_canvas(gallery: Gallery) -> None:
    """The key of an image uploaded to someone else's canvas, named in my own."""
    name = handle()
    me, other = await gallery.person(name), await gallery.person()
    _, theirs = await ready(gallery, other)
    room = await gallery.room(me)
    r = await own_art(me, room, **theirs)
    assert r.status_code == 400 and "another canvas" in r.text, r.text
    await nothing_changed(gallery, name, room)


async def test_own_art_refuses_oversized_text_and_files(gallery: Gallery) -> None:
    """A file past ARBOR_MAX_UPLOAD_BYTES, a model of 121 characters, a prompt of 4001,
    a title of 121, a body of more than 1 MiB."""
    name = handle()
    me = await gallery.person(name)
    room, body = await ready(gallery, me)
    too_big = gallery.server.settings.max_upload_bytes + 1
    r = await me.post(f"/api/rooms/{room['room']}/uploads",
                      headers={"Authorization": f"Bearer {room['edit_token']}"},
                      json={"filename": "big.png", "content_type": "image/png", "size": too_big})
    assert r.status_code == 413, r.text
    for field, value in (("model", "m" * 121), ("prompt", "p" * 4001), ("title", "t" * 121),
                         ("description", "d" * 2_000_000)):
        r = await own_art(me, room, **{**body, field: value})
        assert r.status_code in (400, 413), (field, r.text)
    await nothing_changed(gallery, name, room)


async def test_own_art_refuses_control_characters_in_the_model(gallery: Gallery) -> None:
    """A model with a NUL, an escape sequence, a right-to-left override, a newline; a
    prompt with a bell; a model that is not a string."""
    name = handle()
    me = await gallery.person(name)
    room, body = await ready(gallery, me)
    for field, value in (("model", "Flux\x00"), ("model", "\x1b[31mred"),
                         ("model", "evil \u202egnp"), ("model", "two\nlines"),
                         ("prompt", "ding\x07"), ("model", 5), ("model", ["Flux"])):
        r = await own_art(me, room, **{**body, field: value})
        assert r.status_code == 400, (field, value, r.text)
    r = await me.post(f"/api/rooms/{room['room']}/own-art",
                      content=b'{"image_key": "x", "prompt": "a", "title": "t", '
                              b'"model": "a\\u0000b"}',
                      headers={"Authorization": f"Bearer {room['edit_token']}",
                               "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    await nothing_changed(gallery, name, room)


async def test_own_art_without_identity_is_refused(gallery: Gallery) -> None:
    """A browser that has claimed no handle (it holds the canvas's edit link)."""
    anon = await gallery.browser()
    room, body = await ready(gallery, anon)
    r = await own_art(anon, room, **body)
    assert r.status_code == 401 and r.json()["type"].endswith("#identity_required")
    client = await YClient.connect(
        f"{gallery.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    try:
        assert client.blocks() == {}
    finally:
        await client.close()


async def test_own_art_without_csrf_or_edit_link_is_refused(gallery: Gallery) -> None:
    """A cross-site form (no X-Arbor-CSRF), a foreign Origin, the view link, no link."""
    name = handle()
    me = await gallery.person(name)
    room, body = await ready(gallery, me)
    url = f"/api/rooms/{room['room']}/own-art"
    edit = {"Authorization": f"Bearer {room['edit_token']}"}
    for headers in ({**edit, "X-Arbor-CSRF": ""}, {**edit, "Origin": "https://evil.example"}):
        assert (await me.post(url, json=body, headers=headers)).status_code == 403
    r = await me.post(url, json=body, headers={"Authorization": f"Bearer {room['view_token']}"})
    assert r.status_code == 403, r.text
    assert (await me.post(url, json=body)).status_code in (401, 403)
    await nothing_changed(gallery, name, room)
