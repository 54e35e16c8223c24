"""Models, estimates, spend and a canvas's own API keys.

    GET    /api/models[?room=]                 the models on offer (with a room and its link:
                                               also those of the keys the room brought)
    POST   /api/rooms/{room}/estimate          what a run would use and cost (view)
    GET    /api/rooms/{room}/usage             spend today and in total, by person/tool/model
    GET    /api/rooms/{room}/keys              which keys the room brought: set, last4 (edit)
    PUT    /api/rooms/{room}/keys/{provider}   {api_key, base_url?} (edit)
    DELETE /api/rooms/{room}/keys/{provider}   (edit)

``plan_run`` is also how a job is checked before it is queued (``server/api/jobs.py``): it
picks and validates the model, estimates the run from the price table, and names the budget
lines the estimate spends from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pycrdt import Map, Text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync import budgets
from sync import doc_schema as schema
from sync.errors import ArborError, CapabilityError
from sync.keys import RoomKeyError, check_provider, public_keys
from sync.models import (
    ModelError,
    ModelInfo,
    describe_estimate,
    estimate_units,
    required_kind,
)
from sync.store import queries
from sync.tools import ToolSpec

from ..capabilities import Role, bearer, role_for
from ..problems import problem
from ..ratelimit import address_key
from .rooms import authorize, json_body

if TYPE_CHECKING:
    from sync.room import Room

    from ..app import Services


def problem_for(exc: ArborError) -> JSONResponse | None:
    if isinstance(exc, ModelError):
        return problem(400, exc.detail, kind=exc.kind, valid=exc.valid)
    if isinstance(exc, RoomKeyError):
        return problem(400, exc.detail, kind=exc.kind)
    return None


def model_json(info: ModelInfo, services: Services) -> dict[str, Any]:
    return {"id": info.id, "label": info.label, "provider": info.provider,
            "kinds": sorted(info.kinds), "offline": info.offline,
            "price": services.prices.price(info.id).to_json()}


async def _room_with_view(request: Request, room_id: str) -> bool:
    """Whether the request holds a link of ``room_id`` (so may see what the room brought)."""
    services: Services = request.app.state.services
    record = await services.store.get_room(room_id)
    if record is None:
        return False
    try:
        role_for(record, bearer(request.headers.get("authorization")))
    except CapabilityError:
        return False
    return True


async def list_models(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.query_params.get("room", "")
    room = room_id if room_id and await _room_with_view(request, room_id) else None
    available = await services.available_models(room)
    by_kind = {k: [m.id for m in available if k in m.kinds] for k in ("text", "image", "vision")}
    from sync.tools import TOOLS

    defaults = {name: services.choice.default_for(spec, available)
                for name, spec in TOOLS.items() if spec.uses_model}
    return JSONResponse({"models": [model_json(m, services) for m in available],
                         "kinds": by_kind, "defaults": defaults})


# ------------------------------------------------------------------------- estimates


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """A run's model and estimate, and the budget lines that estimate spends from."""

    model: ModelInfo
    units: dict[str, int]
    cost_usd: float
    lines: list[budgets.Line]

    @property
    def text(self) -> str:
        return describe_estimate(self.model, self.units, self.cost_usd)

    def estimate_json(self) -> dict[str, Any]:
        return {"model": self.model.id, **self.units, "cost_usd": self.cost_usd}


# Shared texts up to this long are read to tell a prompt of only blanks from a real one;
# a longer one is counted by its length alone (no one writes 4 KiB of blanks by mistake).
READ_TEXT_MAX = 4096


def _text_chars(value: object) -> int:
    """How long a document value is as text, without reading it: a shared text's length is
    kept by yrs (its UTF-8 bytes: at least its characters, so the estimate stays an upper
    end), and turning a 16 MB text into a string on every estimate is what this avoids."""
    if isinstance(value, Text):
        return len(value)
    return len(value) if isinstance(value, str) else 0


def _template_chars(room: Room, spec: ToolSpec) -> int:
    """The length of the room's own prompt for the tool (``meta.prompts``), or of the tool's
    default when the room's is missing or blank; a long shared text is not read."""
    meta = room.doc.get(schema.META, type=Map)
    prompts = meta.get("prompts")
    value = prompts.get(spec.name) if isinstance(prompts, Map | dict) else None
    size = _text_chars(value)
    if size > READ_TEXT_MAX or (size and str(value).strip()):
        return size
    return len(spec.template or "")


def _prompt_chars(room: Room, spec: ToolSpec, inputs: Sequence[str],
                  params: dict[str, Any]) -> tuple[int, int]:
    """Characters of the prompt a run sends (template, input texts, text parameters), and
    how many images go with it: lengths only, so the cost does not grow with the texts
    (at most :data:`sync.tools.MAX_INPUTS` blocks, and parameters already checked)."""
    blocks = room.doc.get(schema.BLOCKS, type=Map)
    chars = _template_chars(room, spec) + sum(len(v) for k, v in params.items()
                                              if isinstance(v, str) and k != "model")
    images = 0
    for block_id in inputs:
        block = blocks.get(block_id)
        if not isinstance(block, Map):
            continue
        if block.get("kind") == "image":
            images += 1
        else:
            chars += _text_chars(block.get("text"))
    return chars, images


