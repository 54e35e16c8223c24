"""Image uploads: hand out a presigned target, receive disk uploads, verify and convert.

1. ``POST /api/rooms/{room}/uploads`` (edit) records a pending upload and answers where
   to send the bytes: a presigned S3 PUT, or our own ``PUT /api/blobs/upload`` signed
   the same way when blobs are on disk. The signature fixes the content type and the
   exact length.
2. The browser sends the bytes there, to ``uploads/{room}/{upload_id}``: a key that is
   never served to anyone. The URL takes one body: a PUT to a key that already holds one
   is refused (409 ``upload_url_spent`` here, 412 from S3), and on disk a PUT refused for
   its type or size ends the upload as rejected, so the URL is spent by that too.
3. ``POST /api/rooms/{room}/uploads/{id}/complete`` (edit) claims the upload once, runs
   :func:`sync.images.process_image` on what arrived, stores the clean WebP renditions
   under content-addressed keys, replaces the raw object with an empty marker (so the
   still-valid URL cannot put anything there again; see ``sync/store/uploads.py``), and
   (given a ``block_id``) sets that block's ``image`` in the room's document.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from pycrdt import Doc, Map
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync import doc_schema as schema
from sync.blobs import (
    BlobError,
    BlobErrorKind,
    DiskBlobStore,
    UploadGrant,
    UploadRefusal,
    UploadRefusedError,
    upload_key,
    upload_of,
)
from sync.blobs.disk import SPENT_DETAIL
from sync.errors import ArborError
from sync.images import (
    ACCEPTED_TYPES,
    THUMB_SIZES,
    ImageRejectedError,
    ImageRejection,
    image_key,
    process_image,
)
from sync.renditions import block_image, store_renditions
from sync.store import uploads as repo

from ..capabilities import Role
from ..problems import problem
from .rooms import authorize, json_body

if TYPE_CHECKING:
    from ..app import Services

log = logging.getLogger(__name__)

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
BLOCK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_FILENAME = 255

REJECTION_STATUS = {
    ImageRejection.EMPTY: 422,
    ImageRejection.TRUNCATED: 422,
    ImageRejection.TOO_MANY_PIXELS: 422,
    ImageRejection.TOO_LARGE: 413,
    ImageRejection.NOT_AN_IMAGE: 415,
    ImageRejection.UNSUPPORTED_TYPE: 415,
}
REFUSAL_STATUS = {
    UploadRefusal.BAD_SIGNATURE: 403,
    UploadRefusal.EXPIRED: 403,
    UploadRefusal.WRONG_TYPE: 415,
    UploadRefusal.WRONG_SIZE: 400,
    UploadRefusal.SPENT: 409,
}
# Refusals that prove the request came with the real URL (its signature held): they
# spend it. A forged or expired URL spends nothing.
SPENDING = frozenset({UploadRefusal.WRONG_TYPE, UploadRefusal.WRONG_SIZE})


def blob_problem(exc: BlobError) -> Response:
    """A blob store failure as an HTTP problem (the store's detail is logged, not shown)."""
    log.error("blob store error (%s) for %s: %s", exc.kind.value, exc.key, exc.detail)
    if exc.kind is BlobErrorKind.INVALID_KEY:
        return problem(404, "no such image", kind="not_found")
    if exc.kind is BlobErrorKind.OBJECT_MISSING:
        return problem(404, "no such image", kind="not_found")
    return problem(503, "image storage is unavailable; try again shortly",
                   kind="blob_store_unavailable", headers={"Retry-After": "5"})


def _base(request: Request, services: Services) -> str:
    return services.settings.public_url or str(request.base_url).rstrip("/")


async def create_upload(request: Request) -> Response:
    """``POST /api/rooms/{room}/uploads`` {filename, content_type, size, block_id?}."""
    services: Services = request.app.state.services
    settings = services.settings
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    body = await json_body(request)
    filename, content_type = body.get("filename", ""), body.get("content_type")
    size, block_id = body.get("size"), body.get("block_id")
    if not isinstance(filename, str) or len(filename) > MAX_FILENAME:
        raise ValueError(f"filename must be a string of at most {MAX_FILENAME} characters")
    if not isinstance(content_type, str):
        raise ValueError("content_type is required")
    if content_type.lower() not in ACCEPTED_TYPES:
        return problem(415, f"{content_type} files cannot be uploaded; use PNG, JPEG, WebP, "
                            "GIF or AVIF", kind="unsupported_type")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError("size must be the file's length in bytes, a positive integer")
    if size > settings.max_upload_bytes:
        return problem(413, f"the file is {size} bytes; the limit is "
                            f"{settings.max_upload_bytes}", kind="too_large",
                       limit=settings.max_upload_bytes)
    if block_id is not None and (not isinstance(block_id, str) or not BLOCK_ID.match(block_id)):
        raise ValueError("block_id must be a block id (letters, digits, _ and -)")

    # Opportunistic housekeeping: each new upload clears a few abandoned ones.
    await repo.cleanup_expired_uploads(services.store.pool, services.blobs)

    upload_id = uuid.uuid4().hex
    key = upload_key(room_id, upload_id)
    record = await repo.create_upload(
        services.store.pool, upload_id=upload_id, room_id=room_id, key=key, filename=filename,
        content_type=content_type.lower(), size=size, block_id=block_id,
        ttl=settings.upload_ttl)
    try:
        target = await services.blobs.presign_put(key, record.content_type, size,
                                                  settings.upload_ttl)
    except BlobError as exc:
        return blob_problem(exc)
    return JSONResponse({
        "upload_id": upload_id,
        "url": urljoin(_base(request, services) + "/", target.url),
        "method": target.method,
        "headers": dict(target.headers),
        "expires_at": record.expires_at.isoformat(),
    }, status_code=201)


async def receive_upload(request: Request) -> Response:
    """``PUT /api/blobs/upload?key&type&size&expires&sig``: the disk store's presigned PUT."""
    services: Services = request.app.state.services
    blobs = services.blobs
    if not isinstance(blobs, DiskBlobStore):
        return problem(404, "uploads go straight to the object store", kind="not_found")
    raw_length = request.headers.get("content-length")
    if raw_length is None or not raw_length.isdigit():
        return problem(411, "the upload must state its Content-Length", kind="length_required")
    try:
        try:
            grant = blobs.verify_upload(request.query_params,
                                        request.headers.get("content-type"), int(raw_length))
        except UploadRefusedError as exc:
            if exc.reason in SPENDING and exc.key is not None:
                # The real URL, used wrongly: spent by this, unless it already was.
                if await _spent(services, blobs, exc.key):
                    raise _spent_refusal(exc.key) from None
                await _spend(services, exc.key)
            raise
        if await _spent(services, blobs, grant.key):
            raise _spent_refusal(grant.key)
        body = await _body(request, grant)
        if isinstance(body, UploadRefusedError):
            await _spend(services, grant.key)
            raise body
        info = await blobs.put_upload(grant, body)
    except UploadRefusedError as exc:
        return problem(REFUSAL_STATUS[exc.reason], exc.detail, kind=exc.reason.value)
    except BlobError as exc:
        return blob_problem(exc)
    return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})


