"""``/api/rooms``: create a canvas, read it, rotate its share links."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, Map, Text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync import doc_schema as schema
from sync import jsontext
from sync.errors import (
    CapabilityError,
    CapabilityReason,
    InputError,
    InputReason,
    RoomNotFoundError,
)
from sync.fanout import KIND_CONTROL

from ..capabilities import (
    ROOM_ID,
    Role,
    bearer,
    hash_token,
    new_room_id,
    new_token,
    role_for,
)

if TYPE_CHECKING:
    from sync.store import RoomRecord

    from ..app import Services

MAX_TITLE = 200
ROTATE = b"rotate"


def initial_document(title: str, first_prompt: bool = False) -> bytes:
    """A new canvas's first state. With ``first_prompt`` it holds one empty text block, the
    prompt the app opens ready for typing. Made here, in the state stored with the room,
    so two people opening a new canvas at the same moment find the same one block: were
    the first browser to open it to make the block, both could, and there would be two."""
    doc: Doc[Any] = Doc()
    meta = doc.get(schema.META, type=Map)
    blocks = doc.get(schema.BLOCKS, type=Map)
    doc.get(schema.EDGES, type=Map)
    doc.apply_update(schema.prompts_map_update())
    now = float(int(time.time() * 1000))
    with doc.transaction():
        meta["title"] = title
        meta["createdAt"] = now
        meta["schemaVersion"] = float(schema.SCHEMA_VERSION)
        if first_prompt:
            block = Map({"kind": "text", "x": 0.0, "y": 0.0, "w": float(schema.TEXT_W),
                         "h": float(schema.TEXT_H), "status": "idle", "createdAt": now})
            blocks[secrets.token_hex(16)] = block
            block["text"] = Text()
    return doc.get_update()


def _base(request: Request, services: Services) -> str:
    if services.settings.public_url:
        return services.settings.public_url
    return str(request.base_url).rstrip("/")


def _links(base: str, room: str, edit: str, view: str) -> dict[str, str]:
    return {
        "room": room,
        "edit_token": edit,
        "view_token": view,
        "edit_url": f"{base}/r/{room}#token={edit}",
        "view_url": f"{base}/r/{room}#token={view}",
    }


async def read_body(request: Request, limit: int = jsontext.MAX_BYTES) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes: by its ``Content-Length``
    before anything is read, else as soon as more than that has arrived (a chunked body
    states no length), so a large body is never held whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() \
            and int(declared) > limit:
        raise InputError(InputReason.TOO_LARGE, f"the body is longer than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InputError(InputReason.TOO_LARGE, f"the body is longer than {limit} bytes")
    return bytes(body)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` for no body), read through the one bounded reader
    (:mod:`sync.jsontext`): at most 1 MiB, 64 levels deep, and no text PostgreSQL cannot
    store. Every JSON body of the API comes through here."""
    raw = await read_body(request)
    if not raw:
        return {}
    data = jsontext.loads(raw, what="the body", storable=True)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


async def authorize(request: Request, room_id: str, need: Role) -> RoomRecord:
    """The room, if the request's bearer token grants ``need`` (edit implies view)."""
    services: Services = request.app.state.services
    if not ROOM_ID.match(room_id):
        raise RoomNotFoundError(room_id)
    record = await services.store.get_room(room_id)
    if record is None:
        raise RoomNotFoundError(room_id)
    role = role_for(record, bearer(request.headers.get("authorization")))
    if need is Role.EDIT and role is not Role.EDIT:
        raise CapabilityError(CapabilityReason.READ_ONLY, "this needs the edit link")
    return record


async def create_room(request: Request) -> Response:
    services: Services = request.app.state.services
    body = await json_body(request)
    limited = await services.check_limits(
        services.rates.room_buckets(services.client_ip(request)), "new canvases")
    if limited is not None:
        return limited
    title = body.get("title", "Untitled canvas")
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise ValueError(f"title must be a string of at most {MAX_TITLE} characters")
    first_prompt = body.get("first_prompt", False)
    if not isinstance(first_prompt, bool):
        raise ValueError("first_prompt must be true or false")
    room, edit, view = new_room_id(), new_token(), new_token()
    await services.store.create_room(
        room, hash_token(edit), hash_token(view),
        initial_document(title.strip() or "Untitled canvas", first_prompt=first_prompt))
    return JSONResponse(_links(_base(request, services), room, edit, view), status_code=201)


async def get_room(request: Request) -> JSONResponse:
    room_id = request.path_params["room"]
    record = await authorize(request, room_id, Role.VIEW)
    token = bearer(request.headers.get("authorization"))
    return JSONResponse({"room": record.id, "role": role_for(record, token).value,
                         "created_at": record.created_at.isoformat()})


async def rotate_links(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    edit, view = new_token(), new_token()
    record = await services.store.rotate_room_tokens(room_id, hash_token(edit), hash_token(view))
    if record is None:
        raise RoomNotFoundError(room_id)
    room = services.rooms.rooms.get(room_id)
    if room is not None:
        close_rotated(room, record)
    if services.fanout is not None:
        await services.fanout.publish_now(room_id, KIND_CONTROL, ROTATE)
    return JSONResponse(_links(_base(request, services), room_id, edit, view))


def close_rotated(room: Any, record: RoomRecord) -> int:
    valid = (record.edit_token_hash, record.view_token_hash)
    return int(room.close_peers(4401, "the share links were rotated; ask for a new link",
                                lambda peer: getattr(peer, "token_hash", None) not in valid))
