"""Chaos run: 3 servers and 2 workers, simulated people editing and running tools, and
faults injected at random for a bounded time; then everything settles and every client,
PostgreSQL and a fresh reader must agree, with every keystroke present.

    python bench/chaos.py [--seconds 60] [--users 9] [--seed N]

Faults: kill -9 of a server (restarted), SIGTERM of a server (a deploy; restarted), kill -9
of a worker (restarted), Redis restarted empty, PostgreSQL unreachable for a few seconds.
It starts its own Redis and a proxy in front of PostgreSQL (from DATABASE_URL, or an
embedded one), binds everything to 127.0.0.1, and stops everything it started.
Exit status 0 when everyone agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from pycrdt import Doc, Map, Text  # noqa: E402

from sync.services import start_embedded  # noqa: E402
from sync.store import PostgresStore, migrate  # noqa: E402
from tests.faults.test_faults import (  # noqa: E402
    UnixAwareProxy,
    free_port,
    pg_target,
    private_redis,
    proxied,
)
from tests.yclient import YClient  # noqa: E402


class Cluster:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.servers: dict[int, asyncio.subprocess.Process] = {}
        self.ports = [free_port() for _ in range(3)]
        self.workers: list[asyncio.subprocess.Process] = []
        self.events: list[str] = []

    async def start_server(self, i: int) -> None:
        self.servers[i] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "serve", "--port", str(self.ports[i]),
            env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            cwd=ROOT)
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://127.0.0.1:{self.ports[i]}/healthz")).status_code \
                            in (200, 503):
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server {i} did not start")

    async def start_worker(self) -> None:
        self.workers.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", env=self.env, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, cwd=ROOT))

    def live(self) -> list[int]:
        return [i for i, p in self.servers.items() if p.returncode is None]

    def base(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    async def stop(self) -> None:
        for p in [*self.servers.values(), *self.workers]:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        for p in [*self.servers.values(), *self.workers]:
            try:
                await asyncio.wait_for(p.wait(), 60)
            except TimeoutError:
                p.kill()
                await p.wait()


class User:
    """Types into its own block and a shared one; reconnects to any live server."""

    def __init__(self, name: str, cluster: Cluster, room: dict[str, str]) -> None:
        self.name = name
        self.cluster = cluster
        self.room = room
        self.doc: Doc[Any] = Doc()
        self.client: YClient | None = None
        self.typed: list[str] = []
        self.reconnects = 0
        self.jobs: list[str] = []

    def url(self, i: int) -> str:
        return (f"ws://127.0.0.1:{self.cluster.ports[i]}/sync/{self.room['room']}"
                f"?token={self.room['edit_token']}")

    async def ensure_connected(self) -> None:
        if self.client is not None and self.client.closed is None:
            return
        live = self.cluster.live()
        if not live:
            return
        with contextlib.suppress(OSError, TimeoutError, Exception):
            self.client = await YClient.connect(self.url(random.choice(live)), doc=self.doc,
                                                sync=False)
            await self.client.wait_synced(timeout=5)
            self.reconnects += 1

    def type(self, n: int) -> None:
        token = f"{self.name}:{n};"
        blocks = self.doc.get("blocks", type=Map)
        with self.doc.transaction():
            if self.name not in blocks:
                block = Map({"kind": "text", "x": 0.0, "y": 0.0, "status": "idle"})
                blocks[self.name] = block
                block["text"] = Text()
            text = blocks[self.name]["text"]
            text += token
        self.typed.append(token)

    async def run(self, until: float) -> None:
        n = 0
        while time.monotonic() < until:
            await self.ensure_connected()
            self.type(n)
            n += 1
            if n % 15 == 0:
                await self.run_tool()
            await asyncio.sleep(random.uniform(0.05, 0.3))

    async def run_tool(self) -> None:
        live = self.cluster.live()
        if not live:
            return
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=10) as http:
                r = await http.post(
                    f"{self.cluster.base(random.choice(live))}/api/rooms/{self.room['room']}"
                    "/jobs", json={"tool": random.choice(["expand", "twist"]),
                                   "inputs": [self.name]},
                    headers={"Authorization": f"Bearer {self.room['edit_token']}"})
            if r.status_code == 202:
                self.jobs.append(r.json()["job_id"])


async def inject(cluster: Cluster, restart_redis: Any, proxy: UnixAwareProxy,
                 until: float) -> None:
    while time.monotonic() < until - 5:
        await asyncio.sleep(random.uniform(2, 5))
        fault = random.choice(["kill_server", "term_server", "kill_worker", "redis", "postgres"])
        cluster.events.append(f"{time.monotonic():.0f} {fault}")
        if fault in ("kill_server", "term_server"):
            live = cluster.live()
            if len(live) < 2:
                continue
            i = random.choice(live)
            proc = cluster.servers[i]
            proc.send_signal(signal.SIGKILL if fault == "kill_server" else signal.SIGTERM)
            await proc.wait()
            await cluster.start_server(i)
        elif fault == "kill_worker":
            live_workers = [w for w in cluster.workers if w.returncode is None]
            if live_workers:
                w = random.choice(live_workers)
                w.kill()
                await w.wait()
            await cluster.start_worker()
        elif fault == "redis":
            await restart_redis(down_for=random.uniform(0.2, 2.0))
        elif fault == "postgres":
            proxy.cut()
            await asyncio.sleep(random.uniform(1, 5))
            proxy.restore()


async def chaos(seconds: float, users: int, seed: int) -> int:
    random.seed(seed)
    tmp = Path(tempfile.mkdtemp(prefix="arbor-chaos-"))
    embedded = None
    base_dsn = os.environ.get("DATABASE_URL")
    if not base_dsn:
        embedded = start_embedded(tmp, postgres=True, redis=False)
        base_dsn = embedded.database_url
    assert base_dsn
    name = f"arbor_chaos_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(base_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    from tests.conftest import _with_database

    dsn = _with_database(base_dsn, name)
    await migrate(dsn)
    proxy = await UnixAwareProxy(pg_target(dsn)).start()
    ok = False
    try:
        async with private_redis() as (redis_url, restart_redis):
            env = {**os.environ, "DATABASE_URL": proxied(dsn, proxy.port), "REDIS_URL": redis_url,
                   "ARBOR_DATA_DIR": str(tmp / "data"), "ARBOR_OFFLINE_DELAY_MS": "20",
                   "ARBOR_RATE_ROOMS_BURST_IP": "1000", "ARBOR_RATE_JOBS_BURST_IP": "1000",
                   "ARBOR_JOB_HEARTBEAT_SECONDS": "1", "ARBOR_JOB_STALE_SECONDS": "4",
                   "ARBOR_LOG_LEVEL": "WARNING"}
            cluster = Cluster(env)
            people: list[User] = []
            room: dict[str, str] = {}
            try:
                for i in range(3):
                    await cluster.start_server(i)
                for _ in range(2):
                    await cluster.start_worker()
                async with httpx.AsyncClient() as http:
                    room = (await http.post(f"{cluster.base(0)}/api/rooms", json={})).json()
                people = [User(f"u{k}", cluster, room) for k in range(users)]
                until = time.monotonic() + seconds
                print(f"chaos: {seconds:.0f} s, {users} users, 3 servers, 2 workers, "
                      f"seed {seed}")
                await asyncio.gather(inject(cluster, restart_redis, proxy, until),
                                     *(u.run(until) for u in people))
                print("faults:", ", ".join(e.split(" ", 1)[1] for e in cluster.events)
                      or "none")
                ok = await settle_and_check(cluster, people, room, dsn)
                ok = await check_jobs(dsn, people) and ok
            finally:  # also when interrupted: never leave servers or workers behind
                await cluster.stop()
            if ok:
                ok = await check_postgres(dsn, people, room)
    finally:
        await proxy.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if embedded is not None:
            embedded.stop()
    print("RESULT:", "everyone agrees" if ok else "DIVERGED")
    return 0 if ok else 1


def expected(people: list[User]) -> dict[str, str]:
    return {u.name: "".join(u.typed) for u in people}


def texts(doc: Doc[Any], only: Any = None) -> dict[str, str]:
    """The typed blocks' texts (``only`` those names; tool outputs are compared whole)."""
    blocks = doc.get("blocks", type=Map)
    return {k: str(v["text"]) for k, v in blocks.items()
            if isinstance(v, Map) and "text" in v and (only is None or k in only)}


