"""``PUT/DELETE /api/identity/avatar`` and ``GET /images/people/{person}/{name}``.

A person sets their avatar by sending the image itself as the request body (an avatar is
small and set rarely, so it needs no presigned round trip). The body is read with a bound
(``ARBOR_MAX_UPLOAD_BYTES``, the canvas upload limit) and goes through the same image
pipeline as every upload (:mod:`sync.avatars`), so a renamed file, a bomb or a 50 MB body
is refused the same way and with the same status. The result is stored at
``people/{person}/avatar-{sha256}.webp``: only the cookie's own person is ever changed,
the key is derived on the server (never taken from the client), and it names its
content, so it is served public and immutable like a published post's image.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from sync.avatars import make_avatar
from sync.blobs import BlobError
from sync.blobs.layout import avatar_belongs_to, avatar_key
from sync.images import ACCEPTED_TYPES, OUTPUT_MIME, ImageRejectedError

from .identity import (
    COOKIE,
    Refusal,
    _identity_json,
    action_buckets,
    check_csrf,
    endpoint,
    gallery_of,
    limit,
    require_person,
    services_of,
)
from .images import IMMUTABLE
from .images import _serve as serve_blob
from .uploads import REJECTION_STATUS, blob_problem

log = logging.getLogger(__name__)

async def _bounded_body(request: Request, limit_bytes: int) -> bytes:
    """The body, refused (413) as soon as it grows past ``limit_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise Refusal(413, f"the file is {declared} bytes; the limit is {limit_bytes}",
                      "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit_bytes:
            raise Refusal(413, f"the file is larger than the limit of {limit_bytes} bytes",
                          "too_large")
    return bytes(body)


async def _forget(request: Request, key: str | None) -> None:
    if key is None:
        return
    try:
        await services_of(request).blobs.delete(key)
    except BlobError as exc:  # an orphan avatar is harmless: its URL is no longer given
        log.warning("could not delete the old avatar %s: %s", key, exc)


@endpoint
async def put_avatar(request: Request) -> Response:
    """``PUT /api/identity/avatar`` (body: the image; Content-Type: its type) -> the
    identity as ``GET /api/identity`` shows it, with ``avatar_url``."""
    check_csrf(request)
    person = await require_person(request)
    declared = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if declared not in ACCEPTED_TYPES:
        raise Refusal(415, f"{declared or 'this'} files cannot be an avatar; use PNG, JPEG, "
                           "WebP, GIF or AVIF", "unsupported_type")
    await limit(request, action_buckets(request, "avatar changes", person), "avatar changes")
    settings = services_of(request).settings
    data = await _bounded_body(request, settings.max_upload_bytes)
    try:
        avatar = await asyncio.to_thread(make_avatar, data,
                                         max_bytes=settings.max_upload_bytes,
                                         max_pixels=settings.max_image_pixels)
    except ImageRejectedError as exc:
        raise Refusal(REJECTION_STATUS[exc.kind], exc.detail, exc.kind.value) from None
    key = avatar_key(person.id, avatar.digest)
    try:
        await services_of(request).blobs.put(key, avatar.data, OUTPUT_MIME)
    except BlobError as exc:
        return blob_problem(exc)
    person, previous = await gallery_of(request).set_avatar(person.id, key)
    if previous != key:
        await _forget(request, previous)
    return JSONResponse(_identity_json(request, person, request.cookies[COOKIE]),
                        headers={"Cache-Control": "no-store"})


@endpoint
async def delete_avatar(request: Request) -> Response:
    """``DELETE /api/identity/avatar`` -> the identity, without an avatar."""
    check_csrf(request)
    person = await require_person(request)
    person, previous = await gallery_of(request).set_avatar(person.id, None)
    await _forget(request, previous)
    return JSONResponse(_identity_json(request, person, request.cookies[COOKIE]),
                        headers={"Cache-Control": "no-store"})


@endpoint
async def public_avatar(request: Request) -> Response:
    """``GET /images/people/{person}/avatar-{sha256}.webp`` (public, immutable): anything
    else under the path is 404 before the store is asked."""
    person, name = request.path_params["person"], request.path_params["name"]
    key = f"people/{person}/{name}"
    if not avatar_belongs_to(person, key):
        raise Refusal(404, "no such image", "not_found")
    services = services_of(request)
    public = services.settings.public_image_base_url
    if public:
        return RedirectResponse(f"{public}/{key}", status_code=301,
                                headers={"Cache-Control": IMMUTABLE})
    try:
        return await serve_blob(request, services, key, cache=IMMUTABLE, redirect=False)
    except BlobError as exc:
        return blob_problem(exc)
