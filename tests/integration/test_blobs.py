"""One contract for every BlobStore: DiskBlobStore (behind the real Arbor server, whose
``PUT /api/blobs/upload`` checks its signed URLs) and S3BlobStore (against a real
SeaweedFS ``weed mini``). Presigned uploads are driven with a real HTTP client."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from sync.blobs import BlobError, BlobErrorKind, BlobStore, DiskBlobStore, S3BlobStore
from tests.fakes.seaweed import SeaweedS3, seaweed  # noqa: F401 (a session fixture)
from tests.yclient import eventually

PNG = "image/png"


@dataclass
class Backend:
    store: BlobStore
    base_url: str  # what a relative upload URL is relative to
    prefix: str  # this test's corner of the store

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def absolute(self, url: str) -> str:
        return urljoin(self.base_url + "/", url)


@pytest.fixture(params=["disk", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """A store and this test's own key prefix. (A plain fixture: it pulls in the async
    ``server`` fixture only for the disk store, which must not happen inside a loop.)"""
    prefix = f"t{secrets.token_hex(4)}"
    if request.param == "disk":
        server = request.getfixturevalue("server")
        store = server.services.blobs
        assert isinstance(store, DiskBlobStore)
        return Backend(store, server.base_url, prefix)
    s3: SeaweedS3 = request.getfixturevalue("seaweed")
    store = S3BlobStore(s3.bucket, endpoint_url=s3.endpoint_url, region=s3.region,
                        access_key_id=s3.access_key, secret_access_key=s3.secret_key,
                        path_style=True)
    return Backend(store, s3.endpoint_url, prefix)


# --- objects -----------------------------------------------------------------------------

async def test_put_get_head_delete(backend: Backend) -> None:
    store, key = backend.store, backend.key("a/one.bin")
    info = await store.put(key, b"hello blob", "application/x-test")
    assert info.size == 10 and info.etag
    assert await store.get(key) == b"hello blob"
    head = await store.head(key)
    assert head is not None
    assert (head.size, head.content_type, head.etag) == (10, "application/x-test", info.etag)
    await store.delete(key)
    assert await store.head(key) is None


async def test_overwrite_replaces_the_object(backend: Backend) -> None:
    store, key = backend.store, backend.key("same")
    first = await store.put(key, b"first", "text/plain")
    second = await store.put(key, b"second!", "image/webp")
    assert await store.get(key) == b"second!"
    head = await store.head(key)
    assert head is not None and head.size == 7 and head.content_type == "image/webp"
    assert second.etag != first.etag


async def test_missing_object_get_raises_object_missing(backend: Backend) -> None:
    with pytest.raises(BlobError) as info:
        await backend.store.get(backend.key("nope"))
    assert info.value.kind is BlobErrorKind.OBJECT_MISSING
    with pytest.raises(BlobError) as info:
        await backend.store.get_range(backend.key("nope"), 0, 4)
    assert info.value.kind is BlobErrorKind.OBJECT_MISSING


async def test_missing_object_head_is_none_and_delete_is_quiet(backend: Backend) -> None:
    assert await backend.store.head(backend.key("nope")) is None
    await backend.store.delete(backend.key("nope"))


async def test_get_range_returns_the_slice(backend: Backend) -> None:
    store, key = backend.store, backend.key("range")
    data = bytes(range(256)) * 4
    await store.put(key, data, "application/octet-stream")
    assert await store.get_range(key, 0, 10) == data[0:10]
    assert await store.get_range(key, 100, 356) == data[100:356]
    assert await store.get_range(key, 1000, 5000) == data[1000:]  # cut at the end
    assert await store.get_range(key, 5000, 6000) == b""
    assert await store.get_range(key, 7, 7) == b""


async def test_list_and_delete_prefix(backend: Backend) -> None:
    store = backend.store
    names = ["r/a/1", "r/a/2", "r/ab", "r/b/1", "other"]
    for name in names:
        await store.put(backend.key(name), name.encode(), "text/plain")
    assert await store.list_prefix(backend.key("r/a/")) == [backend.key("r/a/1"),
                                                             backend.key("r/a/2")]
    assert await store.list_prefix(backend.key("r/a")) == [
        backend.key(n) for n in ("r/a/1", "r/a/2", "r/ab")]
    assert await store.list_prefix(backend.key("zzz/")) == []
    assert await store.delete_prefix(backend.key("r/")) == 4
    assert await store.list_prefix(backend.prefix + "/") == [backend.key("other")]


@pytest.mark.parametrize("bad", ["../escape", "/absolute", "a//b", "a/../b", ".hidden",
                                 "a/.meta/x", "", "a/b/", "spaces not allowed", "a\\b",
                                 "a/b\n"])
async def test_invalid_key_is_refused(backend: Backend, bad: str) -> None:
    with pytest.raises(BlobError) as info:
        await backend.store.put(bad, b"x", "text/plain")
    assert info.value.kind is BlobErrorKind.INVALID_KEY
    with pytest.raises(BlobError):
        await backend.store.presign_put(bad, PNG, 1, 60)


async def test_presign_get_serves_the_object_or_says_the_server_must(backend: Backend) -> None:
    key = backend.key("served.webp")
    await backend.store.put(key, b"RIFF....WEBP", "image/webp")
    url = await backend.store.presign_get(key, 60)
    if isinstance(backend.store, DiskBlobStore):
        assert url is None
        return
    assert url is not None
    async with httpx.AsyncClient() as http:
        r = await http.get(url)
    assert r.status_code == 200 and r.content == b"RIFF....WEBP"


# --- presigned uploads -------------------------------------------------------------------

async def presigned_put(backend: Backend, key: str, body: bytes, *, content_type: str = PNG,
                        size: int | None = None, expires: float = 60,
                        tamper: str | None = None,
                        send_type: str | None = None) -> httpx.Response:
    target = await backend.store.presign_put(key, content_type,
                                             len(body) if size is None else size, expires)
    assert target.method == "PUT"
    assert target.headers["Content-Type"] == content_type
    url = backend.absolute(target.url)
    if tamper is not None:
        url = tamper_url(url, tamper)
    headers = dict(target.headers)
    if send_type is not None:
        headers["Content-Type"] = send_type
    async with httpx.AsyncClient() as http:
        return await http.put(url, content=body, headers=headers)


def tamper_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if what == "signature":
        name = "X-Amz-Signature" if "X-Amz-Signature" in query else "sig"
        value = query[name]
        query[name] = ("A" if value[0] != "A" else "B") + value[1:]
    elif what == "key":
        if "key" in query:
            query["key"] += "x"
        else:
            parts = parts._replace(path=parts.path + "x")
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_presigned_put_with_the_right_type_and_length_is_stored(backend: Backend) -> None:
    key = backend.key("uploads/ok")
    body = b"\x89PNG pretend" * 100
    r = await presigned_put(backend, key, body)
    assert r.status_code == 200, r.text
    assert await backend.store.get(key) == body
    head = await backend.store.head(key)
    assert head is not None and head.content_type == PNG and head.size == len(body)


async def test_presigned_put_after_expiry_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/expired")
    target = await backend.store.presign_put(key, PNG, 5, 1)
    deadline = time.time() + 2.5
    await eventually(lambda: time.time() > deadline, timeout=5, interval=0.1,
                     message="the URL to expire")
    async with httpx.AsyncClient() as http:
        r = await http.put(backend.absolute(target.url), content=b"12345",
                           headers=dict(target.headers))
    assert r.status_code == 403, r.text
    assert await backend.store.head(key) is None


async def test_presigned_put_with_another_content_type_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/wrong-type")
    r = await presigned_put(backend, key, b"12345", send_type="text/html")
    assert 400 <= r.status_code < 500, r.text
    assert await backend.store.head(key) is None


async def test_presigned_put_with_a_body_larger_than_declared_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/too-long")
    r = await presigned_put(backend, key, b"x" * 1001, size=1000)
    assert 400 <= r.status_code < 500, r.text
    assert await backend.store.head(key) is None


async def test_presigned_put_with_a_body_smaller_than_declared_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/too-short")
    r = await presigned_put(backend, key, b"x" * 999, size=1000)
    assert 400 <= r.status_code < 500, r.text
    assert await backend.store.head(key) is None


async def test_presigned_put_with_a_tampered_signature_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/tampered")
    r = await presigned_put(backend, key, b"12345", tamper="signature")
    assert r.status_code == 403, r.text
    assert await backend.store.head(key) is None


async def test_presigned_put_to_another_key_is_refused(backend: Backend) -> None:
    key = backend.key("uploads/moved")
    r = await presigned_put(backend, key, b"12345", tamper="key")
    assert r.status_code == 403, r.text
    assert await backend.store.list_prefix(backend.key("uploads/")) == []


async def test_a_second_presigned_put_is_refused_and_keeps_the_first_body(
        backend: Backend) -> None:
    key = backend.key("uploads/once")
    target = await backend.store.presign_put(key, PNG, 5, 60)
    async with httpx.AsyncClient() as http:
        first = await http.put(backend.absolute(target.url), content=b"first",
                               headers=dict(target.headers))
        second = await http.put(backend.absolute(target.url), content=b"other",
                                headers=dict(target.headers))
    assert first.status_code == 200, first.text
    assert second.status_code in (409, 412), second.text  # disk endpoint / S3
    assert await backend.store.get(key) == b"first"
