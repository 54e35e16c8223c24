"""Blobs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, SeaweedFS).

boto3 is synchronous; every call runs in ``asyncio.to_thread`` on one shared client
(boto3 clients are thread-safe). Uploads use a presigned PUT whose signature covers
Content-Type and Content-Length: R2 has no presigned POST, and a signed header is the
one way every S3-compatible store enforces both type and exact size. It signs
``If-None-Match: *`` too, so the store accepts the PUT only while nothing is stored at the
key: a presigned URL cannot be revoked, but once its body (or the marker the server puts in
its place when the upload is completed) is there, every later PUT of it is refused (412).
Reads for browsers go through presigned GETs, so image bytes never pass through our
servers. A GET is signed for a *window*: every request in the same window of ``expires``
seconds gets the very same URL (signed as of the window's start, valid for two windows, so
at least one from any moment in it), and the object comes back with
``Cache-Control: private, max-age=31536000, immutable`` (``response-cache-control`` is part
of what is signed). A browser therefore reuses both the redirect and the image all window
long, instead of fetching every image again on every view, and nothing but the holder of
the URL can read it. botocore takes the signing time from the clock only, so the window's
start is handed to it through a context variable read by the one function it asks
(:func:`_signing_time`); every other signature it makes still uses the clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import boto3  # type: ignore[import-untyped]
import botocore.auth  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from ..settings import Settings
from .base import BlobInfo, UploadTarget, check_key, check_prefix, signing_window
from .errors import BlobError, BlobErrorKind

log = logging.getLogger(__name__)

T = TypeVar("T")

_MISSING_OBJECT = {"NoSuchKey", "404", "NotFound"}
_MISSING_BUCKET = {"NoSuchBucket"}
# The object is immutable (its key is a content hash): a browser may keep what it read
# under one URL; a shared cache may not (the URL is the capability).
GET_CACHE_CONTROL: Final = "private, max-age=31536000, immutable"

_SIGNING_AT: ContextVar[dt.datetime | None] = ContextVar("arbor_s3_signing_at", default=None)
_clock = botocore.auth.get_current_datetime


def _signing_time(remove_tzinfo: bool = True) -> dt.datetime:
    """botocore's clock, except inside :meth:`S3BlobStore.presign_get`'s signing call."""
    fixed = _SIGNING_AT.get()
    if fixed is None:
        now: dt.datetime = _clock(remove_tzinfo)
        return now
    return fixed.replace(tzinfo=None) if remove_tzinfo else fixed


botocore.auth.get_current_datetime = _signing_time


_NOT_AUTHORIZED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                   "ExpiredToken", "InvalidToken", "AllAccessDisabled"}


def _translate(exc: Exception, key: str | None) -> BlobError:
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_BUCKET:
            return BlobError(BlobErrorKind.BUCKET_MISSING, "the bucket does not exist", key=key)
        if code in _MISSING_OBJECT:
            return BlobError(BlobErrorKind.OBJECT_MISSING, "no such object", key=key)
        if code in _NOT_AUTHORIZED:
            return BlobError(BlobErrorKind.NOT_AUTHORIZED,
                             f"the object store refused our credentials ({code})", key=key)
        return BlobError(BlobErrorKind.CONNECTION, f"the object store answered {code}", key=key)
    return BlobError(BlobErrorKind.CONNECTION, f"cannot reach the object store: {exc}", key=key)


class S3BlobStore:
    def __init__(self, bucket: str, *, endpoint_url: str | None = None,
                 region: str = "us-east-1", access_key_id: str | None = None,
                 secret_access_key: str | None = None, path_style: bool = False) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "virtual"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
            # Third-party S3s (R2, older MinIO) reject the newer default checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None, config=config)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        return cls(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
                   region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                   secret_access_key=settings.s3_secret_access_key.reveal(),
                   path_style=settings.s3_path_style)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    async def _call(self, key: str | None, fn: Callable[..., T], /, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _translate(exc, key) from exc

    async def put(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        check_key(key)
        out = await self._call(key, self._client.put_object, Bucket=self.bucket, Key=key,
                               Body=data, ContentType=content_type)
        return BlobInfo(len(data), content_type, str(out.get("ETag", "")).strip('"'))

    async def get(self, key: str) -> bytes:
        check_key(key)

        def read() -> bytes:
            out = self._client.get_object(Bucket=self.bucket, Key=key)
            with out["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._call(key, read)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        check_key(key)
        if start < 0 or end < start:
            raise ValueError(f"bad range [{start}, {end})")
        if end == start:
            if await self.head(key) is None:
                raise BlobError(BlobErrorKind.OBJECT_MISSING, "no such object", key=key)
            return b""

        def read() -> bytes:
            try:
                out = self._client.get_object(Bucket=self.bucket, Key=key,
                                              Range=f"bytes={start}-{end - 1}")
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # start at or past the end: nothing, like a slice
                raise
            with out["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._call(key, read)

    async def head(self, key: str) -> BlobInfo | None:
        check_key(key)
        try:
            out = await self._call(key, self._client.head_object, Bucket=self.bucket, Key=key)
        except BlobError as exc:
            if exc.kind is BlobErrorKind.OBJECT_MISSING:
                return None
            raise
        return BlobInfo(int(out["ContentLength"]),
                        str(out.get("ContentType") or "application/octet-stream"),
                        str(out.get("ETag", "")).strip('"'))

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call(key, self._client.delete_object, Bucket=self.bucket, Key=key)

    async def list_prefix(self, prefix: str) -> list[str]:
        check_prefix(prefix)

        def walk() -> list[str]:
            keys: list[str] = []
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                keys.extend(str(item["Key"]) for item in page.get("Contents", []))
            return sorted(keys)

        return await self._call(prefix, walk)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_prefix(prefix)

        def remove() -> None:
            for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                batch = [{"Key": k} for k in keys[i:i + 1000]]
                out = self._client.delete_objects(Bucket=self.bucket,
                                                  Delete={"Objects": batch, "Quiet": True})
                errors = out.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise BlobError(BlobErrorKind.CONNECTION,
                                    f"{len(errors)} objects were not deleted "
                                    f"({first.get('Code')}: {first.get('Message')})",
                                    key=str(first.get("Key")))

        await self._call(prefix, remove)
        return len(keys)

    async def presign_put(self, key: str, content_type: str, size: int,
                          expires: float) -> UploadTarget:
        check_key(key)
        url = await self._call(
            key, self._client.generate_presigned_url, ClientMethod="put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type,
                    "ContentLength": size, "IfNoneMatch": "*"},
            ExpiresIn=max(1, int(expires)), HttpMethod="PUT")
        return UploadTarget(str(url), "PUT", {"Content-Type": content_type,
                                              "If-None-Match": "*"})

    async def presign_get(self, key: str, expires: float) -> str | None:
        """The same URL for every call in one window of ``expires`` seconds (see the module
        docstring), valid until the next window ends."""
        check_key(key)
        start, lifetime = signing_window(expires)

        def sign() -> str:
            token = _SIGNING_AT.set(dt.datetime.fromtimestamp(start, dt.UTC))
            try:
                return str(self._client.generate_presigned_url(
                    ClientMethod="get_object",
                    Params={"Bucket": self.bucket, "Key": key,
                            "ResponseCacheControl": GET_CACHE_CONTROL},
                    ExpiresIn=lifetime))
            finally:
                _SIGNING_AT.reset(token)

        return await self._call(key, sign)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
