"""Benchmark: token-to-screen latency of a streaming tool run.

    .venv/bin/python bench/stream_latency.py [--chunks 100] [--chunk-ms 20] [--jobs 1,20]
                                             [--burst 4 --pause-ms 250]

A fake OpenAI server (``tests/fakes/model_server.py``, in a thread of this process) streams
chunks that each carry the wall-clock time they were sent, ``<1795444895.123456>``. A real
``arbor serve`` and a real ``python -m worker`` (subprocesses, 127.0.0.1) run ``run`` jobs
against it, one room per job; one observer per room, connected to the server, notes when
each stamp first appears in its copy of the document. Latency = seen - sent.

Observers are stock JS clients (Node ``yjs`` + ``y-websocket`` from tests/interop) and, as a
second figure, Python clients (``tests/yclient.py``). Services are the ones named by
DATABASE_URL / REDIS_URL (a throw-away database and key prefix) or embedded ones. It prints
p50/p90/p99/max per run and the ratios between runs; nothing is asserted. Goal: p50 <= 100 ms
and p99 <= 300 ms at 20 concurrent jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from sync.services import start_embedded  # noqa: E402
from tests.fakes.model_server import FakeModelServer  # noqa: E402
from tests.yclient import YClient  # noqa: E402

INTEROP = ROOT / "tests" / "interop"
MARK = "@@"  # each streamed chunk is this word, replaced by its send time when it goes out
STAMP = re.compile(r"<(\d+\.\d+)>")
MODEL = "openai:gpt-4.1-mini"

OBSERVER_JS = r"""
'use strict'
const WS = require('ws')
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
class PlainWebSocket extends WS {
  constructor (a, p, o) { super(a, p, Object.assign({ perMessageDeflate: false }, o || {})) }
}
process.setMaxListeners(0) // one exit listener per provider
const cfg = JSON.parse(process.env.BENCH_CONFIG)
const STAMP = /<(\d+\.\d+)>/g
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n')
let waiting = cfg.rooms.length
const providers = []
for (const r of cfg.rooms) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(cfg.url, r.room, doc, {
    params: { token: r.token }, WebSocketPolyfill: PlainWebSocket, disableBc: true
  })
  providers.push(provider)
  const blocks = doc.getMap('blocks')
  const seen = new Set()
  blocks.observeDeep(() => {
    const now = performance.timeOrigin + performance.now()
    const found = []
    for (const b of blocks.values()) {
      const t = b instanceof Y.Map ? b.get('text') : null
      if (!(t instanceof Y.Text)) continue
      for (const m of t.toString().matchAll(STAMP)) {
        if (!seen.has(m[1])) { seen.add(m[1]); found.push(now - parseFloat(m[1]) * 1000) }
      }
    }
    if (found.length) emit({ room: r.room, lat: found })
  })
  provider.once('sync', () => {
    doc.transact(() => {
      const b = new Y.Map()
      b.set('kind', 'text'); b.set('x', 0); b.set('y', 0); b.set('status', 'idle')
      b.set('text', new Y.Text(cfg.prompt))
      blocks.set('in', b)
    })
    if (--waiting === 0) emit({ ready: true })
  })
}
process.stdin.on('data', () => {})
process.stdin.on('end', () => { for (const p of providers) p.destroy(); process.exit(0) })
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------- the fake model


class StampingModelServer(FakeModelServer):
    """The fake server, writing the wall-clock time into each chunk as it is sent.

    ``burst``: chunks come in groups of ``burst`` a few ms apart, with a pause of ``pause``
    seconds between groups (as models do when tokens arrive coalesced, or between
    sentences); 0 keeps the fake's own steady ``chunk_delay``."""

    burst = 0
    pause = 0.0

    async def _stream(self, send: Any, receive: Any, events: list[bytes], rec: Any) -> None:
        sent = 0

        async def stamped(message: MutableMapping[str, Any]) -> None:
            nonlocal sent
            body = message.get("body", b"")
            if MARK.encode() in body:
                if self.burst:
                    await asyncio.sleep(self.pause if sent and sent % self.burst == 0
                                        else 0.004)
                sent += 1
                stamp = f"<{time.time():.6f}>".encode()
                message = {**message, "body": body.replace(MARK.encode(), stamp)}
            await send(message)

        await super()._stream(stamped, receive, events, rec)


@contextlib.contextmanager
def model_server_thread(chunks: int, chunk_delay: float) -> Iterator[StampingModelServer]:
    """The fake in its own thread and event loop, so observers here never delay it."""
    fake = StampingModelServer()
    fake.switches.reply = " ".join([MARK] * chunks)
    fake.switches.words_per_chunk = 1
    fake.switches.chunk_delay = chunk_delay
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def run() -> None:
        nonlocal stop
        stop = asyncio.Event()
        await fake.start()
        ready.set()
        await stop.wait()
        await fake.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(20):
        raise RuntimeError("the fake model server did not start")
    try:
        yield fake
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)


