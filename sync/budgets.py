"""Daily budgets: tokens, images and estimated dollars per canvas and per client address.

A job is checked against its budgets before it is queued, in the same atomic Redis script
as the rate limits (``server/ratelimit.py``: each budget is a ``Budget`` entry, a counter
``{d: day, n: used}`` that starts over at 00:00 UTC). It spends its *estimate* then (the
reservation, kept in the job row), so any number of concurrent requests, on any number of
server processes, can never together pass a budget. When the job ends the worker *settles*
it: each counter moves by the difference between what the job really used and what it
reserved (a failed or cancelled job gives back what it did not use). Each job is settled
once (``jobs.settled_at``). A job that ends on a later UTC day than it reserved gives
nothing back (the counters it reserved from have started over), and what it used beyond
its reservation counts against the day it ended.

Dollars are counted in micro-dollars (whole numbers), so sums never drift.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import redis.asyncio as aioredis

from .settings import Settings

if TYPE_CHECKING:
    from .jobs import JobStore

log = logging.getLogger(__name__)

RL_PREFIX: Final = "rl:"  # the rate limiter's key space (``{redis_prefix}rl:``)
Scope = Literal["room", "ip"]
Metric = Literal["tokens", "images", "usd"]
METRICS: Final[tuple[Metric, ...]] = ("tokens", "images", "usd")
MICRO: Final = 1_000_000

_WHAT: Final = {"tokens": "model token", "images": "image", "usd": "spending"}

# KEYS: counters; ARGV[1]: the UTC day of the reservation, then one delta per key. Time is
# Redis's, as in the limiter. A job settled on the day it reserved moves each counter by its
# delta; one that ends on a later day gives nothing back (that day's counters have started
# over) and charges what it used beyond its reservation to the day it ended.
_SETTLE: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local today = math.floor(tonumber(t[1]) / 86400)
local ttl = ((today + 1) * 86400 - tonumber(t[1])) * 1000 + 3600000
local reserved = tonumber(ARGV[1])
for i = 1, #KEYS do
  local delta = tonumber(ARGV[i + 1])
  if reserved == today or delta > 0 then
    local h = redis.call('HMGET', KEYS[i], 'd', 'n')
    local n = delta
    if tonumber(h[1]) == today then n = (tonumber(h[2]) or 0) + delta end
    if n < 0 then n = 0 end
    redis.call('HSET', KEYS[i], 'd', today, 'n', string.format('%.17g', n))
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
"""


@dataclasses.dataclass(frozen=True)
class Line:
    """One budget a job spends from: its counter key (under ``rl:``), policy name, daily
    limit and the amount this job reserves, in the counter's unit."""

    key: str
    name: str
    limit: int
    amount: int
    scope: Scope
    metric: Metric


def address_id(address_key: str) -> str:
    """The counter id of a client address (hashed: no address is kept with a job)."""
    return hashlib.sha256(address_key.encode()).hexdigest()[:20]


def amounts(units: Mapping[str, Any], cost_usd: float) -> dict[Metric, int]:
    """A job's use in counter units: tokens, images, micro-dollars (rounded up)."""
    def n(k: str) -> int:
        v = units.get(k, 0)
        return math.ceil(v) if isinstance(v, int | float) and math.isfinite(v) else 0

    return {"tokens": n("input_tokens") + n("output_tokens"), "images": n("images"),
            "usd": math.ceil(max(0.0, cost_usd) * MICRO - 1e-6)}


def _limits(settings: Settings) -> dict[tuple[Scope, Metric], int]:
    return {
        ("room", "tokens"): settings.budget_room_daily_tokens,
        ("room", "images"): settings.budget_room_daily_images,
        ("room", "usd"): round(settings.budget_room_daily_usd * MICRO),
        ("ip", "tokens"): settings.budget_ip_daily_tokens,
        ("ip", "images"): settings.budget_ip_daily_images,
        ("ip", "usd"): round(settings.budget_ip_daily_usd * MICRO),
    }


def plan(settings: Settings, room_id: str, address_key: str, units: Mapping[str, Any],
         cost_usd: float) -> list[Line]:
    """The budgets (those with a limit; 0 is unlimited) a job with this estimate spends."""
    spend = amounts(units, cost_usd)
    ids = {"room": room_id, "ip": address_id(address_key)}
    return [Line(f"budget:{scope}:{ids[scope]}:{metric}", f"budget-{scope}-{metric}", limit,
                 spend[metric], scope, metric)
            for (scope, metric), limit in _limits(settings).items() if limit > 0]


def message(name: str | None) -> str:
    """A sentence for a person about the budget ``name`` (``budget-room-images``) running out."""
    _, scope, metric = (name or "budget-room-usd").split("-", 2)
    what = _WHAT.get(metric, metric)
    if scope == "room":
        return f"This canvas has used today's {what} budget; it resets at 00:00 UTC"
    return (f"You have used today's {what} budget from this address; it resets at "
            "00:00 UTC")


def utc_day(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 86400)


def day_from_reset(reset_seconds: float, now: float | None = None) -> int:
    """The UTC day a budget counter is on, from the seconds left until it resets (the
    limiter's clock is Redis's; this never depends on ours being exact)."""
    midnight = (time.time() if now is None else now) + reset_seconds
    return round(midnight / 86400) - 1


def reservation(lines: list[Line], day: int) -> dict[str, Any]:
    """What the job row keeps about its budgets: the day, and each counter's amount."""
    return {"day": day, "spent": {line.key: line.amount for line in lines}}


def deltas(reserved: Mapping[str, Any], actual: Mapping[Metric, int]) -> dict[str, int]:
    """Per counter: actual use minus the reservation (negative: given back)."""
    out = {}
    for key, amount in (reserved.get("spent") or {}).items():
        metric = str(key).rsplit(":", 1)[-1]
        if metric in METRICS:
            out[str(key)] = int(actual.get(metric, 0)) - int(amount)
    return out


class Settler:
    """Moves budget counters by a job's settlement."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + RL_PREFIX
        self._script = redis.register_script(_SETTLE)

    async def adjust(self, reserved: Mapping[str, Any], actual: Mapping[Metric, int]) -> None:
        moves = {k: d for k, d in deltas(reserved, actual).items() if d}
        if not moves:
            return
        keys = [self._prefix + k for k in moves]
        await self._script(keys=keys, args=[int(reserved.get("day", -1)), *moves.values()])


async def settle(jobs: JobStore, settler: Settler, job_id: str, usage: Mapping[str, Any],
                 cost_usd: float) -> None:
    """Settle ``job_id``'s reservation with what it really used (once per job)."""
    reserved = await jobs.take_reservation(job_id)
    if reserved is not None:
        await settler.adjust(reserved, amounts(usage, cost_usd))


__all__ = ["METRICS", "Line", "Settler", "address_id", "amounts", "day_from_reset", "deltas",
           "message", "plan", "reservation", "settle", "utc_day"]
