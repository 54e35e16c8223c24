"""A signed upload URL takes one body (issue 20, item 9).

The attack: keep the upload URL the server handed out and PUT to it again (after the
first upload, after it was completed, after a refused first try, or many times at once)
to replace what was verified, or to park bytes in the store that nobody will ever check
or delete. Each test does it with a real HTTP client against the real server (blobs on
disk) or the real S3 server (SeaweedFS, which checks presigned signatures).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from sync.blobs import BlobStore, upload_key
from sync.settings import Secret, Settings
from sync.store.uploads import SPENT_MARKER_TYPE
from tests.conftest import RunningServer, run_server
from tests.fakes.seaweed import SeaweedS3, seaweed  # noqa: F401 (a session fixture)

pytestmark = pytest.mark.timeout(90)

PROBLEM = "application/problem+json"


def png_bytes(seed: int, w: int = 80, h: int = 60) -> bytes:
    im = Image.effect_noise((w, h), 30 + seed).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def other_bytes(data: bytes) -> bytes:
    """A body of the same length and type as ``data`` that is not ``data``."""
    return data[:-16] + bytes(16)


@dataclass
class Uploads:
    server: RunningServer
    http: httpx.AsyncClient
    room: dict[str, str]

    @property
    def blobs(self) -> BlobStore:
        return self.server.services.blobs

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.room['edit_token']}"}

    async def create(self, size: int, content_type: str = "image/png") -> dict[str, Any]:
        r = await self.http.post(f"/api/rooms/{self.room['room']}/uploads",
                                 headers=self._auth(),
                                 json={"filename": "a.png", "content_type": content_type,
                                       "size": size})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def put(self, target: dict[str, Any], data: bytes,
                  **headers: str) -> httpx.Response:
        return await self.http.request(target["method"], target["url"], content=data,
                                       headers={**target["headers"], **headers})

    async def complete(self, target: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            f"/api/rooms/{self.room['room']}/uploads/{target['upload_id']}/complete",
            headers=self._auth())

    def raw_key(self, target: dict[str, Any]) -> str:
        return upload_key(self.room["room"], target["upload_id"])

    async def raw(self, target: dict[str, Any]) -> bytes | None:
        """What the store holds at the upload's raw key (None: nothing; b"" for the
        marker of an ended upload, checked to be that marker)."""
        key = self.raw_key(target)
        info = await self.blobs.head(key)
        if info is None:
            return None
        data = await self.blobs.get(key)
        if not data:
            assert info.content_type == SPENT_MARKER_TYPE
        return data

    async def keys(self) -> list[str]:
        return [*await self.blobs.list_prefix(f"rooms/{self.room['room']}/"),
                *await self.blobs.list_prefix(f"uploads/{self.room['room']}/")]


@contextlib.asynccontextmanager
async def _uploads(settings: Settings) -> AsyncIterator[Uploads]:
    async with run_server(settings) as srv, \
            httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
        r = await http.post("/api/rooms", json={"title": "uploads"})
        assert r.status_code == 201, r.text
        yield Uploads(srv, http, dict(r.json()))


@pytest.fixture
async def disk(settings: Settings) -> AsyncIterator[Uploads]:
    """The real server with blobs on disk: the PUT goes to its own upload endpoint."""
    async with _uploads(settings) as uploads:
        yield uploads


@pytest.fixture
async def s3(settings: Settings, seaweed: SeaweedS3) -> AsyncIterator[Uploads]:  # noqa: F811
    """The real server with blobs in SeaweedFS: the PUT goes straight to the bucket."""
    async with _uploads(settings.replace(
            s3_bucket=seaweed.bucket, s3_endpoint_url=seaweed.endpoint_url,
            s3_region=seaweed.region, s3_path_style=True,
            s3_access_key_id=seaweed.access_key,
            s3_secret_access_key=Secret(seaweed.secret_key))) as uploads:
        yield uploads


def spent(r: httpx.Response) -> bool:
    """The disk endpoint's refusal of a used URL: 409 with a problem saying so."""
    return (r.status_code == 409 and r.headers["content-type"] == PROBLEM
            and r.json()["type"] == "about:blank#upload_url_spent"
            and "already been used" in r.json()["detail"])


# --------------------------------------------------------------------------- blobs on disk


async def test_a_second_put_to_an_upload_url_is_refused(disk: Uploads) -> None:
    """Attack: upload an image, then PUT other bytes of the same type and length to the
    same URL before it is completed, to swap what gets verified. Refused with a problem;
    the store keeps the first body, and completing processes that one."""
    first = png_bytes(seed=1)
    target = await disk.create(len(first))
    assert (await disk.put(target, first)).status_code == 200
    again = await disk.put(target, other_bytes(first))
    assert spent(again), again.text
    assert await disk.raw(target) == first
    done = await disk.complete(target)
    assert done.status_code == 200, done.text
    assert (done.json()["image"]["width"], done.json()["image"]["height"]) == (80, 60)