# --------------------------------------------------------------------- services, processes


@contextlib.asynccontextmanager
async def services(tmp: Path) -> AsyncIterator[tuple[str, str]]:
    """(database URL, Redis URL): a throw-away database on DATABASE_URL's server, or an
    embedded PostgreSQL; REDIS_URL or an embedded Redis."""
    pg_env, redis_env = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    embedded = start_embedded(tmp, postgres=not pg_env, redis=not redis_env)
    try:
        redis_url = redis_env or embedded.redis_url or ""
        if not pg_env:
            yield embedded.database_url or "", redis_url
            return
        name = f"arbor_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(pg_env)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        try:
            yield urlunsplit(urlsplit(pg_env)._replace(path="/" + name)), redis_url
        finally:
            conn = await asyncpg.connect(pg_env)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    finally:
        embedded.stop()


def process_env(db: str, redis: str, tmp: Path, fake: FakeModelServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARBOR_", "OPENAI_", "GEMINI_"))}
    big = "1000000"
    env.update({
        "DATABASE_URL": db, "REDIS_URL": redis,
        "ARBOR_REDIS_PREFIX": f"arbor-bench-{secrets.token_hex(4)}:",
        "ARBOR_DATA_DIR": str(tmp / "data"), "ARBOR_LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.openai_base_url,
        "ARBOR_DEFAULT_TEXT_MODEL": MODEL,
        "ARBOR_WORKER_CONCURRENCY": "64", "ARBOR_ROOM_JOB_CONCURRENCY": "4",
        "ARBOR_RATE_ROOMS_PER_MIN_IP": big, "ARBOR_RATE_ROOMS_BURST_IP": big,
        "ARBOR_RATE_JOBS_PER_MIN_IP": big, "ARBOR_RATE_JOBS_BURST_IP": big,
        "ARBOR_RATE_JOBS_PER_MIN_ROOM": big, "ARBOR_RATE_JOBS_BURST_ROOM": big,
    })
    return env


@contextlib.asynccontextmanager
async def processes(env: dict[str, str], logs: Path) -> AsyncIterator[str]:
    """``arbor serve`` and one worker; yields the server's base URL."""
    port = free_port()
    procs = []
    try:
        for name, args in (("server", ["-m", "server.cli", "serve", "--host", "127.0.0.1",
                                       "--port", str(port)]),
                           ("worker", ["-m", "worker"])):
            log = (logs / f"{name}.log").open("wb")
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, *args, env=env, cwd=str(ROOT), stdout=log, stderr=log))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline or any(p.returncode is not None for p in procs):
                    raise RuntimeError(f"arbor did not start; see {logs}")
                await asyncio.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# --------------------------------------------------------------------- observers


class Observers:
    """One observer per room; ``latencies`` (ms) fill in as stamps appear."""

    def __init__(self) -> None:
        self.latencies: list[float] = []

    async def close(self) -> None:
        raise NotImplementedError


class JSObservers(Observers):
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        super().__init__()
        self.proc = proc
        self.ready = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, ws_url: str, rooms: list[dict[str, str]], prompt: str
                    ) -> JSObservers:
        config = {"url": f"{ws_url}/sync", "prompt": prompt,
                  "rooms": [{"room": r["room"], "token": r["edit_token"]} for r in rooms]}
        proc = await asyncio.create_subprocess_exec(
            "node", "-e", OBSERVER_JS, cwd=str(INTEROP), env={**os.environ,
                                                              "BENCH_CONFIG": json.dumps(config)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024)
        self = cls(proc)
        async with asyncio.timeout(30):
            await self.ready.wait()
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg.get("ready"):
                self.ready.set()
            else:
                self.latencies.extend(msg["lat"])

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class PyObservers(Observers):
    def __init__(self, clients: list[YClient]) -> None:
        super().__init__()
        self.clients = clients

    @classmethod
    async def start(cls, ws_url: str, rooms: list[dict[str, str]], prompt: str
                    ) -> PyObservers:
        clients = [await YClient.connect(f"{ws_url}/sync/{r['room']}?token={r['edit_token']}")
                   for r in rooms]
        self = cls(clients)
        for client in clients:
            client.add_text_block("in", prompt)
            client.doc.observe(self._watcher(client))
        return self

    def _watcher(self, client: YClient) -> Callable[[Any], None]:
        seen: set[str] = set()
        from pycrdt import Map, Text

        blocks = client.doc.get("blocks", type=Map)
        loop = asyncio.get_running_loop()

        def scan(now: float) -> None:
            for block in blocks.values():
                text = block.get("text") if isinstance(block, Map) else None
                if isinstance(text, Text):
                    for stamp in STAMP.findall(str(text)):
                        if stamp not in seen:
                            seen.add(stamp)
                            self.latencies.append((now - float(stamp)) * 1000)

        def on_change(_event: Any) -> None:
            # the document cannot be read inside its own transaction: right after it
            loop.call_soon(scan, time.time())
        return on_change

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


# --------------------------------------------------------------------- one run


async def one_run(base: str, kind: str, jobs: int, chunks: int, within: float
                  ) -> tuple[list[float], int]:
    """Start ``jobs`` runs at once, one room each; the latencies seen and stamps missing."""
    ws = base.replace("http", "ws", 1)
    prompt = "count the seconds"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        rooms = [(await http.post("/api/rooms", json={"title": "bench"})).json()
                 for _ in range(jobs)]
        cls = JSObservers if kind == "js" else PyObservers
        observers: Observers = await cls.start(ws, rooms, prompt)
        try:
            answers = await asyncio.gather(*(
                http.post(f"/api/rooms/{r['room']}/jobs",
                          headers={"Authorization": f"Bearer {r['edit_token']}"},
                          json={"tool": "run", "inputs": ["in"]}) for r in rooms))
            bad = [a.text for a in answers if a.status_code != 202]
            if bad:
                raise RuntimeError(f"jobs refused: {bad[:2]}")
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                if len(observers.latencies) >= jobs * chunks:
                    break
                await asyncio.sleep(0.05)
        finally:
            await observers.close()
    return list(observers.latencies), jobs * chunks - len(observers.latencies)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p90": quantile(values, 0.90),
            "p99": quantile(values, 0.99), "max": max(values), "n": len(values)}


