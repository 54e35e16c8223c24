"""Event-loop time of creating a job on canvases of growing size.

    .venv/bin/python bench/job_layout.py [--sizes 500,5000,50000] [--jobs 20]

A real server (the app under uvicorn, in this process and event loop) with PostgreSQL and
Redis (DATABASE_URL / REDIS_URL: a throw-away database and key prefix; embedded ones when
unset). Each canvas is a grid of text blocks, written through the room as one edit, and
held loaded while jobs are created on it over HTTP: ``expand`` runs from blocks picked at
random, by a client in another thread (its work is not the server's). Every callback the
event loop runs is timed; a job's figure is the loop's busy time between sending the
request and reading the answer, and the longest single callback in that time (how long
every other room on the process waited at most).

Two layouts: ``lanes`` (room beside each block, as people leave it: the outputs fit at
once) and ``dense`` (blocks packed in rows and columns: the search beside the input goes
down through the rows, as far as it may). The first job on a canvas also builds the canvas
index (once per room load, in slices); it is shown apart. ``scan`` is what every job cost
before the index: reading every block of the canvas, timed on the same room.

Prints milliseconds and the ratio to the smallest canvas; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from pycrdt import Doc, Map, Text  # noqa: E402

from sync.canvas_index import rect_of  # noqa: E402
from sync.services import start_embedded  # noqa: E402
from sync.settings import Secret, Settings  # noqa: E402
from sync.store import migrate  # noqa: E402
from tests.conftest import run_server  # noqa: E402

LAYOUTS = {"lanes": (1000.0, 300.0), "dense": (340.0, 220.0)}  # pitch between blocks


class LoopClock:
    """Times every callback the event loop runs (a measuring device for this script)."""

    def __init__(self) -> None:
        self.busy = 0.0
        self.longest = 0.0
        self._run: Callable[[asyncio.Handle], None] = asyncio.Handle._run

    def __enter__(self) -> LoopClock:
        clock, run = self, self._run

        def timed(handle: asyncio.Handle) -> None:
            t = time.perf_counter()
            try:
                run(handle)
            finally:
                spent = time.perf_counter() - t
                clock.busy += spent
                clock.longest = max(clock.longest, spent)

        asyncio.Handle._run = timed  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.Handle._run = self._run  # type: ignore[method-assign, assignment]

    def window(self) -> tuple[float, float]:
        """(busy, longest) since the last call, in ms; starts a new window."""
        out = (self.busy * 1000, self.longest * 1000)
        self.busy = self.longest = 0.0
        return out


@contextlib.asynccontextmanager
async def services(tmp: Path) -> AsyncIterator[tuple[str, str]]:
    pg_env, redis_env = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    embedded = start_embedded(tmp, postgres=not pg_env, redis=not redis_env)
    try:
        redis_url = redis_env or embedded.redis_url or ""
        if not pg_env:
            url = embedded.database_url or ""
            await migrate(url)
            yield url, redis_url
            return
        name = f"arbor_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(pg_env)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = urlunsplit(urlsplit(pg_env)._replace(path="/" + name))
        try:
            await migrate(url)
            yield url, redis_url
        finally:
            conn = await asyncpg.connect(pg_env)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    finally:
        embedded.stop()


def fill(doc: Doc[Any], n: int, pitch: tuple[float, float]) -> None:
    blocks = doc.get("blocks", type=Map)
    cols = max(1, round(n ** 0.5 * 1.25))
    for i in range(n):
        block = Map({"kind": "text", "x": (i % cols) * pitch[0], "y": (i // cols) * pitch[1],
                     "w": 260.0, "h": 150.0, "status": "idle", "createdAt": float(i)})
        blocks[f"b{i}"] = block
        block["text"] = Text(f"idea {i}")


def scan_ms(doc: Doc[Any]) -> float:
    """What each job did before the index: read every block's rectangle."""
    t = time.perf_counter()
    blocks = doc.get("blocks", type=Map)
    [rect_of(b) for _, b in blocks.items()]
    return (time.perf_counter() - t) * 1000


async def one_canvas(srv: Any, http: httpx.Client, clock: LoopClock, n: int,
                     pitch: tuple[float, float], jobs: int) -> dict[str, float]:
    created = await asyncio.to_thread(http.post, "/api/rooms", json={"title": f"{n}"})
    room = created.json()
    rooms = srv.services.rooms
    held = await rooms.acquire(room["room"])  # kept loaded: one index build, as in use
    try:
        held.transact(lambda doc: fill(doc, n, pitch))
        await rooms.flush_all()
        rng = random.Random(n)
        headers = {"Authorization": f"Bearer {room['edit_token']}"}
        figures: list[tuple[float, float]] = []
        for _ in range(jobs + 1):
            clock.window()
            r = await asyncio.to_thread(
                http.post, f"/api/rooms/{room['room']}/jobs", headers=headers,
                json={"tool": "expand", "inputs": [f"b{rng.randrange(n)}"]})
            figures.append(clock.window())
            if r.status_code != 202:
                raise SystemExit(f"job refused: {r.status_code} {r.text}")
        first, rest = figures[0], figures[1:]
        return {"first": first[0], "first_longest": first[1],
                "job": statistics.mean(f[0] for f in rest),
                "job_longest": max(f[1] for f in rest),
                "scan": statistics.median(scan_ms(held.doc) for _ in range(3))}
    finally:
        await rooms.release(held)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500,5000,50000", help="blocks per canvas")
    ap.add_argument("--jobs", type=int, default=20, help="jobs timed per canvas")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp:
        async with services(Path(tmp)) as (db, redis):
            settings = Settings.from_env(
                {}, database_url=Secret(db), redis_url=Secret(redis),
                redis_prefix=f"arbor-bench-{secrets.token_hex(4)}:", data_dir=Path(tmp) / "data",
                rate_rooms_per_min_ip=1e6, rate_rooms_burst_ip=1_000_000,
                rate_jobs_per_min_ip=1e6, rate_jobs_burst_ip=1_000_000,
                rate_jobs_per_min_room=1e6, rate_jobs_burst_room=1_000_000)
            async with run_server(settings) as srv:
                with httpx.Client(base_url=srv.base_url, timeout=120) as http, \
                        LoopClock() as clock:
                    for layout, pitch in LAYOUTS.items():
                        print(f"\n# {layout}: event-loop ms per job creation "
                              f"(mean of {args.jobs}; longest single callback)")
                        print(f"{'blocks':>7} {'job':>7} {'longest':>8} {'ratio':>6}  "
                              f"{'1st job':>8} {'longest':>8}  {'scan':>7} {'ratio':>6}")
                        base: dict[str, float] | None = None
                        for n in sizes:
                            f = await one_canvas(srv, http, clock, n, pitch, args.jobs)
                            base = base or f
                            print(f"{n:>7} {f['job']:>7.2f} {f['job_longest']:>8.2f} "
                                  f"{f['job'] / base['job']:>6.2f}  {f['first']:>8.1f} "
                                  f"{f['first_longest']:>8.2f}  {f['scan']:>7.1f} "
                                  f"{f['scan'] / base['scan']:>6.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