async def test_a_put_after_the_upload_was_completed_is_refused(disk: Uploads) -> None:
    """Attack: after the upload was verified and completed, PUT to its still-valid URL
    again to park unchecked bytes in the store. Refused; the raw key holds only the empty
    marker of the ended upload, and a second completion is refused too."""
    data = png_bytes(seed=2)
    target = await disk.create(len(data))
    assert (await disk.put(target, data)).status_code == 200
    assert (await disk.complete(target)).status_code == 200
    stored = await disk.keys()
    again = await disk.put(target, other_bytes(data))
    assert spent(again), again.text
    assert await disk.raw(target) == b""
    assert await disk.keys() == stored
    assert (await disk.complete(target)).status_code == 409


async def test_an_upload_url_refused_for_its_type_is_spent(disk: Uploads) -> None:
    """Attack: PUT with the wrong Content-Type (refused), then try the same URL again
    with the right one. The first refusal spent the URL: nothing is stored, and the
    upload cannot be completed."""
    data = png_bytes(seed=3)
    target = await disk.create(len(data))
    wrong = await disk.put(target, data, **{"Content-Type": "image/gif"})
    assert wrong.status_code == 415 and wrong.headers["content-type"] == PROBLEM
    again = await disk.put(target, data)
    assert spent(again), again.text
    assert await disk.raw(target) is None and await disk.keys() == []
    done = await disk.complete(target)
    assert done.status_code == 409 and done.json()["type"] == "about:blank#upload_refused"


async def test_an_upload_url_refused_for_its_size_is_spent(disk: Uploads) -> None:
    """Attack: PUT a body larger than the signed size (refused), then the right body to
    the same URL. The first refusal spent the URL: nothing is stored."""
    data = png_bytes(seed=4)
    target = await disk.create(len(data))
    large = await disk.put(target, data + b"\0" * 1000)
    assert large.status_code == 400 and large.json()["type"] == "about:blank#wrong_size"
    again = await disk.put(target, data)
    assert spent(again), again.text
    assert await disk.raw(target) is None and await disk.keys() == []


async def test_racing_puts_to_one_upload_url_store_one_body(disk: Uploads) -> None:
    """Attack: send many PUTs of different bodies to one URL at the same moment, hoping
    two get in (one verified, another swapped in after). Exactly one is stored; every
    other is refused."""
    first = png_bytes(seed=5)
    bodies = [first[:-1] + bytes([n]) for n in range(8)]
    target = await disk.create(len(first))
    answers = await asyncio.gather(*(disk.put(target, b) for b in bodies))
    won = [b for b, r in zip(bodies, answers, strict=True) if r.status_code == 200]
    assert len(won) == 1, [r.status_code for r in answers]
    assert all(spent(r) for r in answers if r.status_code != 200)
    assert await disk.raw(target) == won[0]


# --------------------------------------------------------------------------- S3 (SeaweedFS)


async def test_a_second_put_to_an_s3_upload_url_is_refused(s3: Uploads) -> None:
    """Attack: with blobs in S3 (the PUT goes to the bucket, not to us, and a presigned
    URL cannot be revoked), PUT other bytes to the URL after the first upload, again
    after it was completed, and once without the signed ``If-None-Match`` header. The
    bucket refuses each; it keeps the first body until completion, then only the empty
    marker, and the second completion is refused."""
    first = png_bytes(seed=6)
    target = await s3.create(len(first))
    assert target["url"].startswith(s3.server.settings.s3_endpoint_url + "/")
    assert (await s3.put(target, first)).status_code == 200
    before = await s3.put(target, other_bytes(first))
    assert before.status_code == 412, before.text
    assert await s3.raw(target) == first
    done = await s3.complete(target)
    assert done.status_code == 200, done.text
    stored = await s3.keys()
    after = await s3.put(target, other_bytes(first))
    assert after.status_code == 412, after.text
    headers = {k: v for k, v in target["headers"].items() if k.lower() != "if-none-match"}
    async with httpx.AsyncClient() as outside:
        unconditional = await outside.put(target["url"], content=other_bytes(first),
                                          headers=headers)
    assert unconditional.status_code == 403, unconditional.text
    assert await s3.raw(target) == b""
    assert await s3.keys() == stored
    assert (await s3.complete(target)).status_code == 409
