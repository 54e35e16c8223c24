"""Blobs as files under a local folder (``arbor dev``, single-machine deployments).

Layout under ``root``: each object at ``root/<key>``, its content type and ETag in
``root/.meta/<key>.json``, temporary files in ``root/.tmp``. A write goes to a temporary
file, is fsynced, and is renamed over the target, so a reader sees the old object or the
new one, never half of one. Keys cannot name the dot folders (see ``check_key``).

The browser uploads with a PUT to our own server (``/api/blobs/upload``) whose query
carries the key, content type, exact size, expiry and an HMAC-SHA256 signature of all
four; :meth:`DiskBlobStore.verify_upload` checks them before a byte is stored. This is
the same contract as a presigned S3 PUT that signs Content-Type and Content-Length. Like
S3's signed ``If-None-Match: *``, :meth:`DiskBlobStore.put_upload` stores the body only
while nothing is stored at the key, so a URL is good for one body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode

from .base import BlobInfo, UploadTarget, check_key, check_prefix
from .errors import BlobError, BlobErrorKind, UploadRefusal, UploadRefusedError

UPLOAD_PATH = "/api/blobs/upload"
SPENT_DETAIL = "this upload URL has already been used; ask for a new one"
SECRET_FILE = ".secret"
DEFAULT_TYPE = "application/octet-stream"


@dataclasses.dataclass(frozen=True, slots=True)
class UploadGrant:
    """What a verified upload URL allows: one body of ``size`` bytes at ``key``."""

    key: str
    content_type: str
    size: int


def load_or_create_secret(path: Path) -> bytes:
    """The signing key kept in ``path``; created (random, mode 0600) on first use. Two
    processes starting at once agree: the file appears atomically, the loser reads it."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


