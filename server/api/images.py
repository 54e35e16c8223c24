"""``GET /api/rooms/{room}/images/{key}``: a stored image rendition, for view links.

``<img>`` tags cannot send headers, so the token may come as ``?token=`` as well as
``Authorization: Bearer``. Only processed renditions are served
(``rooms/{room}/{sha256}[_{size}].webp``), and only the room's own
(:func:`sync.blobs.key_belongs_to`): a key of another room, a raw upload, or a key that
names nothing are the same 404, decided before the store is asked. With S3 the answer is
a 302 to a presigned GET signed for the current window of ``ARBOR_IMAGE_URL_TTL_SECONDS``
(the same URL all window long: see ``sync/blobs/s3.py``), and the redirect itself may be
kept by the browser until the window ends, so a canvas opened again within the window
fetches none of its images; with blobs on disk the server streams the bytes itself, with
an ETag, an immutable cache lifetime (keys are content hashes, so a key never changes
meaning) and byte ranges.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sync.blobs import BlobError, key_belongs_to
from sync.blobs.base import signing_window
from sync.errors import RoomNotFoundError

from ..capabilities import ROOM_ID, bearer, role_for
from ..problems import problem
from .uploads import blob_problem

if TYPE_CHECKING:
    from ..app import Services

IMMUTABLE = "public, max-age=31536000, immutable"
# A canvas's images are behind its link's token: browsers may keep them, shared caches
# (proxies, CDNs) must not hand them to someone without the token.
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single ``Range: bytes=`` header, None to send everything
    (no header, a malformed one, or several ranges: RFC 9110 lets a server ignore
    those), or _Unsatisfiable."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _Unsatisfiable
        return max(0, size - n), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    end = size if not last else min(int(last) + 1, size)
    return start, end


async def get_image(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id, key = request.path_params["room"], request.path_params["key"]
    if not ROOM_ID.match(room_id):
        raise RoomNotFoundError(room_id)
    record = await services.store.get_room(room_id)
    if record is None:
        raise RoomNotFoundError(room_id)
    role_for(record, bearer(request.headers.get("authorization"))
             or request.query_params.get("token"))
    if not key_belongs_to(room_id, key):  # the one rule of sync/blobs/layout.py
        return problem(404, "no such image in this canvas", kind="not_found")
    try:
        return await _serve(request, services, key, cache=PRIVATE_IMMUTABLE)
    except BlobError as exc:
        return blob_problem(exc)


async def _serve(request: Request, services: Services, key: str,
                 cache: str = IMMUTABLE, *, redirect: bool = True) -> Response:
    """The object at ``key``: a redirect to a presigned GET where the store has them (and
    ``redirect``), else the bytes, with ``cache`` as their Cache-Control."""
    ttl = services.settings.image_url_ttl
    url = await services.blobs.presign_get(key, ttl) if redirect else None
    if url is not None:
        # The same URL is handed out until the window ends: this browser may reuse the
        # redirect until then (and its target, valid a window longer, is cached by URL).
        start, lifetime = signing_window(ttl)
        fresh = max(0, int(start + lifetime // 2 - time.time()))
        return RedirectResponse(url, status_code=302,
                                headers={"Cache-Control": f"private, max-age={fresh}"})
    info = await services.blobs.head(key)
    if info is None:
        return problem(404, "no such image in this canvas", kind="not_found")
    etag = f'"{info.etag}"'
    headers = {"ETag": etag, "Cache-Control": cache, "Accept-Ranges": "bytes"}
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    try:
        wanted = parse_range(request.headers.get("range") if if_range in (None, etag) else None,
                             info.size)
    except _Unsatisfiable:
        return Response(status_code=416, headers={**headers,
                                                  "Content-Range": f"bytes */{info.size}"})
    if wanted is None:
        body = await services.blobs.get(key)
        return Response(body, media_type=info.content_type, headers=headers)
    start, end = wanted
    body = await services.blobs.get_range(key, start, end)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    return Response(body, status_code=206, media_type=info.content_type, headers=headers)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    if header.strip() == "*":
        return {"*"}
    return {t.strip().removeprefix("W/") for t in header.split(",")}