async def plan_run(services: Services, request: Request, room: Room, spec: ToolSpec,
                   inputs: Sequence[str], kinds: Sequence[str],
                   params: dict[str, Any]) -> RunPlan | None:
    """The model (validated: offered here and able to do the run; ``ModelError`` else), the
    estimate and the budget lines of a run; None for a tool that uses no model."""
    if not spec.uses_model:
        return None
    available = await services.available_models(room.id)
    with_images = "image" in kinds and required_kind(spec) == "text"
    info = services.choice.choose(spec, str(params.get("model") or ""), available,
                                  with_images=with_images)
    chars, images = _prompt_chars(room, spec, inputs, params)
    units = estimate_units(spec, info, chars, images, params)
    cost = services.prices.cost(info.id, units)
    lines = budgets.plan(services.settings, room.id,
                         address_key(services.client_ip(request)), units, cost)
    return RunPlan(info, units, round(cost, 6), lines)


async def estimate(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    body = await json_body(request)
    from .jobs import input_kinds, parse_run

    spec, inputs, params = parse_run(body)
    refused = await services.check_room_load(request, room_id)
    if refused is not None:
        return refused
    async with services.rooms.session(room_id) as room:
        kinds = input_kinds(room, inputs)
        plan = await plan_run(services, request, room, spec, inputs, kinds, params)
    if plan is None:
        return JSONResponse({"model": None, "units": {"input_tokens": 0, "output_tokens": 0,
                                                      "images": 0},
                             "cost_usd": 0.0, "text": f"{spec.label} uses no model: free"})
    return JSONResponse({"model": plan.model.id, "units": plan.units,
                         "cost_usd": plan.cost_usd, "text": plan.text})


# ------------------------------------------------------------------------- usage


def _zero() -> dict[str, Any]:
    return {"jobs": 0, "cost_usd": 0.0, "input_tokens": 0, "output_tokens": 0, "images": 0}


def _add(into: dict[str, Any], row: Any) -> None:
    into["jobs"] += int(row["jobs"])
    into["cost_usd"] += float(row["cost_usd"])
    for k in ("input_tokens", "output_tokens", "images"):
        into[k] += int(row[k])


async def _budget_state(services: Services, room_id: str) -> dict[str, Any]:
    """Today's room budgets: limit and used per metric (only those with a limit)."""
    lines = budgets.plan(services.settings, room_id, "", {}, 0.0)
    out: dict[str, Any] = {}
    day = budgets.utc_day()
    for line in lines:
        if line.scope != "room":
            continue
        redis: Any = services.arq
        raw = await redis.hmget(services.settings.redis_prefix + budgets.RL_PREFIX + line.key,
                                ["d", "n"])
        used = float(raw[1]) if raw[0] is not None and int(raw[0]) == day and raw[1] else 0.0
        scale = budgets.MICRO if line.metric == "usd" else 1
        out[line.metric] = {"limit": line.limit / scale, "used": round(used / scale, 6)}
    return out


async def usage(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = request.path_params["room"]
    await authorize(request, room_id, Role.VIEW)
    rows = await services.store.pool.fetch(queries["room_usage"], room_id)
    today, total = _zero(), _zero()
    groups: dict[str, dict[str, dict[str, Any]]] = {"person": {}, "tool": {}, "model": {}}
    for row in rows:
        _add(total, row)
        if row["today"]:
            _add(today, row)
        for what, entries in groups.items():
            name = str(row[what])
            entry = entries.setdefault(name, {what: name, "today": _zero(), "total": _zero()})
            _add(entry["total"], row)
            if row["today"]:
                _add(entry["today"], row)

    def ranked(what: str) -> list[dict[str, Any]]:
        return sorted(groups[what].values(), key=lambda e: (-e["total"]["cost_usd"],
                                                            -e["total"]["jobs"], e[what]))

    try:
        budget = await _budget_state(services, room_id)
    except OSError:
        budget = {}
    return JSONResponse({"today": today, "total": total, "by_person": ranked("person"),
                         "by_tool": ranked("tool"), "by_model": ranked("model"),
                         "budget": budget})


# ------------------------------------------------------------------------- keys


async def _edit(request: Request) -> str:
    room_id: str = request.path_params["room"]
    await authorize(request, room_id, Role.EDIT)
    return room_id


async def get_keys(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = await _edit(request)
    return JSONResponse(public_keys(await services.keys.list(room_id)))


async def put_key(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    room_id = await _edit(request)
    provider = check_provider(request.path_params["provider"])
    body = await json_body(request)
    unknown = sorted(set(body) - {"api_key", "base_url"})
    if unknown:
        raise RoomKeyError("bad_key", f"unknown field(s): {', '.join(unknown)[:100]}")
    await services.keys.put(room_id, provider, body.get("api_key"), body.get("base_url"))
    return JSONResponse(public_keys(await services.keys.list(room_id)))


async def delete_key(request: Request) -> Response:
    services: Services = request.app.state.services
    room_id = await _edit(request)
    provider = check_provider(request.path_params["provider"])
    if not await services.keys.delete(room_id, provider):
        return problem(404, f"this canvas has no {provider} key", kind="key_not_found")
    return Response(status_code=204)


__all__ = ["RunPlan", "delete_key", "estimate", "get_keys", "list_models", "plan_run",
           "problem_for", "put_key", "usage"]