def canvas(doc: Doc[Any]) -> Any:
    return doc.get("blocks", type=Map).to_py(), doc.get("edges", type=Map).to_py()


async def settle_and_check(cluster: Cluster, people: list[User], room: dict[str, str],
                           dsn: str) -> bool:
    want = expected(people)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for u in people:
            await u.ensure_connected()
        if all(texts(u.doc, want) == want for u in people) and \
                all(canvas(u.doc) == canvas(people[0].doc) for u in people):
            break
        await asyncio.sleep(0.5)
    agree = all(texts(u.doc, want) == want for u in people) and \
        all(canvas(u.doc) == canvas(people[0].doc) for u in people)
    for u in people:
        got = texts(u.doc, want)
        for block, text in want.items():
            if got.get(block) != text:
                missing = [t for t in text.split(";") if t and t + ";" not in got.get(block, "")]
                state = "connected" if u.client and u.client.closed is None else "offline"
                print(f"  {u.name} ({state}):"
                      f" block {block} lacks {len(missing)} keystrokes, e.g. {missing[:3]}; "
                      f"has {len(got.get(block, ''))} of {len(text)} chars")
    fresh = await YClient.connect(people[0].url(cluster.live()[0]))
    fresh_ok = texts(fresh.doc, want) == want and canvas(fresh.doc) == canvas(people[0].doc)
    await fresh.close()
    for u in people:
        if u.client is not None:
            await u.client.close()
    print(f"clients agree: {agree}; fresh reader agrees: {fresh_ok}; "
          f"keystrokes: {sum(len(u.typed) for u in people)}; "
          f"reconnects: {sum(u.reconnects for u in people)}")
    return agree and fresh_ok


async def check_jobs(dsn: str, people: list[User]) -> bool:
    """Every job started ends (done, error or cancelled): none stuck after the faults."""
    started = [j for u in people for j in u.jobs]
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + 90
        while True:
            rows = await conn.fetch("SELECT status, count(*) AS n FROM jobs "
                                    "WHERE id = ANY($1::text[]) GROUP BY status", started)
            counts = {r["status"]: r["n"] for r in rows}
            active = counts.get("queued", 0) + counts.get("running", 0)
            if not active or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
    finally:
        await conn.close()
    print(f"jobs: {len(started)} started, {counts}")
    return active == 0 and sum(counts.values()) == len(started)


async def check_postgres(dsn: str, people: list[User], room: dict[str, str]) -> bool:
    store = await PostgresStore.connect(dsn)
    try:
        stored = await store.load_document(room["room"])
    finally:
        await store.close()
    doc: Doc[Any] = Doc()
    for u in stored.all():
        doc.apply_update(u)
    ok = texts(doc, expected(people)) == expected(people)
    print(f"PostgreSQL agrees: {ok}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=9)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    return asyncio.run(chaos(args.seconds, args.users, args.seed))


if __name__ == "__main__":
    sys.exit(main())
