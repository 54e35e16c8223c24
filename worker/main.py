"""``arbor worker``: an arq worker that runs jobs, heartbeats them, and sweeps lost ones.

arq is in maintenance mode and has known gaps (a crashed job re-runs only after the
longest timeout, arq#402; abort is unreliable, arq#394/#405; reused ids, arq#485), so it
only carries job ids: the PostgreSQL row is the truth. Every worker heartbeats the jobs it
runs; every worker also sweeps: a running job whose heartbeat stopped goes back to the
queue (or fails after its last attempt) and a queued job the queue lost (Redis restarted)
is handed to the queue again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker as ArqWorker

from sync.blobs import open_blob_store
from sync.fanout import Fanout
from sync.jobs import REDIS_DOWN, RUN_JOB, JobSignals, JobStore, enqueue, queue_name
from sync.keys import KeyBox, KeyRing, server_secret
from sync.rooms import RoomManager
from sync.settings import Settings
from sync.store import PostgresStore, migrate

from .providers.registry import ProviderConfig, Registry
from .runner import Worker

log = logging.getLogger(__name__)

# How often a worker heartbeats and sweeps, when a running job counts as lost (its
# heartbeat is older than this) and when a queued job may have left the queue: Settings
# ``job_heartbeat``, ``job_stale_after``, ``job_lost_after`` (ARBOR_JOB_*_SECONDS).


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    worker: Worker = ctx["arbor"]
    return await worker.run(job_id)


async def heartbeat_and_sweep(worker: Worker) -> None:
    every = worker.settings.job_heartbeat
    while True:
        await asyncio.sleep(every)
        try:
            if worker.running:
                await worker.jobs.heartbeat(list(worker.running), worker.worker_id)
            await sweep(worker)
        except Exception:  # the loop must outlive a database or Redis hiccup
            log.exception("heartbeat/sweep failed; trying again in %.1fs", every)


async def sweep(worker: Worker) -> None:
    prefix = worker.settings.redis_prefix
    for job in await worker.jobs.stale_running(worker.settings.job_stale_after):
        if job.attempt >= job.max_attempts:
            failed = await worker.jobs.fail_stale(
                job, "The worker running this tool stopped, and so did every retry")
            if failed is not None:
                await worker._mark_blocks(job, "error", failed.error or "")
                await worker.settle_partial(failed, record=True)
            continue
        if await worker.jobs.reset_stale(job) is not None:
            log.warning("job %s lost its worker (%s); queued again", job.id, job.worker,
                        extra={"job": job.id})
            await worker.signals.set_fence(job.id, job.attempt + 1)
            await enqueue(worker.arq, prefix, job.id)
    for job in await worker.jobs.forgotten_queued(worker.settings.job_lost_after):
        await enqueue(worker.arq, prefix, job.id)  # Redis still away: the next sweep tries
        await worker.jobs.touch_queued(job.id)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    dsn = settings.database_url.reveal()
    await migrate(dsn)
    store = await PostgresStore.connect(dsn)
    fanout = Fanout.from_url(settings.redis_url.reveal(), prefix=settings.redis_prefix,
                             process_id="", retention=settings.stream_retention)
    rooms = RoomManager(store, fanout, settings)
    config = ProviderConfig.from_settings(settings)
    fanout.process_id = rooms.process_id.encode()
    await fanout.start()
    await rooms.start()
    worker = Worker(
        settings=settings, rooms=rooms, jobs=JobStore(store.pool),
        signals=JobSignals(ctx["redis"], settings.redis_prefix), arq=ctx["redis"],
        registry=Registry.from_config(config),
        blobs=open_blob_store(settings),
        worker_id=f"{socket.gethostname()}:{os.getpid()}:{rooms.process_id}",
        keys=KeyRing(store.pool, KeyBox(server_secret(settings))), prices=config.prices)
    ctx["arbor"] = worker
    ctx["store"] = store
    ctx["fanout"] = fanout
    ctx["sweeper"] = asyncio.get_running_loop().create_task(heartbeat_and_sweep(worker))
    log.info("worker %s ready", worker.worker_id)


async def shutdown(ctx: dict[str, Any]) -> None:
    sweeper = ctx.get("sweeper")
    if sweeper is not None:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    worker: Worker | None = ctx.get("arbor")
    if worker is not None:
        await worker.rooms.shutdown()
        await worker.blobs.close()
        for provider in worker.registry.providers.values():
            await provider.aclose()
    if "fanout" in ctx:
        await ctx["fanout"].stop()
    if "store" in ctx:
        await ctx["store"].close()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class _ArqWorker(ArqWorker):
    """Three repairs of arq 0.28 (pinned; the private names are its own):

    - a stop signal (SIGTERM, SIGINT, SIGHUP) drains instead of cancelling every job at
      once: the worker takes no new job, gives the running ones ``drain`` seconds, then
      cancels the rest (the runner queues each again at once, see ``Worker.run``) and
      exits. A second signal cancels at once. arq's own drain (``job_completion_wait``)
      takes whole seconds and treats a second signal as a first one;
    - its poll loop ends the worker on the first Redis error (a restart, a blip): this one
      logs it and polls again, so the jobs it runs, its heartbeats and its sweeps go on and
      the worker takes jobs again once Redis is back;
    - its ``close()`` cancels the running jobs and then re-raises their cancellation, which
      skips ``on_shutdown`` — our flush of every room the worker wrote to. This one waits
      for them without that.
    """

    _redis_away = False

    def __init__(self, *args: Any, drain: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drain = drain
        self._draining: asyncio.Task[None] | None = None
        self._cancelled: set[asyncio.Task[Any]] = set()
        if self._handle_signals:
            for sig in STOP_SIGNALS:  # replaces arq's handlers for SIGINT and SIGTERM
                self._add_signal_handler(sig, self._on_stop_signal)

    def _on_stop_signal(self, signum: signal.Signals) -> None:
        name = signal.Signals(signum).name
        if self._draining is not None:
            log.warning("%s again: stopping %d running job(s) now", name, self._running())
            self._stop_now()
            return
        self.allow_pick_jobs = False
        log.info("%s: taking no new job; %d running job(s) have %.1fs to finish", name,
                 self._running(), self._drain)
        self._draining = self.loop.create_task(self._drain_then_stop())

    def _running(self) -> int:
        return sum(not t.done() for t in self.tasks.values())

    async def _drain_then_stop(self) -> None:
        deadline = self.loop.time() + self._drain
        while pending := [t for t in self.tasks.values() if not t.done()]:
            left = deadline - self.loop.time()
            if left <= 0:
                log.warning("drain over: %d job(s) still running go back to the queue",
                            len(pending))
                break
            await asyncio.wait(pending, timeout=left)
        self._stop_now()

    def _stop_now(self) -> None:
        """Cancel each running job once (a job being queued again is not interrupted by a
        later signal) and end the poll loop; ``run`` then calls ``close``."""
        for task in self.tasks.values():
            if not task.done() and task not in self._cancelled:
                self._cancelled.add(task)
                task.cancel()
        if self.main_task is not None:
            self.main_task.cancel()

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if self._draining is not None and not self._draining.done():
            self._draining.cancel()
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as exc:
            if not self._redis_away:
                log.warning("Redis is unreachable (%s); polling again", exc)
            self._redis_away = True
            return
        if self._redis_away:
            log.info("Redis is back")
            self._redis_away = False


def build_worker(settings: Settings, *, handle_signals: bool = True) -> ArqWorker:
    return _ArqWorker(
        functions=[_named(run_job)],
        redis_settings=RedisSettings.from_dsn(settings.redis_url.reveal()),
        queue_name=queue_name(settings.redis_prefix),
        on_startup=startup,
        on_shutdown=shutdown,
        ctx={"settings": settings},
        max_jobs=settings.worker_concurrency,
        job_timeout=int(settings.job_timeout) + 60,  # our own timeout fires first
        max_tries=1,  # retries are ours (see runner), never arq's
        keep_result=0,
        handle_signals=handle_signals,
        drain=settings.worker_drain,
        allow_abort_jobs=False,
        health_check_interval=30,
    )


def _named(fn: Any) -> Any:
    from arq.worker import func

    return func(fn, name=RUN_JOB)


def main(settings: Settings) -> None:
    worker = build_worker(settings)
    worker.run()