async def _body(request: Request, grant: UploadGrant) -> bytes | UploadRefusedError:
    """The request's body if it is exactly the signed length, else the refusal."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > grant.size:
            return UploadRefusedError(UploadRefusal.WRONG_SIZE,
                                      f"the body is longer than the signed {grant.size} bytes",
                                      key=grant.key)
    if len(body) != grant.size:
        return UploadRefusedError(UploadRefusal.WRONG_SIZE,
                                  f"the body is shorter than the signed {grant.size} bytes",
                                  key=grant.key)
    return bytes(body)


def _spent_refusal(key: str) -> UploadRefusedError:
    return UploadRefusedError(UploadRefusal.SPENT, SPENT_DETAIL, key=key)


async def _spent(services: Services, blobs: DiskBlobStore, key: str) -> bool:
    """Whether the URL for ``key`` was used already: something is stored at the key, or
    its upload is no longer pending (completed, rejected, or refused at an earlier PUT)."""
    if await blobs.head(key) is not None:
        return True
    owner = upload_of(key)
    if owner is None:  # not an upload's key (only the store's own tests sign those)
        return False
    record = await repo.get_upload(services.store.pool, owner[1])
    if record is None or record.room_id != owner[0]:
        return True
    return record.status is not repo.UploadStatus.PENDING


async def _spend(services: Services, key: str) -> None:
    """A PUT with the real URL was refused: end its upload, so the URL takes no other."""
    owner = upload_of(key)
    if owner is not None and await repo.refuse_upload(services.store.pool, owner[1]):
        log.info("upload %s refused at its PUT; its URL is spent", owner[1])


class _NotUploaded(Exception):
    """The bytes have not arrived yet; the upload can be completed later."""


async def complete_upload(request: Request) -> Response:
    """``POST /api/rooms/{room}/uploads/{upload_id}/complete``."""
    services: Services = request.app.state.services
    pool = services.store.pool
    room_id, upload_id = request.path_params["room"], request.path_params["upload_id"]
    await authorize(request, room_id, Role.EDIT)
    refused = await services.check_room_load(request, room_id)  # before the upload is claimed
    if refused is not None:
        return refused
    record = await repo.claim_upload(pool, upload_id, room_id) if UPLOAD_ID.match(
        upload_id) else None
    if record is None:
        return await _not_claimable(services, room_id, upload_id)
    try:
        image, digest = await _store_renditions(services, record)
    except ImageRejectedError as exc:
        await repo.finish_upload(pool, record.id, repo.UploadStatus.REJECTED)
        try:
            await repo.spend_raw(services.blobs, record.key)
        except BlobError as gone:  # the row is finished; cleanup deletes the key later
            log.warning("could not replace the rejected upload %s: %s", record.key, gone)
        return problem(REJECTION_STATUS[exc.kind], exc.detail, kind=exc.kind.value)
    except _NotUploaded:
        await repo.release_upload(pool, record.id)
        return problem(409, "the file has not been uploaded yet; send it to the upload URL "
                            "first", kind="not_uploaded")
    except BlobError as exc:
        await repo.release_upload(pool, record.id)
        return blob_problem(exc)
    except BaseException:
        await asyncio.shield(repo.release_upload(pool, record.id))
        raise
    await repo.finish_upload(pool, record.id, repo.UploadStatus.DONE, image["key"])
    result: dict[str, Any] = {
        "image": image,
        "thumbs": {str(s): image_key(room_id, digest, s) for s in THUMB_SIZES},
        "block_updated": False,
    }
    if record.block_id is not None:
        try:
            result["block_updated"] = await _set_block_image(services, room_id,
                                                             record.block_id, image)
        except ArborError as exc:  # e.g. the canvas is full: the image itself is stored
            log.warning("could not set the image of block %s in %s: %s", record.block_id,
                        room_id, exc)
            result["block_error"] = exc.detail
    return JSONResponse(result)


async def _not_claimable(services: Services, room_id: str, upload_id: str) -> Response:
    existing = (await repo.get_upload(services.store.pool, upload_id)
                if UPLOAD_ID.match(upload_id) else None)
    if existing is None or existing.room_id != room_id:
        return problem(404, "no such upload in this canvas", kind="upload_not_found")
    if existing.status is repo.UploadStatus.REJECTED:
        return problem(409, "this upload was refused (see the answer to its upload); start a "
                            "new one", kind="upload_refused")
    if existing.status is not repo.UploadStatus.PENDING:
        return problem(409, "this upload has already been completed", kind="already_completed")
    return problem(410, "this upload has expired; start a new one", kind="upload_expired")


async def _store_renditions(services: Services,
                            record: repo.UploadRecord) -> tuple[dict[str, Any], str]:
    """The image map of the verified, converted upload, and its content hash."""
    settings, blobs = services.settings, services.blobs
    info = await blobs.head(record.key)
    if info is None:
        raise _NotUploaded
    if info.size > min(record.size, settings.max_upload_bytes):
        raise ImageRejectedError(ImageRejection.TOO_LARGE,
                                 f"The file is {info.size} bytes, more than the {record.size} "
                                 "announced.")
    data = await blobs.get(record.key)
    if len(data) < record.size:
        raise ImageRejectedError(ImageRejection.TRUNCATED,
                                 f"Only {len(data)} of the {record.size} bytes arrived.")
    processed = await asyncio.to_thread(process_image, data,
                                        max_bytes=settings.max_upload_bytes,
                                        max_pixels=settings.max_image_pixels)
    image = await store_renditions(blobs, record.room_id, processed)
    await repo.spend_raw(blobs, record.key)
    return image, processed.content_hash


async def _set_block_image(services: Services, room_id: str, block_id: str,
                           image: dict[str, Any]) -> bool:
    """Set ``blocks[block_id].image`` if that block exists; whether it did."""
    value = block_image(image)

    def edit(doc: Doc[Any]) -> bool:
        blocks = doc.get(schema.BLOCKS, type=Map)
        block = blocks.get(block_id)
        if not isinstance(block, Map):
            return False
        block["image"] = value
        return True

    async with services.rooms.session(room_id) as room:
        return bool(room.transact(edit))
