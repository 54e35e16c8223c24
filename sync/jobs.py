"""Job records: the PostgreSQL row is the truth about a generation job.

arq only carries a job id to a worker. A worker *claims* the row (``queued`` → ``running``,
attempt + 1) and from then on every state change names its attempt, so a stale attempt
(a worker that was presumed dead) can change nothing. Workers heartbeat their running
jobs; a sweeper puts jobs whose heartbeat stopped back in the queue (or fails them after
the last attempt) and re-enqueues queued jobs the queue lost (a Redis restart).

The fence is mirrored in Redis (``job:{id}:fence`` = current attempt, and
``job:{id}:cancel``) so a worker can check it between streamed chunks without a database
round trip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
from typing import Any, Final

import asyncpg
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import jsontext
from .store import queries

log = logging.getLogger(__name__)

RUN_JOB: Final = "run_job"  # the arq function name workers register
ACTIVE: Final = ("queued", "running")
FINAL: Final = ("done", "error", "cancelled")
# What Redis raises while it is away (restarting, unreachable): a job rides it out.
REDIS_DOWN: Final = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclasses.dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    room_id: str
    tool: str
    inputs: list[str]
    outputs: list[str]
    params: dict[str, Any]
    status: str
    attempt: int
    max_attempts: int
    error: str | None
    worker: str | None
    model: str | None
    usage: dict[str, Any] | None
    created_at: dt.datetime
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    requested_by: str | None = None
    estimate: dict[str, Any] | None = None
    cost_usd: float | None = None
    cancelled_by: str | None = None

    def to_json(self, position: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.id,
            "room": self.room_id,
            "tool": self.tool,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "params": self.params,
            "status": self.status,
            "attempt": self.attempt,
            "error": self.error,
            "model": self.model,
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "estimate": self.estimate,
            "requested_by": self.requested_by,
            "cancelled_by": self.cancelled_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }
        if position is not None:
            out["position"] = position
        return out


def _load(value: Any) -> Any:
    """A JSON column as stored (asyncpg hands ``jsonb`` over as text), through the bounded
    reader: nothing deeper than what a request body may hold gets into a job record."""
    if not isinstance(value, str):
        return value
    return jsontext.loads(value, what="a stored job field", max_bytes=len(value))


def _job(row: Any) -> JobRecord:
    return JobRecord(
        id=row["id"], room_id=row["room_id"], tool=row["tool"], inputs=_load(row["inputs"]),
        outputs=_load(row["outputs"]), params=_load(row["params"]), status=row["status"],
        attempt=row["attempt"], max_attempts=row["max_attempts"], error=row["error"],
        worker=row["worker"], model=row["model"], usage=_load(row["usage"]),
        created_at=row["created_at"], queued_at=row["queued_at"],
        started_at=row["started_at"], finished_at=row["finished_at"],
        requested_by=row["requested_by"], estimate=_load(row.get("estimate")),
        cost_usd=row.get("cost_usd"), cancelled_by=row.get("cancelled_by"),
    )


def _opt(row: Any) -> JobRecord | None:
    return None if row is None else _job(row)


class JobStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(self, job_id: str, room_id: str, tool: str, inputs: list[str],
                     outputs: list[str], params: dict[str, Any], *, max_attempts: int,
                     requester_ip_hash: bytes | None, requested_by: str | None,
                     estimate: dict[str, Any] | None = None,
                     reservation: dict[str, Any] | None = None) -> JobRecord:
        row = await self.pool.fetchrow(
            queries["insert_job"], job_id, room_id, tool, json.dumps(inputs),
            json.dumps(outputs), json.dumps(params), max_attempts, requester_ip_hash,
            requested_by, json.dumps(estimate) if estimate is not None else None,
            json.dumps(reservation) if reservation is not None else None)
        return _job(row)

    async def get(self, job_id: str, room_id: str | None = None) -> JobRecord | None:
        if room_id is None:
            return _opt(await self.pool.fetchrow(queries["get_job"], job_id))
        return _opt(await self.pool.fetchrow(queries["get_room_job"], job_id, room_id))

    async def list_room(self, room_id: str, limit: int = 50) -> list[JobRecord]:
        rows = await self.pool.fetch(queries["list_room_jobs"], room_id, limit)
        return [_job(r) for r in rows]

    async def position(self, job: JobRecord, room_cap: int) -> int | None:
        """How many queued jobs are ahead of this one (``None`` unless it is queued): every
        earlier one of its own room, and at most ``room_cap`` earlier ones of each other
        room. A room may run only ``room_cap`` jobs at once and the workers skip the rest
        of its queue meanwhile, so a quiet room's job does not wait for a busy room's whole
        backlog."""
        if job.status != "queued":
            return None
        n: int = await self.pool.fetchval(queries["queue_position"], job.queued_at,
                                          job.room_id, room_cap)
        return n

    async def claim(self, job_id: str, worker: str, room_cap: int) -> JobRecord | None:
        """``queued`` → ``running`` with a new attempt, if the room is under its cap."""
        async with self.pool.acquire() as conn, conn.transaction():
            room = await conn.fetchval("SELECT room_id FROM jobs WHERE id = $1", job_id)
            if room is None:
                return None
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", room)
            return _opt(await conn.fetchrow(queries["claim_job"], job_id, worker, room_cap))

    async def fence_holds(self, job_id: str, attempt: int) -> bool:
        """The fence from the row itself (when Redis is away): ``attempt`` still runs."""
        row = await self.pool.fetchrow(queries["job_fence"], job_id)
        return row is not None and row["status"] == "running" and row["attempt"] == attempt

    async def heartbeat(self, job_ids: list[str], worker: str) -> None:
        await self.pool.execute(queries["heartbeat_jobs"], job_ids, worker)

    async def requeue(self, job: JobRecord, *, delay: float, note: str | None) -> JobRecord | None:
        return _opt(await self.pool.fetchrow(queries["requeue_job"], job.id, job.attempt,
                                             delay, note))

    async def finish(self, job: JobRecord, status: str, *, error: str | None = None,
                     usage: dict[str, Any] | None = None,
                     model: str | None = None, cost_usd: float | None = None
                     ) -> JobRecord | None:
        assert status in FINAL
        return _opt(await self.pool.fetchrow(
            queries["finish_job"], job.id, job.attempt, status, error,
            json.dumps(usage) if usage is not None else None, model, cost_usd))

    async def record_spend(self, job_id: str, usage: dict[str, Any], model: str | None,
                           cost_usd: float) -> None:
        """What a job that ended another way (cancelled) used before it stopped."""
        await self.pool.execute(queries["record_job_spend"], job_id, json.dumps(usage), model,
                                cost_usd)

    async def take_reservation(self, job_id: str) -> dict[str, Any] | None:
        """The job's budget reservation, marking it settled; None if it has none or was
        settled already (so each job is settled once)."""
        value = await self.pool.fetchval(queries["settle_job"], job_id)
        loaded = _load(value)
        return loaded if isinstance(loaded, dict) else None

    async def cancel(self, job_id: str, by: str | None = None) -> JobRecord | None:
        """Cancel a job that has not ended; ``by`` (a display name) is kept, so the person
        whose run it was can be told who stopped it."""
        return _opt(await self.pool.fetchrow(queries["cancel_job"], job_id, by))

    async def cancel_for_blocks(self, room_id: str, block_ids: list[str]) -> list[JobRecord]:
        rows = await self.pool.fetch(queries["cancel_jobs_of_blocks"], room_id, block_ids)
        return [_job(r) for r in rows]

    async def stale_running(self, after: float) -> list[JobRecord]:
        return [_job(r) for r in await self.pool.fetch(queries["stale_running_jobs"], after)]

    async def forgotten_queued(self, after: float) -> list[JobRecord]:
        return [_job(r) for r in await self.pool.fetch(queries["forgotten_queued_jobs"], after)]

    async def touch_queued(self, job_id: str) -> None:
        await self.pool.execute(queries["touch_queued_job"], job_id)

    async def reset_stale(self, job: JobRecord) -> JobRecord | None:
        return _opt(await self.pool.fetchrow(queries["reset_stale_job"], job.id, job.attempt))

    async def fail_stale(self, job: JobRecord, error: str) -> JobRecord | None:
        return _opt(await self.pool.fetchrow(queries["fail_stale_job"], job.id, job.attempt,
                                             error))


class JobSignals:
    """The Redis side of a job: its fence (current attempt) and its cancel flag."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl: int = 24 * 3600) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, job_id: str, what: str) -> str:
        return f"{self.prefix}job:{job_id}:{what}"

    async def set_fence(self, job_id: str, attempt: int) -> None:
        await self.redis.set(self._key(job_id, "fence"), attempt, ex=self.ttl)

    async def fence_holds(self, job_id: str, attempt: int) -> bool | None:
        """Whether ``attempt`` may still write (not superseded, not cancelled); ``None``
        when Redis does not know the job (it restarted empty): ask the row instead."""
        fence, cancel = await self.redis.mget(self._key(job_id, "fence"),
                                              self._key(job_id, "cancel"))
        if cancel is not None:
            return False
        if fence is None:
            return None
        return int(fence) == attempt

    async def cancel(self, job_id: str) -> None:
        await self.redis.set(self._key(job_id, "cancel"), 1, ex=self.ttl)

    async def cancelled(self, job_id: str) -> bool:
        return bool(await self.redis.exists(self._key(job_id, "cancel")))


def queue_name(prefix: str) -> str:
    return f"{prefix}arq:queue"


def arq_job_id(job_id: str) -> str:
    """A distinct arq id per hand-over, so arq never confuses two runs (arq#485); a
    duplicate hand-over is harmless because only one of them can claim the row."""
    return f"{job_id}:{secrets.token_hex(4)}"


async def enqueue(arq: ArqRedis, prefix: str, job_id: str, *, defer: float = 0) -> None:
    await arq.enqueue_job(RUN_JOB, job_id, _job_id=arq_job_id(job_id),
                          _queue_name=queue_name(prefix),
                          _defer_by=defer if defer > 0 else None)
