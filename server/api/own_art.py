"""``POST /api/rooms/{room}/own-art``: post an image made elsewhere, with its prompt and
the model that made it (issue 23, "post your own art, as on Desync").

The image comes in through the one upload pipeline (``server/api/uploads.py``: presigned
upload, then complete, which checks the type from the bytes, the size and the pixels and
stores clean renditions), into a canvas the browser has just made for it (``POST
/api/rooms``). This endpoint then writes that canvas's two blocks, a text block holding
the prompt joined by an edge to an image block holding the image, and publishes the image
through the canvas publish path. So the post is a post like any other: its lineage shows
the prompt, remix gives a canvas with the prompt and the image, and its canvas is an
ordinary one its author can open again. Only ``model`` is new, stored on the post and
shown as "Made with {model}".

The image key is the one the upload's completion answered; like any key a client names,
it must be one of this canvas's own renditions (:func:`sync.blobs.layout.owned_image`)
and must exist, else the request is refused before anything is written.
"""

from __future__ import annotations

import io
import unicodedata
from typing import Any, Final

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

from sync.blobs import BlobError, BlobErrorKind, ForeignImageError, Scope, owned_image
from sync.blobs.errors import FOREIGN_IMAGE_DETAIL
from sync.images import OUTPUT_MIME
from sync.lineage import Step, add_lineage
from sync.renditions import DISPLAY_THUMB, block_image

from ..capabilities import Role
from .gallery import _publish_fields, publish_block
from .identity import (
    Refusal,
    action_buckets,
    check_csrf,
    endpoint,
    limit,
    require_person,
    services_of,
)
from .rooms import authorize, json_body
from .uploads import blob_problem

MAX_MODEL: Final = 120
MAX_PROMPT: Final = 4000


def _line(raw: object, what: str, most: int, *, required: bool) -> str:
    """One line of text as stored: spaces collapsed, at most ``most`` characters, and no
    control or format character (they hide text or reorder what the page shows)."""
    if raw is None and not required:
        return ""
    if not isinstance(raw, str):
        raise ValueError(f"{what} must be a string")
    if any(unicodedata.category(ch).startswith("C") for ch in raw):
        raise ValueError(f"{what} must not contain control characters")
    text = " ".join(raw.split())
    if required and not text:
        raise ValueError(f"{what} is required")
    if len(text) > most:
        raise ValueError(f"{what} must be at most {most} characters")
    return text


def _prompt(raw: object) -> str:
    """The prompt: line breaks kept (prompts have them), no other control character."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("prompt is required: the words the image was made from")
    text = raw.strip().replace("\r\n", "\n")
    if len(text) > MAX_PROMPT:
        raise ValueError(f"prompt must be at most {MAX_PROMPT} characters")
    if any(ch not in "\n\t" and unicodedata.category(ch).startswith("C") for ch in text):
        raise ValueError("prompt must not contain control characters")
    return text


async def _image_map(request: Request, room_id: str, key: object) -> dict[str, Any]:
    """The block ``image`` of this canvas's uploaded image ``key`` (its size read from the
    stored rendition, which the pipeline made: never from the client)."""
    try:
        parsed = owned_image(Scope.ROOM, room_id, key)
    except ForeignImageError:
        raise Refusal(400, FOREIGN_IMAGE_DETAIL, "not_an_image") from None
    main = parsed.sized(None)
    try:
        data = await services_of(request).blobs.get(main.key)
    except BlobError as exc:
        if exc.kind in (BlobErrorKind.OBJECT_MISSING, BlobErrorKind.INVALID_KEY):
            raise Refusal(400, "upload the image first: no such image in this canvas",
                          "not_an_image") from None
        raise
    with Image.open(io.BytesIO(data), formats=["WEBP"]) as im:
        width, height = im.size
    return block_image({"key": main.key, "width": width, "height": height,
                        "mime": OUTPUT_MIME, "thumbKey": main.sized(DISPLAY_THUMB).key})


@endpoint
async def post_own_art(request: Request) -> Response:
    """``POST /api/rooms/{room}/own-art`` (edit link + identity) {image_key, prompt, model?,
    title, description?} -> 201 the post, as ``publish`` answers."""
    services = services_of(request)
    room_id = request.path_params["room"]
    check_csrf(request)
    await authorize(request, room_id, Role.EDIT)
    person = await require_person(request)
    body = await json_body(request)
    unknown = sorted(set(body) - {"image_key", "prompt", "model", "title", "description"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    prompt = _prompt(body.get("prompt"))
    model = _line(body.get("model"), "model", MAX_MODEL, required=False)
    _, title, description, _ = _publish_fields({
        "block_id": "own", "title": body.get("title"),
        "description": body.get("description", "")})
    await limit(request, [*action_buckets(request, "publishes", person),
                          *services.room_load_buckets(request, room_id)], "posts")
    try:
        image = await _image_map(request, room_id, body.get("image_key"))
    except BlobError as exc:
        return blob_problem(exc)
    # The edge reads as the canvas tools write it: the prompt made the image ("image").
    steps = [Step("prompt", "text", None, prompt, None, ()),
             Step("image", "image", "image", "", image, ("prompt",))]
    async with services.rooms.session(room_id) as room:
        ids = room.transact(lambda doc: add_lineage(doc, steps))
    return await publish_block(request, room_id, person, ids["image"], title=title,
                               description=description, include=True, model=model)
