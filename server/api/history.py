"""``/api/rooms/{room}/history``: list a room's checkpoints, preview one, restore one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync.history import CheckpointStore, preview, restore_into

from ..capabilities import Role
from ..problems import problem
from .rooms import authorize

if TYPE_CHECKING:
    from ..app import Services


def _id(request: Request) -> int | None:
    """The checkpoint id in the path, if it can be one (a ``bigint``: at most 18 ASCII
    digits); anything else names no checkpoint, and is never sent to PostgreSQL."""
    raw = request.path_params["checkpoint"]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


async def list_history(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    checkpoints = await CheckpointStore(services.store.pool).list(room_id)
    return JSONResponse({"checkpoints": [c.to_json() for c in checkpoints]})


async def get_checkpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    checkpoint_id = _id(request)
    found = (await CheckpointStore(services.store.pool).get(room_id, checkpoint_id)
             if checkpoint_id is not None else None)
    if found is None:
        return problem(404, "no such checkpoint in this canvas", kind="checkpoint_not_found")
    checkpoint, data = found
    return JSONResponse({**checkpoint.to_json(), "canvas": preview(data)})


async def restore_checkpoint(request: Request) -> Response:
    """Apply a checkpoint's content as a new change; the state before is kept first."""
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    checkpoint_id = _id(request)
    store = CheckpointStore(services.store.pool)
    found = await store.get(room_id, checkpoint_id) if checkpoint_id is not None else None
    if found is None:
        return problem(404, "no such checkpoint in this canvas", kind="checkpoint_not_found")
    checkpoint, data = found
    async with services.rooms.session(room_id) as room:
        before = await store.create(room_id, room.doc.get_update(), "before_restore",
                                    sorted(room.authors))
        room.transact(lambda doc: restore_into(doc, data), author="restore")
    return JSONResponse({"restored": checkpoint.to_json(), "before": before.to_json()})
