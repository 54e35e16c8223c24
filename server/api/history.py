"""``/api/rooms/{room}/history``: list a room's checkpoints, preview one, restore one.

A checkpoint is a whole copy of a canvas (up to the 16 MB document cap), so previewing or
restoring one is work in proportion to the canvas. None of it is done on the event loop:
the checkpoint is decoded in a child process (``sync/checkpoint_work.py``), a preview is
rendered once per checkpoint and cached, and a restore reaches the room as one Yjs update
applied in one transaction. What each may cost is bounded here: previews per client
address, restores per room (and one at a time), and every refusal comes before any
checkpoint is read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync.checkpoint_work import (
    CheckpointBusyError,
    CheckpointUnreadableError,
    RestoreInProgressError,
)
from sync.errors import ArborError
from sync.history import CheckpointStore

from ..capabilities import Role
from ..problems import problem
from .jobs import display_name
from .rooms import authorize, json_body

if TYPE_CHECKING:
    from ..app import Services


class _CheckpointGoneError(ArborError):
    """The checkpoint was thinned away between being found and being read."""

    def __init__(self) -> None:
        super().__init__("no such checkpoint in this canvas")


def _id(request: Request) -> int | None:
    """The checkpoint id in the path, if it can be one (a ``bigint``: at most 18 ASCII
    digits); anything else names no checkpoint, and is never sent to PostgreSQL."""
    raw = request.path_params["checkpoint"]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def _not_found() -> Response:
    return problem(404, "no such checkpoint in this canvas", kind="checkpoint_not_found")


def _work_problem(exc: ArborError) -> Response | None:
    """The answer for what reading a checkpoint may refuse (None: not one of those)."""
    if isinstance(exc, _CheckpointGoneError):
        return _not_found()
    if isinstance(exc, CheckpointBusyError):
        return problem(503, exc.detail, kind="checkpoints_busy", headers={"Retry-After": "5"})
    if isinstance(exc, CheckpointUnreadableError):
        return problem(422, exc.detail, kind="checkpoint_unreadable")
    if isinstance(exc, RestoreInProgressError):
        return problem(409, exc.detail, kind="restore_in_progress")
    return None


async def list_history(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    checkpoints = await CheckpointStore(services.store.pool).list(room_id)
    return JSONResponse({"checkpoints": [c.to_json() for c in checkpoints]})


async def get_checkpoint(request: Request) -> Response:
    """The checkpoint and its canvas as plain JSON (view link). Every request spends from
    the address's preview bucket; the canvas is rendered once per checkpoint, whoever
    asks and however many ask at once."""
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    checkpoint_id = _id(request)
    if checkpoint_id is None:
        return _not_found()
    refused = await services.check_limits(
        services.rates.preview_buckets(services.client_ip(request)), "previews")
    if refused is not None:
        return refused
    store = CheckpointStore(services.store.pool)
    checkpoint = await store.info(room_id, checkpoint_id)
    if checkpoint is None:
        return _not_found()

    async def load() -> bytes:
        found = await store.get(room_id, checkpoint_id)
        if found is None:
            raise _CheckpointGoneError()
        return found[1]

    try:
        canvas = await services.checkpoints.preview(checkpoint_id, load)
    except ArborError as exc:
        answer = _work_problem(exc)
        if answer is None:
            raise
        return answer
    # The cached canvas goes out as it is, inside the checkpoint's own fields (as
    # JSONResponse would encode ``{**checkpoint, "canvas": ...}``): never decoded again.
    head = json.dumps(checkpoint.to_json(), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")
    return Response(b"".join((head[:-1], b',"canvas":', canvas, b"}")),
                    media_type="application/json")


async def restore_checkpoint(request: Request) -> Response:
    """Apply a checkpoint's content as a new change; the state before is kept first.

    One restore per room at a time on this process (a second is 409), and a room's
    restores spend from its bucket. The change is computed from the room's current state
    in a child process; on the event loop the room encodes its state (for that, and for
    the checkpoint kept of it) and applies the change in one transaction."""
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    checkpoint_id = _id(request)
    by = display_name((await json_body(request)).get("by"), "by")  # refused before any work
    if checkpoint_id is None:
        return _not_found()
    work = services.checkpoints
    try:
        with work.restoring(room_id):
            refused = await services.check_limits(
                [*services.rates.restore_buckets(room_id),
                 *services.room_load_buckets(request, room_id)], "restores")
            if refused is not None:
                return refused
            store = CheckpointStore(services.store.pool)
            found = await store.get(room_id, checkpoint_id)
            if found is None:
                return _not_found()
            checkpoint, data = found
            async with services.rooms.session(room_id) as room:
                current, state = room.doc.get_update(), room.doc.get_state()
                change = await work.restore_change(current, data)
                if room.doc.get_state() != state:  # edited meanwhile: keep what is there now
                    current = room.doc.get_update()
                before = await store.create(room_id, current, "before_restore",
                                            sorted(room.authors), restoring=checkpoint,
                                            restored_by=by)
                # The restorer changed the canvas (the next checkpoint names them).
                room.transact(lambda doc: doc.apply_update(change), author=by or "someone")
    except ArborError as exc:
        answer = _work_problem(exc)
        if answer is None:
            raise
        return answer
    return JSONResponse({"restored": checkpoint.to_json(), "before": before.to_json()})
