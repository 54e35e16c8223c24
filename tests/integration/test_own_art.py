"""Posting your own art: an image made elsewhere, uploaded through the upload pipeline
into a new canvas, with its prompt and the model that made it; the post is then a post
like any other (listed, prompt in its lineage, remixable into a canvas holding the prompt
and the image), and it says "Made with {model}"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pycrdt import Map

from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, png_bytes
from tests.yclient import YClient, eventually


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(settings) as running:
        yield running


async def upload(http: httpx.AsyncClient, room: dict[str, str], data: bytes,
                 content_type: str = "image/png") -> httpx.Response:
    """The upload pipeline, as the page runs it: announce, PUT the bytes, complete."""
    auth = {"Authorization": f"Bearer {room['edit_token']}"}
    r = await http.post(f"/api/rooms/{room['room']}/uploads", headers=auth, json={
        "filename": "art.png", "content_type": content_type, "size": len(data)})
    if r.status_code != 201:
        return r
    target = r.json()
    put = await http.request(target["method"], target["url"], content=data,
                             headers=target["headers"])
    assert put.status_code == 200, put.text
    return await http.post(
        f"/api/rooms/{room['room']}/uploads/{target['upload_id']}/complete", headers=auth)


async def own_art(http: httpx.AsyncClient, room: dict[str, str], **body: Any) -> httpx.Response:
    return await http.post(f"/api/rooms/{room['room']}/own-art", json=body,
                           headers={"Authorization": f"Bearer {room['edit_token']}"})


async def posted(g: Gallery, http: httpx.AsyncClient, **fields: Any
                 ) -> tuple[dict[str, str], str, httpx.Response]:
    room = await g.room(http)
    done = await upload(http, room, png_bytes(400, 300, seed=9))
    assert done.status_code == 200, done.text
    key = done.json()["image"]["key"]
    body = {"image_key": key, "prompt": "a heron in\nmorning fog", "model": "Flux 1.1 Pro",
            "title": "Heron", "description": "made at dawn", **fields}
    return room, key, await own_art(http, room, **body)


async def test_own_art_is_listed_with_its_prompt_and_model(gallery: Gallery) -> None:
    me = await gallery.person()
    _, _, r = await posted(gallery, me)
    assert r.status_code == 201, r.text
    post = r.json()
    other = await gallery.browser()
    got = (await other.get(f"/api/posts/{post['id']}")).json()
    assert got["model"] == "Flux 1.1 Pro" and got["title"] == "Heron"
    assert got["description"] == "made at dawn"
    assert [(s["kind"], s["text"]) for s in got["lineage"]] == \
        [("text", "a heron in\nmorning fog"), ("image", "")]
    assert (await other.get(got["image"]["url"])).status_code == 200
    listing = (await other.get("/api/posts", params={"sort": "new"})).json()["posts"]
    assert any(p["id"] == post["id"] and p["model"] == "Flux 1.1 Pro" for p in listing)


async def test_remix_of_own_art_holds_the_prompt_and_the_image(gallery: Gallery) -> None:
    me = await gallery.person()
    _, _, r = await posted(gallery, me)
    post = r.json()
    remix = await (await gallery.browser()).post(f"/api/posts/{post['id']}/remix")
    assert remix.status_code == 201, remix.text
    links = remix.json()
    client = await YClient.connect(
        f"{gallery.server.ws_url}/sync/{links['room']}?token={links['edit_token']}")
    try:
        blocks = await eventually(lambda: client.blocks() if len(client.blocks()) == 2
                                  else None, message="the remix's two blocks")
        kinds = {b["kind"]: b for b in blocks.values()}
        assert str(kinds["text"]["text"]) == "a heron in\nmorning fog"
        assert kinds["image"]["image"]["key"].startswith(f"rooms/{links['room']}/")
        assert len(client.doc.get("edges", type=Map)) == 1
    finally:
        await client.close()