async def main(args: argparse.Namespace) -> None:
    job_counts = [int(n) for n in args.jobs.split(",")]
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with model_server_thread(args.chunks, args.chunk_ms / 1000) as fake:
            async with services(tmp) as (db, redis):
                env = process_env(db, redis, tmp, fake)
                async with processes(env, tmp) as base:
                    await one_run(base, "js", 1, args.chunks, 30)  # warm up both processes
                    results: dict[tuple[str, int], dict[str, float]] = {}
                    if args.burst:
                        fake.switches.chunk_delay = 0
                        fake.burst, fake.pause = args.burst, args.pause_ms / 1000
                        pattern = (f"in bursts of {args.burst} (4 ms apart) every "
                                   f"{args.pause_ms:g} ms")
                    else:
                        pattern = f"one every {args.chunk_ms:g} ms"
                    print(f"{args.chunks} chunks per job, {pattern}; latency from the fake "
                          "model sending a chunk to a client seeing it")
                    print(f"{'client':<8}{'jobs':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
                          f"{'max ms':>9}{'seen':>8}{'missing':>9}")
                    for jobs in job_counts:
                        for kind in ("js", "python"):
                            lat, missing = await one_run(base, kind, jobs, args.chunks,
                                                         args.timeout)
                            if not lat:
                                print(f"{kind:<8}{jobs:>5}   nothing seen ({missing} missing)")
                                continue
                            d = results[(kind, jobs)] = describe(lat)
                            print(f"{kind:<8}{jobs:>5}{d['p50']:>9.1f}{d['p90']:>9.1f}"
                                  f"{d['p99']:>9.1f}{d['max']:>9.1f}{int(d['n']):>8}"
                                  f"{missing:>9}")
    print_ratios(results, job_counts)


def print_ratios(results: dict[tuple[str, int], dict[str, float]], job_counts: list[int]
                 ) -> None:
    lo, hi = min(job_counts), max(job_counts)
    for kind in ("js", "python"):
        a, b = results.get((kind, lo)), results.get((kind, hi))
        if a and b and lo != hi:
            print(f"{kind}: {hi} jobs / {lo} job: p50 x{b['p50'] / a['p50']:.2f}, "
                  f"p99 x{b['p99'] / a['p99']:.2f}")
    for jobs in job_counts:
        js, py = results.get(("js", jobs)), results.get(("python", jobs))
        if js and py:
            print(f"{jobs} job(s): python / js: p50 x{py['p50'] / js['p50']:.2f}, "
                  f"p99 x{py['p99'] / js['p99']:.2f}")
    top = results.get(("js", hi))
    if top:
        verdict = "meets" if top["p50"] <= 100 and top["p99"] <= 300 else "misses"
        print(f"goal at {hi} jobs (JS client): p50 <= 100 ms and p99 <= 300 ms: {verdict} "
              f"(p50 {top['p50']:.0f} ms, p99 {top['p99']:.0f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100, help="chunks per streamed answer")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="ms between chunks")
    parser.add_argument("--burst", type=int, default=0,
                        help="send chunks in bursts of this many (0: steady)")
    parser.add_argument("--pause-ms", type=float, default=250.0,
                        help="pause between bursts")
    parser.add_argument("--jobs", default="1,20", help="concurrent jobs per run, e.g. 1,20")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait per run")
    asyncio.run(main(parser.parse_args()))
