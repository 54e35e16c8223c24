"""``/api/tools`` and ``/api/rooms/{room}/jobs``: run a tool on blocks, follow it, cancel it.

Creating a job is: check the capability, the body, the inputs, the model (offered here
and able to do the run), then the rate limits and daily budgets in one atomic step that
spends the run's estimate (nothing changes when any of these refuses), then put the output
blocks and edges into the document with status ``queued`` (reusing the blocks the browser
already made in its own undoable transaction), record the job with its estimate and budget
reservation in PostgreSQL, and hand its id to the arq queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, Map, Text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync import budgets
from sync import doc_schema as schema
from sync.canvas_index import CanvasIndex, Rect, index_for, rect_of
from sync.errors import ArborError
from sync.jobs import ACTIVE, enqueue
from sync.tools import (
    MAX_INPUTS,
    ToolError,
    ToolSpec,
    catalog_json,
    get_tool,
    validate_inputs,
    validate_params,
)

from ..capabilities import Role
from ..problems import problem
from ..ratelimit import Budget
from .models import plan_run
from .rooms import authorize, json_body

if TYPE_CHECKING:
    from sync.room import Room

    from ..app import Services

BLOCK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OUTPUT_WAIT = 2.0  # how long to wait for blocks the browser created to arrive
BLOCK_W, BLOCK_H, GAP = 280.0, 200.0, 60.0
# Most output blocks a run may name: the browser makes at most this many (a tool that
# decides its count when it runs gets one placeholder); each one is placed and linked.
MAX_OUTPUTS = 8


class BlockNotFoundError(ArborError):
    def __init__(self, block_id: str) -> None:
        super().__init__(f"there is no block {block_id!r} in this canvas")
        self.block_id = block_id


class TooManyInputsError(ArborError):
    def __init__(self, count: int) -> None:
        super().__init__(f"{count} inputs; a tool takes at most {MAX_INPUTS}")
        self.count = count


class EmptyInputError(ArborError):
    """A run on a block with nothing in it: a text block with no text, an image block with
    no image, or a ``run`` whose first block has no prompt. Refused before anything is
    spent, so an empty block never costs a model call."""

    def __init__(self, tool: str, block_id: str | None, why: str) -> None:
        super().__init__(f"{tool}: {why}")
        self.tool = tool
        self.block_id = block_id
        self.why = why


class OutputKindError(ArborError):
    """An existing block named as an output is not the kind the tool makes (a text block
    cannot receive an image)."""

    def __init__(self, tool: str, block_id: str, kind: str, makes: str) -> None:
        super().__init__(f"{tool} makes {makes} blocks; block {block_id!r} is a {kind} block")
        self.tool = tool
        self.block_id = block_id


def problem_for(exc: ArborError) -> JSONResponse | None:
    """The HTTP answer for this module's errors (used by the app's one error handler)."""
    if isinstance(exc, BlockNotFoundError):
        return problem(404, exc.detail, kind="block_not_found", block=exc.block_id)
    if isinstance(exc, TooManyInputsError):
        return problem(413, exc.detail, kind="too_many_inputs")
    if isinstance(exc, EmptyInputError):
        return problem(400, exc.detail, kind="empty_input", tool=exc.tool, block=exc.block_id)
    if isinstance(exc, OutputKindError):
        return problem(400, exc.detail, kind="bad_output", tool=exc.tool, block=exc.block_id)
    if isinstance(exc, ToolError):
        return problem(400, exc.detail, kind=exc.kind, tool=exc.tool)
    return None


async def list_tools(request: Request) -> JSONResponse:
    return JSONResponse({"tools": catalog_json()})


def _ids(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of block ids")
    bad = [v for v in value if not BLOCK_ID.match(v)]
    if bad:
        raise ValueError(f"{what}: {bad[0]!r} is not a block id")
    if len(set(value)) != len(value):
        raise ValueError(f"{what} lists a block twice")
    return list(value)


def _new_id() -> str:
    return secrets.token_hex(8)


def _layout(spec: ToolSpec, count: int, origin: tuple[float, float, float]) -> list[tuple[float,
                                                                                          float]]:
    x, y, w = origin
    left = x + w + GAP
    if spec.name == "variations":
        return [(left + (i % 2) * (BLOCK_W + 20), y + (i // 2) * (BLOCK_W + 20))
                for i in range(count)]
    return [(left, y + i * (BLOCK_H + 20)) for i in range(count)]


def prepare_outputs(doc: Doc[Any], index: CanvasIndex, spec: ToolSpec, job_id: str,
                    inputs: list[str], outputs: list[str], author: str | None) -> list[str]:
    """Mark (or create) the output blocks and their edges, inside one transaction.

    New blocks go beside the first input, moved down clear of every block already there;
    ``index`` (the room's canvas index) answers that, and which edges a block the browser
    made already has, from what is near: nothing here reads the whole canvas."""
    blocks = doc.get(schema.BLOCKS, type=Map)
    edges = doc.get(schema.EDGES, type=Map)
    first = rect_of(blocks.get(inputs[0])) if inputs else None
    x, y, w, _ = first if first is not None else (0.0, 0.0, BLOCK_W, BLOCK_H)
    wanted = outputs or [_new_id() for _ in range(spec.outputs)]
    size = (BLOCK_W, BLOCK_H if spec.output == "text" else BLOCK_W)
    places = index.place(_layout(spec, len(wanted), (x, y, w)), size, exclude=set(wanted))
    _clear_fresh_outputs(blocks, index, wanted)
    now = float(int(time.time() * 1000))
    for block_id, (bx, by) in zip(wanted, places, strict=True):
        block = blocks.get(block_id)
        linked: set[str] = set()
        if isinstance(block, Map):
            linked = {source for source, _ in index.incoming(block_id)}
        else:
            block = Map({"kind": spec.output, "x": bx, "y": by, "w": BLOCK_W,
                         "h": BLOCK_H if spec.output == "text" else BLOCK_W,
                         "createdAt": now})
            blocks[block_id] = block
            block["text"] = Text()
            if author:
                block["author"] = author
        block["status"] = "queued"
        block["jobId"] = job_id
        block["tool"] = spec.name
        block["progress"] = 0.0
        block["error"] = ""
        for source in inputs:
            if source not in linked:
                edges[_new_id()] = Map({"source": source, "target": block_id,
                                        "tool": spec.name})
    return wanted


def _clear_fresh_outputs(blocks: Map[Any], index: CanvasIndex, wanted: list[str]) -> None:
    """Move the output blocks a browser made for this run (not yet any job's) down together,
    clear of every other block. Why: each browser places its outputs from the blocks it has
    seen, so two people running tools on the same input at the same moment put theirs on the
    same spot; runs are prepared here one at a time, each seeing the blocks of those before,
    so the later one moves (a block run again in place is left where it is)."""
    fresh: list[tuple[str, Map[Any], Rect]] = []
    for block_id in wanted:
        block = blocks.get(block_id)
        rect = rect_of(block)
        if isinstance(block, Map) and rect is not None and block.get("jobId") is None:
            fresh.append((block_id, block, rect))
    if not fresh:
        return
    size = (max(r[2] for _, _, r in fresh), max(r[3] for _, _, r in fresh))
    moved = index.place([(r[0], r[1]) for _, _, r in fresh], size, exclude=set(wanted))
    for (_, block, rect), (bx, by) in zip(fresh, moved, strict=True):
        if (bx, by) != (rect[0], rect[1]):
            block["x"], block["y"] = bx, by


def _has_image(block: Map[Any]) -> bool:
    image = block.get("image")
    key = image.get("key") if isinstance(image, Map | dict) else None
    return isinstance(key, str) and bool(key)


def empty_input(room: Room, spec: ToolSpec, inputs: list[str]) -> EmptyInputError | None:
    """Why this run would work on nothing, or None. Every input must hold something (text
    in a text block, an image in an image block); ``run`` also needs a prompt in its first
    block, and nothing runs on no blocks at all."""
    blocks = room.doc.get(schema.BLOCKS, type=Map)
    if not inputs:
        return EmptyInputError(spec.name, None, "there is nothing to run on: choose a block "
                               "with a prompt")
    for n, block_id in enumerate(inputs):
        block = blocks.get(block_id)
        if not isinstance(block, Map):
            continue  # input_kinds answers 404 for it
        text = schema.text_of(block.get("text")).strip()
        if schema.kind_of(block) == "image":
            if not _has_image(block):
                return EmptyInputError(spec.name, block_id, f"block {block_id!r} has no image "
                                       "yet: add one first")
            if n == 0 and spec.name == "run" and not text:
                return EmptyInputError(spec.name, block_id, f"block {block_id!r} has no "
                                       "prompt: write one first")
        elif not text:
            return EmptyInputError(spec.name, block_id, f"block {block_id!r} is empty: write "
                                   "a prompt first")
    return None


async def _wait_for_blocks(room: Room, ids: list[str], within: float,
                           ready: Callable[[], bool] = lambda: True) -> None:
    """Wait (a little) for blocks, and for ``ready``: the browser sends its edits over the
    websocket and the run over HTTP, so the run may arrive before the text just typed."""
    deadline = time.monotonic() + within
    blocks = room.doc.get(schema.BLOCKS, type=Map)
    while time.monotonic() < deadline:
        if all(i in blocks for i in ids) and ready():
            return
        await asyncio.sleep(0.02)


def _check_outputs(room: Room, spec: ToolSpec, outputs: list[str]) -> None:
    """An output that already exists (a browser's placeholder, or a finished block run
    again in place) must be of the kind the tool makes."""
    blocks = room.doc.get(schema.BLOCKS, type=Map)
    for block_id in outputs:
        block = blocks.get(block_id)
        if isinstance(block, Map) and schema.kind_of(block) != spec.output:
            raise OutputKindError(spec.name, block_id, schema.kind_of(block), spec.output)


def parse_run(body: dict[str, Any]) -> tuple[ToolSpec, list[str], dict[str, Any]]:
    """The tool, input block ids and validated parameters of a run (or an estimate)."""
    spec = get_tool(str(body.get("tool", "")))
    inputs = _ids(body.get("inputs"), "inputs")
    if len(inputs) > MAX_INPUTS:
        raise TooManyInputsError(len(inputs))
    params_in = body.get("params") or {}
    if not isinstance(params_in, dict):
        raise ValueError("params must be an object")
    return spec, inputs, dict(validate_params(spec, params_in))


def input_kinds(room: Room, inputs: list[str]) -> list[str]:
    """The kind of each input block; 404 for one that is not in the canvas."""
    blocks = room.doc.get(schema.BLOCKS, type=Map)
    kinds = []
    for block_id in inputs:
        block = blocks.get(block_id)
        if not isinstance(block, Map):
            raise BlockNotFoundError(block_id)
        kinds.append(schema.kind_of(block))
    return kinds


async def create_job(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    body = await json_body(request)
    spec, inputs, params = parse_run(body)
    outputs = _ids(body.get("outputs"), "outputs")
    if set(outputs) & set(inputs):
        raise ValueError("a block cannot be both an input and an output")
    # Fewer outputs than the tool makes is a run again of some of them, in place (one image
    # of four variations); more is never right.
    if outputs and spec.outputs and len(outputs) > spec.outputs:
        raise ValueError(f"{spec.name} makes {spec.outputs} block(s); {len(outputs)} given")
    if len(outputs) > MAX_OUTPUTS:
        raise ValueError(f"at most {MAX_OUTPUTS} output blocks; {len(outputs)} given")
    author = body.get("author")
    author = author if isinstance(author, str) and len(author) <= 100 else None

    job_id = secrets.token_hex(12)
    ip = services.client_ip(request)
    refused = await services.check_room_load(request, room_id)
    if refused is not None:
        return refused
    async with services.rooms.session(room_id) as room:
        await _wait_for_blocks(room, inputs + outputs, OUTPUT_WAIT,
                               lambda: empty_input(room, spec, inputs) is None)
        kinds = input_kinds(room, inputs)
        validate_inputs(spec, kinds)
        empty = empty_input(room, spec, inputs)
        if empty is not None:
            raise empty
        _check_outputs(room, spec, outputs)
        plan = await plan_run(services, request, room, spec, inputs, kinds, params)
        index = await index_for(room)  # built once per room load, before anything is spent
        lines = plan.lines if plan is not None else []
        if plan is not None:
            params["model"] = plan.model.id  # the worker runs what was checked and estimated
        limited, decision = await services.decide(
            [*services.rates.job_buckets(ip, room_id),
             *(Budget(line.key, line.limit, line.amount, line.name) for line in lines)], "runs")
        if limited is not None:
            return limited
        reservation = _reservation(lines, decision)
        try:
            made = room.transact(lambda doc: prepare_outputs(doc, index, spec, job_id, inputs,
                                                             outputs, author))
        except BaseException:
            await _refund(services, reservation)
            raise
    try:
        job = await services.jobs.create(
            job_id, room_id, spec.name, inputs, made, params,
            max_attempts=services.settings.job_max_attempts,
            requester_ip_hash=hashlib.sha256(ip.encode()).digest(), requested_by=author,
            estimate=plan.estimate_json() if plan is not None else None,
            reservation=reservation)
    except BaseException:
        await _refund(services, reservation)
        raise
    try:
        await enqueue(services.arq, services.settings.redis_prefix, job_id)
    except OSError:
        pass  # the sweeper hands queued jobs the queue lost back to it
    position = await services.jobs.position(job, services.settings.room_job_concurrency)
    return JSONResponse({"job_id": job_id, "outputs": made, "status": job.status,
                         "position": position}, status_code=202)


async def get_job(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    job = await services.jobs.get(request.path_params["job"], room_id)
    if job is None:
        return problem(404, "no such job in this canvas", kind="job_not_found")
    return JSONResponse(job.to_json(
        await services.jobs.position(job, services.settings.room_job_concurrency)))


async def list_jobs(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    jobs = await services.jobs.list_room(room_id)
    cap = services.settings.room_job_concurrency
    return JSONResponse({"jobs": [j.to_json(await services.jobs.position(j, cap)) for j in jobs]})


def _reservation(lines: list[budgets.Line], decision: Any) -> dict[str, Any] | None:
    """What the job keeps of the budgets it spent from: the limiter's UTC day and amounts."""
    if not lines or decision is None:
        return None
    names = {line.name for line in lines}
    reset = next((p.reset for p in decision.policies if p.name in names), 0.0)
    return budgets.reservation(lines, budgets.day_from_reset(reset))


async def _refund(services: Services, reservation: dict[str, Any] | None) -> None:
    """Give a job's reservation back (it was refused after spending, or never ran)."""
    if reservation is not None:
        await budgets.Settler(services.arq, services.settings.redis_prefix).adjust(
            reservation, budgets.amounts({}, 0.0))


MAX_NAME = 100  # a display name, as presence carries it (sync/awareness.py keeps 100)


def display_name(value: Any, field: str) -> str | None:
    """A person's display name sent with an action (who cancelled a job, who restored a
    version), so others can be told who did it; absent or blank is None. Anything but
    text of at most :data:`MAX_NAME` characters is refused (400), before anything
    changes."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise ValueError(f"{field} must be a display name of at most {MAX_NAME} characters")
    return value.strip() or None


def mark_blocks(doc: Doc[Any], block_ids: list[str], job_id: str, status: str) -> None:
    """Mark the job's blocks, except the images it already finished (they stay done)."""
    blocks = doc.get(schema.BLOCKS, type=Map)
    for block_id in block_ids:
        block = blocks.get(block_id)
        if schema.finished_image(block, job_id):
            continue
        if isinstance(block, Map) and block.get("jobId") == job_id:
            block["status"] = status


async def cancel_job(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    refused = await services.check_room_load(request, room_id)  # before anything changes
    if refused is not None:
        return refused
    job_id = request.path_params["job"]
    by = display_name((await json_body(request)).get("by"), "by")
    job = await services.jobs.get(job_id, room_id)
    if job is None:
        return problem(404, "no such job in this canvas", kind="job_not_found")
    cancelled = await services.jobs.cancel(job_id, by)
    if cancelled is None:
        return problem(409, f"the job has already ended ({job.status})", kind="job_ended",
                       status_now=job.status)
    await services.signals.cancel(job_id)
    if job.status == "queued":  # it never runs again: give back all it reserved
        await budgets.settle(services.jobs, budgets.Settler(
            services.arq, services.settings.redis_prefix), job_id, {}, 0.0)
    async with services.rooms.session(room_id) as room:
        room.transact(lambda doc: mark_blocks(doc, cancelled.outputs, job_id, "cancelled"),
                      author=by or "someone")
    return JSONResponse(cancelled.to_json())


__all__ = ["ACTIVE", "create_job", "display_name", "get_job", "list_jobs", "list_tools",
           "problem_for"]
