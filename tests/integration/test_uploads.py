"""Image uploads end to end on the real server (PostgreSQL, Redis, blobs on disk):
create -> PUT to the signed URL -> complete -> GET the renditions."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from pycrdt import Map

from sync.blobs import BlobStore
from sync.settings import Secret
from sync.store.uploads import SPENT_MARKER_TYPE, cleanup_expired_uploads, get_upload
from tests.conftest import RunningServer, run_server
from tests.fakes.seaweed import SeaweedS3, seaweed  # noqa: F401 (a session fixture)
from tests.yclient import YClient, eventually


def png_bytes(w: int = 1200, h: int = 800) -> bytes:
    gradient = Image.linear_gradient("L").resize((w, h))
    im = Image.merge("RGB", (gradient, Image.effect_noise((w, h), 30), gradient.rotate(90)
                             .resize((w, h))))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


class Api:
    def __init__(self, server: RunningServer, http: httpx.AsyncClient) -> None:
        self.server, self.http = server, http

    async def room(self) -> dict[str, str]:
        r = await self.http.post("/api/rooms", json={"title": "Uploads"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def create(self, room: dict[str, str], token: str | None = None,
                     **body: Any) -> httpx.Response:
        return await self.http.post(f"/api/rooms/{room['room']}/uploads", json=body, headers={
            "Authorization": f"Bearer {token or room['edit_token']}"})

    async def put(self, target: dict[str, Any], data: bytes) -> httpx.Response:
        return await self.http.request(target["method"], target["url"], content=data,
                                       headers=target["headers"])

    async def complete(self, room: dict[str, str], upload_id: str,
                       token: str | None = None) -> httpx.Response:
        return await self.http.post(
            f"/api/rooms/{room['room']}/uploads/{upload_id}/complete",
            headers={"Authorization": f"Bearer {token or room['edit_token']}"})

    async def upload(self, room: dict[str, str], data: bytes, *, content_type: str = "image/png",
                     **extra: Any) -> dict[str, Any]:
        r = await self.create(room, filename="picture.png", content_type=content_type,
                              size=len(data), **extra)
        assert r.status_code == 201, r.text
        target = r.json()
        put = await self.put(target, data)
        assert put.status_code == 200, put.text
        return dict(target)

    async def image(self, room: dict[str, str], key: str, **headers: str) -> httpx.Response:
        return await self.http.get(f"/api/rooms/{room['room']}/images/{key}",
                                   params={"token": room["view_token"]}, headers=headers)

    async def stored(self, room_id: str) -> list[str]:
        """The room's objects that hold bytes. (An ended upload's raw key keeps an empty
        marker, so that its still-valid URL cannot store anything there again.)"""
        return await stored_bytes(self.server.services.blobs, room_id)


async def stored_bytes(blobs: BlobStore, room_id: str) -> list[str]:
    keys = [*await blobs.list_prefix(f"rooms/{room_id}/"),
            *await blobs.list_prefix(f"uploads/{room_id}/")]
    return [k for k in keys if not await is_spent_marker(blobs, k)]


async def is_spent_marker(blobs: BlobStore, key: str) -> bool:
    info = await blobs.head(key)
    return info is not None and info.size == 0 and info.content_type == SPENT_MARKER_TYPE


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        yield Api(server, http)


async def test_upload_complete_and_serve_thumbnail(api: Api) -> None:
    room = await api.room()
    data = png_bytes()
    target = await api.upload(room, data)
    assert target["method"] == "PUT" and target["headers"] == {"Content-Type": "image/png"}
    assert target["url"].startswith(api.server.base_url + "/api/blobs/upload?")
    assert "expires_at" in target

    r = await api.complete(room, target["upload_id"])
    assert r.status_code == 200, r.text
    image = r.json()["image"]
    assert set(image) == {"key", "width", "height", "mime", "thumbKey"}
    assert (image["width"], image["height"], image["mime"]) == (1200, 800, "image/webp")
    assert image["key"].startswith(f"rooms/{room['room']}/") and image["key"].endswith(".webp")
    assert image["thumbKey"].endswith("_1024.webp")
    stored = await api.stored(room["room"])
    assert not [k for k in stored if k.startswith("uploads/")], "raw upload deleted"
    assert len(stored) == 3  # main, 256, 1024

    thumb = await api.image(room, image["thumbKey"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    assert thumb.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert thumb.headers["accept-ranges"] == "bytes"
    etag = thumb.headers["etag"]
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.format == "WEBP" and im.size == (1024, 683)

    part = await api.image(room, image["thumbKey"], Range="bytes=10-109")
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-109/{len(thumb.content)}"
    assert part.content == thumb.content[10:110]
    tail = await api.image(room, image["thumbKey"], Range="bytes=-20")
    assert tail.status_code == 206 and tail.content == thumb.content[-20:]
    beyond = await api.image(room, image["thumbKey"], Range=f"bytes={len(thumb.content)}-")
    assert beyond.status_code == 416
    assert (await api.image(room, image["thumbKey"], **{"If-None-Match": etag})).status_code \
        == 304

    bearer = await api.http.get(f"/api/rooms/{room['room']}/images/{image['key']}",
                                headers={"Authorization": f"Bearer {room['view_token']}"})
    assert bearer.status_code == 200 and bearer.headers["etag"] != etag


async def test_image_without_a_token_is_refused(api: Api) -> None:
    room = await api.room()
    target = await api.upload(room, png_bytes(64, 64))
    key = (await api.complete(room, target["upload_id"])).json()["image"]["key"]
    r = await api.http.get(f"/api/rooms/{room['room']}/images/{key}")
    assert r.status_code == 401


async def test_view_token_cannot_create_uploads(api: Api) -> None:
    room = await api.room()
    r = await api.create(room, token=room["view_token"], filename="a.png",
                         content_type="image/png", size=100)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


async def test_view_token_cannot_complete_uploads(api: Api) -> None:
    room = await api.room()
    target = await api.upload(room, png_bytes(64, 64))
    r = await api.complete(room, target["upload_id"], token=room["view_token"])
    assert r.status_code == 403
    assert (await api.complete(room, target["upload_id"])).status_code == 200


async def test_declared_type_that_is_not_an_image_is_refused(api: Api) -> None:
    room = await api.room()
    r = await api.create(room, filename="page.html", content_type="text/html", size=100)
    assert r.status_code == 415
    assert r.json()["type"] == "about:blank#unsupported_type"


async def test_declared_size_over_the_limit_is_refused(api: Api) -> None:
    room = await api.room()
    r = await api.create(room, filename="huge.png", content_type="image/png",
                         size=api.server.settings.max_upload_bytes + 1)
    assert r.status_code == 413


@pytest.mark.parametrize("body", [{}, {"content_type": "image/png"},
                                  {"content_type": "image/png", "size": -5},
                                  {"content_type": "image/png", "size": "12"},
                                  {"content_type": "image/png", "size": 10, "block_id": "../x"}])
async def test_malformed_create_body_is_refused(api: Api, body: dict[str, Any]) -> None:
    room = await api.room()
    r = await api.create(room, **body)
    assert r.status_code == 400, r.text


async def test_upload_of_another_room_is_refused(api: Api) -> None:
    mine, theirs = await api.room(), await api.room()
    target = await api.upload(theirs, png_bytes(64, 64))
    r = await api.complete(mine, target["upload_id"])
    assert r.status_code == 404
    assert (await api.complete(theirs, target["upload_id"])).status_code == 200


async def test_replayed_complete_is_refused(api: Api) -> None:
    room = await api.room()
    target = await api.upload(room, png_bytes(64, 64))
    assert (await api.complete(room, target["upload_id"])).status_code == 200
    again = await api.complete(room, target["upload_id"])
    assert again.status_code == 409
    assert again.json()["type"] == "about:blank#already_completed"


async def test_unknown_upload_id_is_refused(api: Api) -> None:
    room = await api.room()
    assert (await api.complete(room, "0" * 32)).status_code == 404
    assert (await api.complete(room, "not-an-id")).status_code == 404


async def test_complete_before_the_bytes_arrive_can_be_retried(api: Api) -> None:
    room = await api.room()
    data = png_bytes(64, 64)
    r = await api.create(room, filename="a.png", content_type="image/png", size=len(data))
    target = r.json()
    early = await api.complete(room, target["upload_id"])
    assert early.status_code == 409
    assert early.json()["type"] == "about:blank#not_uploaded"
    assert (await api.put(target, data)).status_code == 200
    assert (await api.complete(room, target["upload_id"])).status_code == 200


async def test_text_file_declared_as_png_is_refused_and_nothing_stored(api: Api) -> None:
    room = await api.room()
    target = await api.upload(room, b"this is not a picture at all\n" * 10)
    r = await api.complete(room, target["upload_id"])
    assert r.status_code == 415
    problem = r.json()
    assert problem["type"] == "about:blank#not_an_image"
    assert "not an image" in problem["detail"]
    assert await api.stored(room["room"]) == []
    assert (await api.complete(room, target["upload_id"])).status_code == 409


async def test_truncated_png_is_refused_and_nothing_stored(api: Api) -> None:
    room = await api.room()
    data = png_bytes(300, 200)
    target = await api.upload(room, data[: len(data) // 2])
    r = await api.complete(room, target["upload_id"])
    assert r.status_code == 422
    assert r.json()["type"] == "about:blank#truncated"
    assert await api.stored(room["room"]) == []


async def test_put_with_another_content_type_than_declared_is_refused(api: Api) -> None:
    room = await api.room()
    data = png_bytes(64, 64)
    r = await api.create(room, filename="a.png", content_type="image/png", size=len(data))
    target = r.json()
    put = await api.http.put(target["url"], content=data, headers={"Content-Type": "image/gif"})
    assert put.status_code == 415
    assert await api.stored(room["room"]) == []


async def test_image_key_of_another_room_is_not_served(api: Api) -> None:
    mine, theirs = await api.room(), await api.room()
    target = await api.upload(theirs, png_bytes(64, 64))
    key = (await api.complete(theirs, target["upload_id"])).json()["image"]["key"]
    assert (await api.image(theirs, key)).status_code == 200
    assert (await api.image(mine, key)).status_code == 404


@pytest.mark.parametrize("key", ["uploads/ROOM/0123", "rooms/ROOM/../../etc/passwd",
                                 "rooms/ROOM/abc.webp", "rooms/ROOM/.secret"])
async def test_keys_that_are_not_renditions_are_not_served(api: Api, key: str) -> None:
    room = await api.room()
    r = await api.image(room, key.replace("ROOM", room["room"]))
    assert r.status_code == 404


async def test_block_image_is_set_in_the_document(api: Api) -> None:
    room = await api.room()
    client = await YClient.connect(
        f"{api.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    try:
        client.add_text_block("b1", "a prompt")
        await eventually(lambda: api.server.services.rooms.rooms[room["room"]].doc.get(
            "blocks", type=Map).get("b1") is not None, message="the block on the server")
        target = await api.upload(room, png_bytes(640, 480), block_id="b1")
        r = await api.complete(room, target["upload_id"])
        assert r.status_code == 200, r.text
        assert r.json()["block_updated"] is True
        image = r.json()["image"]
        seen = await eventually(lambda: client.blocks()["b1"].get("image"),
                                message="the block's image")
        assert seen == {**image, "width": 640.0, "height": 480.0}
    finally:
        await client.close()


async def test_block_id_that_does_not_exist_leaves_the_document_alone(api: Api) -> None:
    room = await api.room()
    target = await api.upload(room, png_bytes(64, 64), block_id="nope")
    r = await api.complete(room, target["upload_id"])
    assert r.status_code == 200
    assert r.json()["block_updated"] is False


async def test_expired_upload_target_is_refused(settings: Any) -> None:
    async with run_server(settings.replace(upload_ttl=1.0)) as server, \
            httpx.AsyncClient(base_url=server.base_url) as http:
        api = Api(server, http)
        room = await api.room()
        data = png_bytes(64, 64)
        target = (await api.create(room, filename="a.png", content_type="image/png",
                                   size=len(data))).json()
        deadline = time.time() + 2.5
        await eventually(lambda: time.time() > deadline, message="the upload to expire")
        put = await api.put(target, data)
        assert put.status_code == 403
        assert put.json()["type"] == "about:blank#expired"
        r = await api.complete(room, target["upload_id"])
        assert r.status_code == 410
        assert await api.stored(room["room"]) == []


async def test_expired_uploads_are_cleaned_up(settings: Any) -> None:
    async with run_server(settings.replace(upload_ttl=1.0)) as server, \
            httpx.AsyncClient(base_url=server.base_url) as http:
        api = Api(server, http)
        room = await api.room()
        target = await api.upload(room, png_bytes(64, 64))  # sent, never completed
        assert len(await api.stored(room["room"])) == 1
        deadline = time.time() + 1.5
        await eventually(lambda: time.time() > deadline, message="the upload to expire")
        pool, blobs = server.services.store.pool, server.services.blobs
        stale = await cleanup_expired_uploads(pool, blobs, grace=0)
        assert target["upload_id"] in {s.id for s in stale}
        assert await get_upload(pool, target["upload_id"]) is None
        assert await api.stored(room["room"]) == []


async def test_upload_flow_with_s3_uses_presigned_urls(
        settings: Any, seaweed: SeaweedS3) -> None:  # noqa: F811 (the fixture)
    s3_settings = settings.replace(
        s3_bucket=seaweed.bucket, s3_endpoint_url=seaweed.endpoint_url, s3_region=seaweed.region,
        s3_path_style=True, s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=Secret(seaweed.secret_key))
    async with run_server(s3_settings) as server, \
            httpx.AsyncClient(base_url=server.base_url) as http:
        api = Api(server, http)
        room = await api.room()
        data = png_bytes(500, 400)
        target = await api.upload(room, data)  # PUT straight to the object store
        assert target["url"].startswith(seaweed.endpoint_url + "/")
        assert "X-Amz-Signature=" in target["url"]
        r = await api.complete(room, target["upload_id"])
        assert r.status_code == 200, r.text
        image = r.json()["image"]
        assert (image["width"], image["height"]) == (500, 400)
        assert await stored_bytes(server.services.blobs, room["room"]) == [
            image["key"], *(image["key"].replace(".webp", f"_{s}.webp") for s in (1024, 256))]

        redirect = await api.image(room, image["thumbKey"])
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(seaweed.endpoint_url + "/")
        async with httpx.AsyncClient() as outside:
            served = await outside.get(location)
        assert served.status_code == 200
        with Image.open(io.BytesIO(served.content)) as im:
            assert im.format == "WEBP" and im.size == (500, 400)
        assert (await api.image(room, image["key"].replace(room["room"], "x" * 16))) \
            .status_code == 404