def _signature(secret: bytes, key: str, content_type: str, size: int, expires: int) -> str:
    message = f"PUT\n{key}\n{content_type}\n{size}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class DiskBlobStore:
    def __init__(self, root: Path, secret: bytes, base_url: str = "") -> None:
        if not secret:
            raise ValueError("DiskBlobStore needs a non-empty signing secret")
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._meta = self.root / ".meta"
        self._tmp = self.root / ".tmp"

    def __repr__(self) -> str:
        return f"DiskBlobStore({str(self.root)!r})"

    # --- paths --------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{check_key(key)}.json"

    def _write_tmp(self, target: Path, data: bytes) -> Path:
        """``data`` in a new fsynced temporary file, once ``target``'s folder exists."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise BlobError(BlobErrorKind.INVALID_KEY,
                            "the key lies under an existing object") from None
        tmp = self._tmp / secrets.token_hex(8)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return tmp

    def _write_atomic(self, target: Path, data: bytes) -> None:
        tmp = self._write_tmp(target, data)
        try:
            os.replace(tmp, target)
        except IsADirectoryError:
            raise BlobError(BlobErrorKind.INVALID_KEY,
                            "the key names a folder of other objects") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # --- BlobStore ----------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        path = self._path(key)
        info = BlobInfo(len(data), content_type, hashlib.sha256(data).hexdigest()[:32])

        def write() -> None:
            meta = {"content_type": info.content_type, "etag": info.etag}
            self._write_atomic(self._meta_path(key), json.dumps(meta).encode())
            self._write_atomic(path, data)

        await asyncio.to_thread(write)
        return info

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise BlobError(BlobErrorKind.OBJECT_MISSING, "no such object", key=key) from None

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        path = self._path(key)
        if start < 0 or end < start:
            raise ValueError(f"bad range [{start}, {end})")

        def read() -> bytes:
            with open(path, "rb") as f:
                f.seek(start)
                return f.read(end - start)

        try:
            return await asyncio.to_thread(read)
        except (FileNotFoundError, IsADirectoryError):
            raise BlobError(BlobErrorKind.OBJECT_MISSING, "no such object", key=key) from None

    async def head(self, key: str) -> BlobInfo | None:
        path, meta_path = self._path(key), self._meta_path(key)

        def stat() -> BlobInfo | None:
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            if not path.is_file():
                return None
            try:
                meta = json.loads(meta_path.read_bytes())
            except (FileNotFoundError, ValueError):
                meta = {"content_type": DEFAULT_TYPE, "etag": f"{st.st_size:x}-{st.st_mtime_ns:x}"}
            return BlobInfo(st.st_size, str(meta["content_type"]), str(meta["etag"]))

        return await asyncio.to_thread(stat)

    async def delete(self, key: str) -> None:
        path, meta_path = self._path(key), self._meta_path(key)

        def remove() -> None:
            for p in (path, meta_path):
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    p.unlink()

        await asyncio.to_thread(remove)

    async def list_prefix(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[str]:
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = self.root / folder if folder else self.root
        keys = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_prefix(prefix)
        for key in keys:
            await self.delete(key)
        return len(keys)

    async def presign_put(self, key: str, content_type: str, size: int,
                          expires: float) -> UploadTarget:
        check_key(key)
        deadline = int(time.time() + expires)
        query = urlencode({
            "key": key, "type": content_type, "size": str(size), "expires": str(deadline),
            "sig": _signature(self._secret, key, content_type, size, deadline),
        })
        return UploadTarget(f"{self.base_url}{UPLOAD_PATH}?{query}", "PUT",
                            {"Content-Type": content_type})

    async def presign_get(self, key: str, expires: float) -> str | None:
        check_key(key)
        return None

    async def close(self) -> None:
        return None

    # --- the upload endpoint ---------------------------------------------------------------

    async def put_upload(self, grant: UploadGrant, data: bytes) -> BlobInfo:
        """Store the body of a verified upload at ``grant.key`` only if nothing is stored
        there: of two racing PUTs one wins, and a PUT to a key that already holds an
        object (the upload, or the marker that replaced it) is refused with
        UploadRefusedError(SPENT) and changes nothing."""
        path, key = self._path(grant.key), grant.key
        info = BlobInfo(len(data), grant.content_type, hashlib.sha256(data).hexdigest()[:32])

        def write() -> None:
            tmp = self._write_tmp(path, data)
            try:
                os.link(tmp, path)  # fails if the key exists: no check-then-write race
            except FileExistsError:
                raise UploadRefusedError(UploadRefusal.SPENT, SPENT_DETAIL, key=key) from None
            except IsADirectoryError:
                raise BlobError(BlobErrorKind.INVALID_KEY,
                                "the key names a folder of other objects") from None
            finally:
                tmp.unlink()
            meta = {"content_type": info.content_type, "etag": info.etag}
            self._write_atomic(self._meta_path(key), json.dumps(meta).encode())

        await asyncio.to_thread(write)
        return info


    def verify_upload(self, params: Mapping[str, str], content_type_header: str | None,
                      content_length: int | None, *, now: float | None = None) -> UploadGrant:
        """What the signed URL with query ``params`` allows, if the request matches it;
        else UploadRefusedError saying what was wrong (tampered, expired, type, size)."""
        try:
            key, content_type = params["key"], params["type"]
            size, deadline, sig = int(params["size"]), int(params["expires"]), params["sig"]
        except (KeyError, ValueError):
            raise UploadRefusedError(UploadRefusal.BAD_SIGNATURE,
                                     "the upload URL is incomplete") from None
        expected = _signature(self._secret, key, content_type, size, deadline)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise UploadRefusedError(UploadRefusal.BAD_SIGNATURE,
                                     "the upload URL's signature does not match", key=key)
        check_key(key)
        if (time.time() if now is None else now) > deadline:
            raise UploadRefusedError(UploadRefusal.EXPIRED,
                                     "the upload URL has expired; ask for a new one", key=key)
        if (content_type_header or "").strip() != content_type:
            raise UploadRefusedError(
                UploadRefusal.WRONG_TYPE,
                f"this upload URL accepts Content-Type {content_type} only", key=key)
        if content_length != size:
            raise UploadRefusedError(
                UploadRefusal.WRONG_SIZE,
                f"this upload URL accepts a body of exactly {size} bytes", key=key)
        return UploadGrant(key, content_type, size)
