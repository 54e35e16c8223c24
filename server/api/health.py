"""``/healthz``: is PostgreSQL reachable, is Redis reachable."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from sync.errors import StoreError

if TYPE_CHECKING:
    from ..app import Services


async def healthz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(services.store.ping(), 2)
        checks["postgres"] = "ok"
    except (StoreError, TimeoutError) as exc:
        checks["postgres"] = f"unreachable: {exc}"
    if services.fanout is None:
        checks["redis"] = "not configured"
    else:
        try:
            await asyncio.wait_for(services.fanout.redis.ping(), 2)
            checks["redis"] = "ok"
        except Exception as exc:  # any failure to answer is "unreachable" here
            checks["redis"] = f"unreachable: {type(exc).__name__}"
    ok = all(v in ("ok", "not configured") for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", **checks,
         "rooms": len(services.rooms.rooms), "unloading": services.rooms.unloading},
        status_code=200 if ok else 503,
    )
