"""Runs one job attempt: claim, fence, execute the tool, record the outcome.

The job's PostgreSQL row is the truth (see ``sync/jobs.py``). An attempt writes into the
canvas only while its fence holds (it is still the job's current attempt and nobody
cancelled it); a watcher checks the fence every quarter second and stops the provider call
when it breaks, so a cancel takes effect within a second. Transient provider failures go
back to the queue with exponential backoff and jitter; the final failure puts a sentence a
person can act on into the block, never a stack trace.

Every attempt that ends the job records what it used and its cost (the price table in
``sync/models.py``) and settles the job's budget reservation (``sync/budgets.py``): a
finished job with the provider's usage, a failed or cancelled one with what it made before
it stopped (images stored, text written), so the rest of its estimate is given back.
A canvas that brought its own API key runs on a provider built from that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from arq.connections import ArqRedis
from pycrdt import Map

from sync import doc_schema as schema
from sync.budgets import Settler, settle
from sync.errors import ArborError
from sync.jobs import REDIS_DOWN, JobRecord, JobSignals, JobStore, enqueue
from sync.models import CHARS_PER_TOKEN, PriceTable
from sync.settings import Settings
from sync.tools import ToolError

from .providers.base import ProviderError
from .tools import BlockGoneError, FenceBrokenError, ToolRun, execute

if TYPE_CHECKING:
    from sync.blobs import BlobStore
    from sync.keys import KeyRing
    from sync.rooms import RoomManager

    from .providers.registry import Registry

log = logging.getLogger(__name__)
T = TypeVar("T")

FENCE_POLL = 0.25


class JobCancelledError(Exception):
    pass


@dataclasses.dataclass
class Worker:
    settings: Settings
    rooms: RoomManager
    jobs: JobStore
    signals: JobSignals
    arq: ArqRedis
    registry: Registry
    blobs: BlobStore
    worker_id: str
    keys: KeyRing | None = None
    prices: PriceTable = dataclasses.field(default_factory=PriceTable.default)
    running: dict[str, int] = dataclasses.field(default_factory=dict)
    finished: int = 0

    async def run(self, job_id: str) -> str:
        job = await self.jobs.claim(job_id, self.worker_id, self.settings.room_job_concurrency)
        if job is None:
            current = await self.jobs.get(job_id)
            if current is not None and current.status == "queued":
                # Its room already runs as many jobs as it may: wait behind the others.
                await self._enqueue(job_id, defer=0.5 + random.random())
                return "deferred"
            return "skipped"
        self.running[job.id] = job.attempt
        try:
            with contextlib.suppress(*REDIS_DOWN):  # fence checks fall back to the row
                await self.signals.set_fence(job.id, job.attempt)
            log.info("job %s (%s) attempt %d started", job.id, job.tool, job.attempt,
                     extra={"job": job.id, "room": job.room_id})
            return await self._attempt(job)
        except asyncio.CancelledError:
            # Only the worker stopping cancels an attempt from outside (a broken fence
            # stops it as FenceBrokenError): queue the job again now, not after the
            # sweepers' ``job_stale_after``.
            await self.hand_back(job)
            raise
        finally:
            self.running.pop(job.id, None)
            self.finished += 1

    async def hand_back(self, job: JobRecord) -> None:
        """Put a job whose attempt this worker stopped back in the queue: the next attempt
        starts over (the fence moves on, so this one can write nothing more)."""
        try:
            queued = await self.jobs.reset_stale(job)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not queue job %s again (%s); a sweeper will", job.id, exc,
                        extra={"job": job.id})
            return
        if queued is None:
            return  # it ended, or was cancelled or superseded, meanwhile
        with contextlib.suppress(*REDIS_DOWN):
            await self.signals.set_fence(job.id, job.attempt + 1)
        await self._mark_blocks(job, "queued", "")
        await self._enqueue(job.id)
        log.info("job %s attempt %d stopped with the worker; queued again", job.id,
                 job.attempt, extra={"job": job.id, "room": job.room_id})

    async def _attempt(self, job: JobRecord) -> str:
        registry = self.registry
        if self.keys is not None:
            registry = registry.for_room(await self.keys.reveal(job.room_id))
        try:
            return await self._attempt_with(job, registry)
        finally:
            await registry.aclose_owned()

    async def _attempt_with(self, job: JobRecord, registry: Registry) -> str:
        run = ToolRun(job=job, settings=self.settings, rooms=self.rooms, registry=registry,
                      blobs=self.blobs, fence=self._fence_check(job))
        try:
            async with asyncio.timeout(self.settings.job_timeout):
                outcome = await self._guarded(job, execute(run))
        except JobCancelledError:
            await self._mark_blocks(job, "cancelled", "")
            await self.settle_partial(job, record=True)
            return "cancelled"
        except FenceBrokenError:
            if await self._cancelled(job):
                await self._mark_blocks(job, "cancelled", "")
                await self.settle_partial(job, record=True)
                return "cancelled"
            return "superseded"  # a newer attempt owns the blocks now
        except BlockGoneError:
            cancelled = await self.jobs.cancel(job.id)
            if cancelled is not None:
                with contextlib.suppress(*REDIS_DOWN):
                    await self.signals.cancel(job.id)
            await self._mark_blocks(job, "cancelled", "")
            await self.settle_partial(job, record=True)
            return "cancelled"
        except ProviderError as exc:
            return await self._failed(job, exc.message, transient=exc.transient,
                                      retry_after=exc.retry_after)
        except TimeoutError:
            minutes = self.settings.job_timeout / 60
            return await self._failed(job, f"The model took longer than {minutes:g} minutes",
                                      transient=True, retry_after=None)
        except (ToolError, ArborError) as exc:
            return await self._failed(job, exc.detail, transient=False, retry_after=None)
        except Exception:
            log.exception("job %s failed", job.id, extra={"job": job.id, "room": job.room_id})
            return await self._failed(job, "Something went wrong on our side while running "
                                      "this tool; try again", transient=False,
                                      retry_after=None)
        cost = self.prices.cost(outcome.model or "", outcome.usage)
        done = await self.jobs.finish(job, "done", usage=outcome.usage, model=outcome.model,
                                      cost_usd=cost)
        if done is None:
            return "superseded"
        await self._settle(job, outcome.usage, cost)
        log.info("job %s done", job.id, extra={"job": job.id, "room": job.room_id})
        return "done"

    async def _settle(self, job: JobRecord, usage: dict[str, Any], cost: float) -> None:
        """Move the job's budget counters from its estimate to what it used (once)."""
        try:
            await settle(self.jobs, Settler(self.arq, self.settings.redis_prefix), job.id,
                         usage, cost)
        except (*REDIS_DOWN, asyncpg.PostgresError) as exc:
            log.warning("could not settle the budgets of job %s: %s", job.id, exc,
                        extra={"job": job.id})

    async def _made(self, job: JobRecord) -> dict[str, Any]:
        """What an unfinished job made before it stopped, read from its blocks: images
        stored, text written (about four characters a token), and, if it made anything,
        its estimated input."""
        images = chars = 0
        try:
            async with self.rooms.session(job.room_id) as room:
                blocks = room.doc.get(schema.BLOCKS, type=Map)
                for block_id in job.outputs:
                    block = blocks.get(block_id)
                    if not isinstance(block, Map) or block.get("jobId") != job.id:
                        continue
                    if block.get("kind") == "image":
                        images += isinstance(block.get("image"), dict)
                    else:
                        chars += len(schema.text_of(block.get("text")))
        except ArborError as exc:
            log.warning("could not read what job %s made: %s", job.id, exc)
        output_tokens = math.ceil(chars / CHARS_PER_TOKEN)
        started = images or output_tokens
        estimate = job.estimate or {}
        return {"input_tokens": int(estimate.get("input_tokens", 0)) if started else 0,
                "output_tokens": output_tokens, "images": images}

    async def settle_partial(self, job: JobRecord, *, record: bool) -> dict[str, Any]:
        """Settle a job that did not finish with what it made; ``record`` also writes that
        usage and its cost into the row (a failed job's ``finish`` writes them itself)."""
        usage = await self._made(job)
        model = str(job.params.get("model") or "") or None
        cost = self.prices.cost(model or "", usage)
        if record:
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await self.jobs.record_spend(job.id, usage, model, cost)
        await self._settle(job, usage, cost)
        return {"usage": usage, "model": model, "cost_usd": cost}

    async def _failed(self, job: JobRecord, message: str, *, transient: bool,
                      retry_after: float | None) -> str:
        if transient and job.attempt < job.max_attempts:
            delay = retry_after if retry_after is not None else min(
                60.0, 2.0 ** job.attempt) * (0.5 + random.random())
            requeued = await self.jobs.requeue(job, delay=delay, note=message)
            if requeued is None:
                return "superseded"
            await self._mark_blocks(job, "queued", f"{message}; retrying in {delay:.0f} s")
            await self._enqueue(job.id, defer=delay)
            log.warning("job %s attempt %d failed (%s); retrying in %.1fs", job.id,
                        job.attempt, message, delay, extra={"job": job.id})
            return "retrying"
        made = await self._made(job)
        model = str(job.params.get("model") or "") or None
        cost = self.prices.cost(model or "", made)
        finished = await self.jobs.finish(job, "error", error=message, usage=made, model=model,
                                          cost_usd=cost)
        if finished is not None:
            await self._mark_blocks(job, "error", message)
            await self._settle(job, made, cost)
        log.warning("job %s failed: %s", job.id, message, extra={"job": job.id})
        return "error"

    async def _enqueue(self, job_id: str, *, defer: float = 0) -> None:
        try:
            await enqueue(self.arq, self.settings.redis_prefix, job_id, defer=defer)
        except REDIS_DOWN as exc:
            # The row says queued: the sweeper hands it to the queue once Redis is back.
            log.warning("could not hand job %s to the queue (%s); the sweeper will", job_id,
                        exc, extra={"job": job_id})

    async def _fence_holds(self, job: JobRecord) -> bool:
        """Whether this attempt may still write: the Redis mirror of the fence, or the
        job's row when Redis is away (a Redis restart must not fail the job)."""
        try:
            holds = await self.signals.fence_holds(job.id, job.attempt)
        except REDIS_DOWN:
            holds = None
        if holds is None:  # Redis away, or restarted and emptied: the row is the truth
            return await self.jobs.fence_holds(job.id, job.attempt)
        return holds

    def _fence_check(self, job: JobRecord) -> Any:
        async def check() -> None:
            if not await self._fence_holds(job):
                raise FenceBrokenError(job.id)
        return check

    async def _cancelled(self, job: JobRecord) -> bool:
        try:
            return await self.signals.cancelled(job.id)
        except REDIS_DOWN:
            current = await self.jobs.get(job.id)
            return current is not None and current.status == "cancelled"

    async def _guarded(self, job: JobRecord, work: Awaitable[T]) -> T:
        """Run ``work``, stopping it within ``FENCE_POLL`` once the fence breaks."""
        task = asyncio.current_task()
        assert task is not None
        broken = False

        async def watch() -> None:
            nonlocal broken
            while True:
                await asyncio.sleep(FENCE_POLL)
                try:
                    holds = await self._fence_holds(job)
                except (*REDIS_DOWN, asyncpg.PostgresError):
                    continue  # both stores briefly away: keep going, writes check again
                if not holds:
                    broken = True
                    task.cancel()
                    return

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            return await work
        except asyncio.CancelledError:
            if broken:
                task.uncancel()
                if await self._cancelled(job):
                    raise JobCancelledError(job.id) from None
                raise FenceBrokenError(job.id) from None
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _mark_blocks(self, job: JobRecord, status: str, error: str) -> None:
        """Mark the job's output blocks, except the images it already finished: those stay
        done through a retry (which keeps them) or the job's failure."""
        def edit(doc: Any) -> None:
            blocks = doc.get(schema.BLOCKS, type=Map)
            for block_id in job.outputs:
                block = blocks.get(block_id)
                if schema.finished_image(block, job.id):
                    continue
                if isinstance(block, Map) and block.get("jobId") == job.id:
                    block["status"] = status
                    block["error"] = error

        try:
            async with self.rooms.session(job.room_id) as room:
                room.transact(edit)
        except ArborError as exc:
            log.error("could not mark the blocks of job %s %s: %s", job.id, status, exc)
