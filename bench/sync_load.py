"""Sync load benchmark: Arbor against a bare relay and the reference y-websocket server.

    .venv/bin/python bench/sync_load.py [--quick] [--only a,b,...] [--profile DIR]
        [--seconds S] [--repeat N] [--server KIND ...] [--server-env ARBOR_NAME=value ...]

Clients are stock ``yjs`` + ``y-websocket`` in Node processes (``bench/load/loadclient.js``,
no permessage-deflate, no awareness). Each scenario runs, one server at a time, against

- ``relay``: ``bench/load/relay.js``, a websocket relay with no CRDT (the practical floor);
- ``ref``: the reference Node server (npm ``@y/websocket-server``, in memory);
- ``arbor``: ``arbor serve`` subprocesses against real PostgreSQL and Redis (``DATABASE_URL``
  / ``REDIS_URL`` when set, in a database and key prefix of its own; else embedded ones
  started in a temporary folder).

Scenarios: (a) one room, 1 writer + 100 readers at 50 updates/s; (b) 200 rooms x 4
clients, each writing 1 update/s; (c) Arbor only: writer on server A, readers on server B;
(d) a new client's full sync of a room holding 20,000 updates, from memory and (Arbor)
cold from PostgreSQL after compaction; (e) RSS per idle room; (f) the highest rate one
room sustains (10 readers) before p99 passes 100 ms. Latency is writer update -> reader
sees it (a monotonic timestamp in the update; one machine, one clock). Server CPU is % of
one core from /proc/PID/stat over the measured window; RSS from /proc/PID/status.
Everything listens on 127.0.0.1, every wait has a deadline, and every process started
here is stopped before it exits. It prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "bench" / "load"
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("relay", "ref", "arbor")
SELECTED = list(SERVERS)  # --server
# --pin: the server under test on these CPUs, the Node clients on the others (empty: not
# pinned). PostgreSQL and Redis are not started here and stay where the system puts them.
PIN: dict[str, set[int]] = {}


def pin(pid: int, role: str) -> None:
    """Move every thread of ``pid`` to the CPUs of ``role`` ("server" or "clients");
    threads it starts later inherit them."""
    cpus = PIN.get(role)
    if not cpus:
        return
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task), cpus)


# --- measurement helpers -------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def worst_window_p99(lat: list[float], at: list[float], window_ms: float = 5000) -> float:
    """The highest p99 latency over consecutive windows (by write time) of ``window_ms``."""
    if not lat or len(at) != len(lat):
        return float("nan")
    t0 = min(at)
    windows: dict[int, list[float]] = {}
    for x, t in zip(lat, at, strict=True):
        windows.setdefault(int((t - t0) // window_ms), []).append(x)
    full = [w for w in windows.values() if len(w) >= 100] or list(windows.values())
    return max(pct(w, 99) for w in full)


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, stime) of a process, in clock ticks (fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[12])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class CpuMeter:
    def __init__(self, pid: int) -> None:
        self.pid, self.t0, self.c0 = pid, time.monotonic(), cpu_ticks(pid)
        self.kernel = 0.0  # of the last percent(): the share spent in the kernel, in %

    def percent(self) -> float:
        dt = time.monotonic() - self.t0
        if dt <= 0:
            return 0.0
        total, kernel = cpu_ticks(self.pid)
        self.kernel = (kernel - self.c0[1]) / CLK_TCK / dt * 100
        return (total - self.c0[0]) / CLK_TCK / dt * 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Node load clients ---------------------------------------------------------------------

class NodeClients:
    """One ``node loadclient.js`` process holding many clients."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._err: list[str] = []
        self._err_reader = asyncio.get_running_loop().create_task(self._read_err())

    @classmethod
    async def start(cls) -> NodeClients:
        proc = await asyncio.create_subprocess_exec(
            "node", str(LOAD / "loadclient.js"), cwd=str(LOAD),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=64 << 20)
        self = cls(proc)
        await asyncio.wait_for(self._ready, 15)
        pin(proc.pid, "clients")
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg.get("event") == "ready":
                self._ready.set_result(True)
                continue
            fut = self._pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                if msg["ok"]:
                    fut.set_result(msg["result"])
                else:
                    fut.set_exception(RuntimeError(msg["error"]))
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RuntimeError("node exited: " + "\n".join(self._err[-20:])))

    async def _read_err(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self._err.append(line.decode(errors="replace").rstrip())

    async def cmd(self, cmd: str, within: float = 60, **args: Any) -> Any:
        assert self.proc.stdin is not None
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self.proc.stdin.write((json.dumps({"id": rid, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, within)

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)
        for t in (self._reader, self._err_reader):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


@contextlib.asynccontextmanager
async def node_clients(n: int) -> AsyncIterator[list[NodeClients]]:
    procs: list[NodeClients] = []
    try:
        for _ in range(n):
            procs.append(await NodeClients.start())
        yield procs
    finally:
        await asyncio.gather(*(p.close() for p in procs))


# --- servers under test --------------------------------------------------------------------

@dataclass
class Target:
    """A running server: where clients connect, its PID, and how to name a room."""

    kind: str
    pid: int
    ws_url: str  # y-websocket serverUrl (the room is appended as a path segment)
    http_url: str
    rooms: Callable[[int], Any]  # async: n -> list of (room, params)


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    log: Path


def _stop(proc: Proc, timeout: float = 40) -> None:
    if proc.popen.poll() is None:
        proc.popen.terminate()
        try:
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(5)


def _wait_listening(proc: Proc, port: int, timeout: float = 30, path: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"server exited ({proc.popen.returncode}):\n"
                               + proc.log.read_text(errors="replace")[-3000:])
        try:
            if path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            elif httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except (OSError, httpx.TransportError):
            pass
        time.sleep(0.1)  # polling a starting subprocess, with a deadline
    raise RuntimeError(f"server on port {port} did not start within {timeout} s:\n"
                       + proc.log.read_text(errors="replace")[-3000:])


def _spawn(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> Proc:
    with open(log, "wb") as out:
        popen = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    return Proc(popen, log)


async def _named_rooms(n: int) -> list[tuple[str, dict[str, str]]]:
    return [(f"room-{secrets.token_hex(6)}", {}) for _ in range(n)]


@contextlib.contextmanager
def node_server(kind: str, tmp: Path) -> Iterator[Target]:
    port = free_port()
    log = tmp / f"{kind}-{port}.log"
    if kind == "relay":
        proc = _spawn(["node", str(LOAD / "relay.js"), str(port)], dict(os.environ), log, LOAD)
    else:
        script = LOAD / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
        env.pop("YPERSISTENCE", None)
        proc = _spawn(["node", str(script)], env, log, LOAD)
    try:
        _wait_listening(proc, port)
        pin(proc.popen.pid, "server")
        yield Target(kind, proc.popen.pid, f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}",
                     _named_rooms)
    finally:
        _stop(proc, 10)


@dataclass
class Storage:
    database_url: str
    redis_url: str
    redis_prefix: str
    cleanup: list[Callable[[], Any]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def storage(tmp: Path) -> AsyncIterator[Storage]:
    """PostgreSQL and Redis for Arbor: the configured ones (own database / key prefix) or
    embedded ones in ``tmp``."""
    db_env, redis_env = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    embedded = None
    if not db_env or not redis_env:
        from sync.services import start_embedded

        embedded = start_embedded(tmp / "services", postgres=not db_env, redis=not redis_env)
    prefix = f"arbor-bench-{secrets.token_hex(4)}:"
    db_url = db_env or embedded.database_url  # type: ignore[union-attr]
    name = None
    if db_env:
        import asyncpg

        name = f"arbor_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(db_env)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        parts = urlsplit(db_env)
        db_url = urlunsplit(parts._replace(path="/" + name))
    s = Storage(db_url or "", redis_env or embedded.redis_url or "", prefix)  # type: ignore[union-attr]
    try:
        yield s
    finally:
        if name is not None and db_env:
            import asyncpg

            conn = await asyncpg.connect(db_env)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
        if redis_env:
            import redis.asyncio as aioredis

            r = aioredis.from_url(redis_env)
            try:
                async for key in r.scan_iter(match=prefix + "*", count=1000):
                    await r.delete(key)
            finally:
                await r.aclose()
        if embedded is not None:
            embedded.stop()


# ARBOR_* settings for every Arbor server the benchmark starts (``--server-env``); the
# environment's own ARBOR_* variables are not passed on, so a run is reproducible.
SERVER_ENV: dict[str, str] = {}
# Extra query parameters of every Arbor connection (``--saved`` asks for the server's
# "saved" entry, as the web app does; stock clients, the default, do not).
ARBOR_PARAMS: dict[str, str] = {}


def server_env_arg(value: str) -> tuple[str, str]:
    """``--server-env`` values: ``ARBOR_NAME=value``."""
    name, sep, val = value.partition("=")
    if not sep or not name.startswith("ARBOR_"):
        raise argparse.ArgumentTypeError(f"expected ARBOR_NAME=value, got {value!r}")
    return name, val


def arbor_env(st: Storage, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARBOR_", "AWS_"))}
    env.update({
        "DATABASE_URL": st.database_url, "REDIS_URL": st.redis_url,
        "ARBOR_REDIS_PREFIX": st.redis_prefix, "ARBOR_DATA_DIR": str(tmp / "arbor-data"),
        "ARBOR_LOG_LEVEL": "WARNING",
        "ARBOR_ROOM_GRACE_SECONDS": "1",  # (d) cold load: the room leaves memory quickly
        "ARBOR_RATE_ROOMS_PER_MIN_IP": "1000000", "ARBOR_RATE_ROOMS_BURST_IP": "1000000",
        # (d) and (f) measure one writer far past any person's rate (up to 20,000 updates at
        # once): the per-connection budget would measure itself, not the server.
        "ARBOR_WS_MESSAGES_PER_SECOND": "0",
        "ARBOR_WS_CONNECTIONS_PER_IP": "0",  # (b) and (e): 800 and 501 sockets from 127.0.0.1
    })
    env.update(SERVER_ENV)
    return env


@contextlib.contextmanager
def arbor_server(st: Storage, tmp: Path) -> Iterator[Target]:
    port = free_port()
    proc = _spawn([sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port)], arbor_env(st, tmp), tmp / f"arbor-{port}.log", ROOT)
    base = f"http://127.0.0.1:{port}"

    async def rooms(n: int) -> list[tuple[str, dict[str, str]]]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async def one() -> tuple[str, dict[str, str]]:
                async with sem:
                    r = await http.post("/api/rooms", json={"title": "bench"})
                    r.raise_for_status()
                    body = r.json()
                    return body["room"], {"token": body["edit_token"], **ARBOR_PARAMS}

            return list(await asyncio.gather(*(one() for _ in range(n))))

    try:
        _wait_listening(proc, port, timeout=60, path="/healthz")
        pin(proc.popen.pid, "server")
        yield Target("arbor", proc.popen.pid, f"ws://127.0.0.1:{port}/sync", base, rooms)
    finally:
        _stop(proc)


async def arbor_rooms_held(target: Target) -> int:
    """Rooms the server holds or is still storing after their last client left."""
    async with httpx.AsyncClient(timeout=5) as http:
        body = (await http.get(f"{target.http_url}/healthz")).json()
    return int(body["rooms"]) + int(body.get("unloading", 0))


async def arbor_reclaims(target: Target) -> int:
    """How many times the server has collected and trimmed after a wave of unloads."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{target.http_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith("arbor_memory_reclaims_total "):
            return int(float(line.split()[1]))
    return 0


async def arbor_gc(target: Target) -> dict[str, float]:
    """The server's garbage-collector full passes so far (``arbor_gc_full_pass_seconds``):
    ``sum`` (seconds) and the cumulative count at each bucket bound (``"+Inf"``: all)."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{target.http_url}/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("arbor_gc_full_pass_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[le] = float(line.split()[-1])
        elif line.startswith("arbor_gc_full_pass_seconds_sum "):
            out["sum"] = float(line.split()[1])
    return out


def gc_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Full passes between two readings: how many, their total and longest (as the bucket
    bound it fell under, in ms), and how many took over 25 ms."""
    if not after:
        return {}
    n = after.get("+Inf", 0) - before.get("+Inf", 0)
    longest = 0.0
    for le in sorted((k for k in after if k not in ("sum", "+Inf")), key=float):
        if after[le] - before.get(le, 0) < n:
            longest = float(le) * 1000  # some pass was longer than this bound
    over25 = n - (after.get("0.025", 0) - before.get("0.025", 0))
    return {"passes": n, "ms": (after.get("sum", 0) - before.get("sum", 0)) * 1000,
            "longest_over_ms": longest, "over_25ms": over25}


# --- scenarios -----------------------------------------------------------------------------

@dataclass
class Result:
    p50: float = float("nan")
    p99: float = float("nan")
    delivered: float = float("nan")
    cpu: float = float("nan")
    rss_mb: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)


def spec(cid: str, target: Target, room: str, params: dict[str, str],
         writer: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "url": target.ws_url, "room": room, "params": params}
    if writer:
        out["resync_ms"] = 10_000
    return out


def wait_mode(target: Target) -> str:
    return "open" if target.kind == "relay" else "synced"


async def _connect(proc: NodeClients, specs: list[dict[str, Any]], target: Target,
                   conc: int = 50) -> None:
    if not specs:
        return
    res = await proc.cmd("connect", within=180, clients=specs, wait=wait_mode(target),
                         concurrency=conc, timeout_ms=30000)
    if res["failed"]:
        raise RuntimeError(f"{res['failed']} of {len(specs)} clients did not connect")


async def measure_fanout(writer_proc: NodeClients, reader_procs: list[NodeClients],
                         writers: list[str], rate: float, duration: float, expected: int,
                         pid: int | list[int]) -> Result:
    """Mark, write for ``duration``, drain, and collect; ``expected`` deliveries per sent."""
    pids = pid if isinstance(pid, list) else [pid]
    procs = [writer_proc, *[p for p in reader_procs if p is not writer_proc]]
    warm = min(2.0, duration / 2)  # JIT, buffers, first allocations: not measured
    await writer_proc.cmd("write", within=warm + 30, writers=writers, rate=rate,
                          duration_ms=int(warm * 1000))
    await asyncio.sleep(0.3)
    await asyncio.gather(*(p.cmd("mark") for p in procs))
    meters = [CpuMeter(p) for p in pids]
    res = await writer_proc.cmd("write", within=duration + 30, writers=writers, rate=rate,
                                duration_ms=int(duration * 1000))
    cpu = sum(m.percent() for m in meters)
    kernel = sum(m.kernel for m in meters)
    await asyncio.sleep(min(2.0, max(0.5, duration / 5)))  # late deliveries still count
    stats = await asyncio.gather(*(p.cmd("stats", within=60) for p in procs))
    lat = [x for s in stats for x in s["lat"]]
    at = [x for s in stats for x in s["at"]]
    received = sum(s["received"] for s in stats)
    want = res["sent"] * expected
    return Result(pct(lat, 50), pct(lat, 99), received / want if want else float("nan"), cpu,
                  sum(rss_kb(p) for p in pids) / 1024,
                  {"sent": res["sent"], "closes": sum(s["closes"] for s in stats),
                   "kernel": kernel, "worst5": worst_window_p99(lat, at)})


async def scenario_a(target: Target, cfg: Config) -> Result:
    (room, params), = await target.rooms(1)
    async with node_clients(2) as (wproc, rproc):
        await _connect(rproc, [spec(f"r{i}", target, room, params) for i in range(cfg.a_readers)],
                       target)
        await _connect(wproc, [spec("w", target, room, params, writer=True)], target)
        await asyncio.sleep(0.5)
        async with cfg.profiling(target, "a", cfg.a_seconds):
            return await measure_fanout(wproc, [rproc], ["w"], cfg.a_rate, cfg.a_seconds,
                                        cfg.a_readers, target.pid)


async def scenario_b(target: Target, cfg: Config) -> Result:
    rooms = await target.rooms(cfg.b_rooms)
    nproc = 4
    async with node_clients(nproc) as procs:
        # the 4 clients of a room live in 4 different processes
        per: list[list[dict[str, Any]]] = [[] for _ in range(nproc)]
        for r, (room, params) in enumerate(rooms):
            for k in range(4):
                per[k].append(spec(f"c{r}-{k}", target, room, params, writer=True))
        await asyncio.gather(*(_connect(p, s, target, 25) for p, s in zip(procs, per, strict=True)))
        await asyncio.sleep(0.5)
        await asyncio.gather(*(p.cmd("mark") for p in procs))
        meter = CpuMeter(target.pid)
        async with cfg.profiling(target, "b", cfg.b_seconds):
            results = await asyncio.gather(*(
                p.cmd("write", within=cfg.b_seconds + 30, writers=[c["id"] for c in s], rate=1.0,
                      duration_ms=int(cfg.b_seconds * 1000))
                for p, s in zip(procs, per, strict=True)))
        cpu = meter.percent()
        await asyncio.sleep(2)
        stats = await asyncio.gather(*(p.cmd("stats", within=60) for p in procs))
    lat = [x for s in stats for x in s["lat"]]
    at = [x for s in stats for x in s["at"]]
    sent = sum(r["sent"] for r in results)
    return Result(pct(lat, 50), pct(lat, 99), sum(s["received"] for s in stats) / (sent * 3),
                  cpu, rss_kb(target.pid) / 1024,
                  {"sent": sent, "closes": sum(s["closes"] for s in stats),
                   "kernel": meter.kernel, "worst5": worst_window_p99(lat, at)})


async def scenario_c(a: Target, b: Target, cfg: Config) -> Result:
    (room, params), = await a.rooms(1)
    async with node_clients(2) as (wproc, rproc):
        await _connect(rproc, [spec(f"r{i}", b, room, params) for i in range(cfg.c_readers)], b)
        await _connect(wproc, [spec("w", a, room, params, writer=True)], a)
        await asyncio.sleep(0.5)
        async with cfg.profiling(b, "c-reader-side" if a is not b else "c-same", cfg.c_seconds):
            return await measure_fanout(wproc, [rproc], ["w"], cfg.c_rate, cfg.c_seconds,
                                        cfg.c_readers, [a.pid, b.pid])


async def scenario_d(target: Target, cfg: Config) -> Result:
    (room, params), = await target.rooms(1)
    out = Result()
    async with node_clients(2) as (wproc, jproc):
        await _connect(wproc, [spec("w", target, room, params, writer=True),
                               spec("probe", target, room, params)], target)
        t0 = time.monotonic()
        await wproc.cmd("fill", within=300, client="w", n=cfg.d_updates)
        if target.kind == "relay":
            await wproc.cmd("wait_len", within=120, client="probe", n=cfg.d_updates,
                            timeout_ms=110_000)
            out.extra["fill_s"] = time.monotonic() - t0
            out.extra["note"] = "the relay keeps no state: a new client gets nothing"
            return out
        await wproc.cmd("wait_len", within=300, client="probe", n=cfg.d_updates,
                        timeout_ms=290_000)
        out.extra["fill_s"] = time.monotonic() - t0
        await asyncio.sleep(1)
        warm = []
        for i in range(3):
            r = await jproc.cmd("join", within=120, client=f"j{i}", url=target.ws_url, room=room,
                                params=params, n=cfg.d_updates, timeout_ms=50_000)
            warm.append(r["ms"])
        out.extra["warm_ms"] = sorted(warm)[1]
        out.rss_mb = rss_kb(target.pid) / 1024
        if target.kind != "arbor":
            out.extra["cold_ms"] = None
            return out
        await wproc.cmd("destroy", within=30)
        deadline = time.monotonic() + 60
        while await arbor_rooms_held(target) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        r = await jproc.cmd("join", within=120, client="cold", url=target.ws_url, room=room,
                            params=params, n=cfg.d_updates, timeout_ms=50_000)
        out.extra["cold_ms"] = r["ms"]
    return out


async def scenario_e(target: Target, cfg: Config) -> Result:
    rooms = await target.rooms(cfg.e_rooms + 1)
    closed: list[float] = []
    async with node_clients(1) as (proc,):
        await _connect(proc, [spec("warm", target, *rooms[0])], target)
        await asyncio.sleep(1)
        before = rss_kb(target.pid)
        after = before
        # at least twice: a leak grows each time, a high-water mark does not
        gc_waves = []
        for rnd in range(cfg.e_rounds):
            reclaims = await arbor_reclaims(target) if target.kind == "arbor" else 0
            gc_before = await arbor_gc(target) if target.kind == "arbor" else {}
            ids = [f"e{rnd}-{i}" for i in range(cfg.e_rooms)]
            await _connect(proc, [spec(cid, target, room, params) for cid, (room, params)
                                  in zip(ids, rooms[1:], strict=True)], target, 25)
            await asyncio.sleep(2)
            if target.kind == "arbor":
                gc_waves.append(gc_between(gc_before, await arbor_gc(target)))
            after = max(after, rss_kb(target.pid))
            # every room but the warm one closes: how much of its memory comes back?
            await proc.cmd("destroy", within=60, ids=ids)
            if target.kind == "arbor":
                deadline = time.monotonic() + 60
                while await arbor_rooms_held(target) > 1 and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                # The server collects and trims once a wave of unloads is over, at most
                # every 10 s: rounds closer together than that would be measured before it.
                deadline = time.monotonic() + 20
                while (await arbor_reclaims(target) <= reclaims  # noqa: ASYNC110
                       and time.monotonic() < deadline):
                    await asyncio.sleep(0.5)
            await asyncio.sleep(5)
            closed.append((rss_kb(target.pid) - before) / 1024)
    return Result(rss_mb=after / 1024, extra={"kb_per_room": (after - before) / cfg.e_rooms,
                                              "closed_mb": closed, "gc": gc_waves})


async def scenario_f(target: Target, cfg: Config) -> Result:
    (room, params), = await target.rooms(1)
    best, steps = 0, []
    async with node_clients(2) as (wproc, rproc):
        await _connect(rproc, [spec(f"r{i}", target, room, params) for i in range(cfg.f_readers)],
                       target)
        await _connect(wproc, [spec("w", target, room, params, writer=True)], target)
        await asyncio.sleep(0.5)
        async with cfg.profiling(target, "f", len(cfg.f_rates) * (cfg.f_seconds + 3)):
            for rate in cfg.f_rates:
                r = await measure_fanout(wproc, [rproc], ["w"], rate, cfg.f_seconds,
                                         cfg.f_readers, target.pid)
                steps.append((rate, r.p99, r.delivered, r.cpu))
                if r.p99 > 100 or r.delivered < 0.99:
                    break
                best = rate
    return Result(extra={"max_rate": best, "steps": steps})


async def scenario_g(target: Target, cfg: Config) -> Result:
    """(a) on a smaller scale, measured while a wave of new rooms joins the same server:
    what the people already editing feel when a deploy sends others over."""
    rooms = await target.rooms(cfg.g_rooms + 1)
    (room, params), joining = rooms[0], rooms[1:]
    async with node_clients(3) as (wproc, rproc, jproc):
        await _connect(rproc, [spec(f"r{i}", target, room, params) for i in range(cfg.g_readers)],
                       target)
        await _connect(wproc, [spec("w", target, room, params, writer=True)], target)
        await asyncio.sleep(0.5)
        gc_before = await arbor_gc(target) if target.kind == "arbor" else {}
        took: list[float] = []

        async def wave() -> None:
            await asyncio.sleep(2.5)  # measure_fanout's warm-up, then its measured window
            t0 = time.monotonic()
            await _connect(jproc, [spec(f"j{i}", target, r, p)
                                   for i, (r, p) in enumerate(joining)], target, 25)
            took.append(time.monotonic() - t0)

        joins = asyncio.get_running_loop().create_task(wave())
        try:
            async with cfg.profiling(target, "g", cfg.g_seconds + 2):
                res = await measure_fanout(wproc, [rproc], ["w"], cfg.g_rate, cfg.g_seconds,
                                           cfg.g_readers, target.pid)
        finally:
            await joins
        if target.kind == "arbor":
            res.extra["gc"] = gc_between(gc_before, await arbor_gc(target))
    res.extra["wave_s"] = took[0] if took else float("nan")
    return res


# --- configuration and report --------------------------------------------------------------

@dataclass
class Config:
    quick: bool
    profile_dir: Path | None = None
    a_readers: int = 100
    a_rate: float = 50
    a_seconds: float = 20
    b_rooms: int = 200
    b_seconds: float = 20
    c_readers: int = 20
    c_rate: float = 50
    c_seconds: float = 15
    d_updates: int = 20_000
    e_rooms: int = 500
    e_rounds: int = 2
    g_rooms: int = 2000
    g_readers: int = 10
    g_rate: float = 50
    g_seconds: float = 12
    f_readers: int = 10
    f_rates: tuple[int, ...] = (100, 200, 400, 800, 1600, 3200, 6400)
    f_seconds: float = 4
    repeat: int = 1

    @classmethod
    def make(cls, quick: bool, profile_dir: Path | None, seconds: float | None = None,
             repeat: int = 1) -> Config:
        cfg = cls(False, profile_dir) if not quick else cls(
            True, profile_dir, a_seconds=3, b_rooms=50, b_seconds=3, c_seconds=3,
            d_updates=2_000, e_rooms=100, f_rates=(400, 3200), f_seconds=2, g_rooms=300,
            g_seconds=5)
        if seconds is not None:
            cfg.a_seconds = cfg.b_seconds = cfg.c_seconds = seconds
        cfg.repeat = max(1, repeat)
        return cfg

    @contextlib.asynccontextmanager
    async def profiling(self, target: Target, name: str, seconds: float) -> AsyncIterator[None]:
        """``py-spy record`` on the Arbor server for the measured window (``--profile``)."""
        spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        if self.profile_dir is None or target.kind != "arbor" or spy is None:
            yield
            return
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"arbor-{name}.txt"
        proc = await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(target.pid), "--duration", str(int(seconds)),
            "--format", "raw", "--nonblocking", "--output", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            yield
        finally:
            try:
                await asyncio.wait_for(proc.wait(), seconds + 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def fmt(x: Any, spec_: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    return format(x, spec_)


def ratio(a: float, b: float) -> str:
    if a != a or b != b or not b:
        return "-"
    return f"{a / b:.2f}"


def print_fanout(title: str, rows: dict[str, Result]) -> None:
    print(f"\n## {title}")
    print(f"{'server':8} {'p50 ms':>8} {'p99 ms':>8} {'worst5s':>8} {'deliv.':>7} {'cpu %':>7}"
          f" {'kernel':>7} {'rss MB':>7} {'sent':>7} {'closes':>6}")
    for k, r in rows.items():
        print(f"{k:8} {fmt(r.p50, '.2f'):>8} {fmt(r.p99, '.2f'):>8}"
              f" {fmt(r.extra.get('worst5'), '.2f'):>8} {fmt(r.delivered, '.4f'):>7}"
              f" {fmt(r.cpu):>7} {fmt(r.extra.get('kernel')):>7} {fmt(r.rss_mb):>7}"
              f" {r.extra.get('sent', '-')!s:>7} {r.extra.get('closes', '-')!s:>6}")
    spread = {k: r.extra["cpu_runs"] for k, r in rows.items() if "cpu_runs" in r.extra}
    if spread:
        print("cpu % of each run: " + "; ".join(
            f"{k} " + " ".join(fmt(x) for x in v) for k, v in spread.items()))
    if "arbor" in rows:
        a = rows["arbor"]
        for base in ("ref", "relay"):
            if base in rows:
                b = rows[base]
                print(f"arbor/{base}: p50 {ratio(a.p50, b.p50)}  p99 {ratio(a.p99, b.p99)}  "
                      f"cpu {ratio(a.cpu, b.cpu)}  rss {ratio(a.rss_mb, b.rss_mb)}")


async def guarded(coro: Any, name: str, kind: str) -> Result:
    """A scenario's result, or an empty one naming the error (the run goes on)."""
    try:
        result: Result = await asyncio.wait_for(coro, 600)
        return result
    except Exception as exc:  # report and continue with the next scenario
        print(f"  ({name}) {kind} failed: {type(exc).__name__}: {str(exc)[:500]}", flush=True)
        return Result(extra={"error": f"{type(exc).__name__}: {str(exc)[:200]}"})


def median_of(runs: list[Result]) -> Result:
    """One row from repeated runs: the median of every figure (ratios of medians are less
    at the mercy of one noisy run on a shared machine than one run each)."""
    if len(runs) == 1:
        return runs[0]

    def med(values: list[float]) -> float:
        vals = sorted(v for v in values if v == v)
        return vals[len(vals) // 2] if vals else float("nan")

    out = Result(med([r.p50 for r in runs]), med([r.p99 for r in runs]),
                 med([r.delivered for r in runs]), med([r.cpu for r in runs]),
                 med([r.rss_mb for r in runs]), dict(runs[0].extra))
    for key in ("kernel", "worst5"):
        if all(key in r.extra for r in runs):
            out.extra[key] = med([r.extra[key] for r in runs])
    out.extra["closes"] = sum(r.extra.get("closes", 0) for r in runs)
    out.extra["cpu_runs"] = [r.cpu for r in runs]
    return out


async def run(cfg: Config, only: set[str]) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    out: dict[str, dict[str, Result]] = {k: {} for k in "abcdefg"}
    runs: dict[str, dict[str, list[Result]]] = {k: {} for k in "abcdefg"}
    scen = {"a": scenario_a, "b": scenario_b, "d": scenario_d, "e": scenario_e, "f": scenario_f,
            "g": scenario_g}
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmpdir:
        tmp = Path(tmpdir)
        async with storage(tmp) as st:
            # (a) and (b) repeat with the servers taking turns; the rest run once
            for rep in range(cfg.repeat):
                for kind in SELECTED:
                    for name, fn in scen.items():
                        if name not in only or (rep and name not in "ab"):
                            continue
                        server = (arbor_server(st, tmp) if kind == "arbor"
                                  else node_server(kind, tmp))
                        with server as target:  # a fresh server for every scenario
                            print(f"[{time.monotonic() - started:5.0f}s] {kind}: {name}"
                                  + (f" (run {rep + 1} of {cfg.repeat})" if name in "ab"
                                     and cfg.repeat > 1 else ""), flush=True)
                            runs[name].setdefault(kind, []).append(
                                await guarded(fn(target, cfg), name, kind))
            if "c" in only:
                with arbor_server(st, tmp) as a, arbor_server(st, tmp) as b:
                    print(f"[{time.monotonic() - started:5.0f}s] arbor: c", flush=True)
                    out["c"]["arbor A->B"] = await guarded(scenario_c(a, b, cfg), "c", "A->B")
                with arbor_server(st, tmp) as a:
                    out["c"]["arbor A->A"] = await guarded(scenario_c(a, a, cfg), "c", "A->A")
    for name, by_kind in runs.items():
        for kind, results in by_kind.items():
            out[name][kind] = median_of(results)
    elapsed = time.monotonic() - started
    report(cfg, out, only, elapsed, (load_before, os.getloadavg()[0]))


def gc_line(g: dict[str, float]) -> str:
    return (f"{g['passes']:.0f} full GC passes, {g['ms']:.0f} ms in all, "
            f"{g['over_25ms']:.0f} over 25 ms, the longest over {g['longest_over_ms']:g} ms")


def report_e(cfg: Config, rows: dict[str, Result]) -> None:
    print(f"\n## (e) memory per idle room ({cfg.e_rooms} rooms, one client each)")
    for k, r in rows.items():
        print(f"{k:8} {fmt(r.extra.get('kb_per_room'))} KB per room "
              f"(server rss {fmt(r.rss_mb)} MB); after they all closed, over the "
              f"baseline: " + ", then ".join(f"{fmt(x, '+.1f')} MB"
                                             for x in r.extra.get("closed_mb", []))
              + f" ({len(r.extra.get('closed_mb', []))} rounds)")
        for i, g in enumerate(r.extra.get("gc") or []):
            if g:
                print(f"{'':8} round {i + 1}'s joins: {gc_line(g)}")


def report_g(cfg: Config, rows: dict[str, Result]) -> None:
    print_fanout(f"(g) one room: 1 writer + {cfg.g_readers} readers at {cfg.g_rate:g} "
                 f"updates/s, {cfg.g_seconds:g} s, while {cfg.g_rooms} new rooms join "
                 "(one client each)", rows)
    for k, r in rows.items():
        g = r.extra.get("gc") or {}
        print(f"{k:8} the wave took {fmt(r.extra.get('wave_s'))} s"
              + (f"; {gc_line(g)}" if g else ""))


def report(cfg: Config, out: dict[str, dict[str, Result]], only: set[str], elapsed: float,
           load: tuple[float, float]) -> None:
    print(f"\n# Sync load ({'quick' if cfg.quick else 'full'} run, {elapsed:.0f} s, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} before / {load[1]:.1f} after)")
    print("clients, servers and storage share this machine; the load average includes them")
    if PIN:
        print(f"pinned: the server under test on CPU {sorted(PIN['server'])}, the Node clients "
              f"on {sorted(PIN['clients'])}; PostgreSQL, Redis and this script unpinned")
    if "a" in only:
        print_fanout(f"(a) one room: 1 writer + {cfg.a_readers} readers at {cfg.a_rate:g} "
                     f"updates/s, {cfg.a_seconds:g} s", out["a"])
    if "b" in only:
        print_fanout(f"(b) {cfg.b_rooms} rooms x 4 clients, each writing 1 update/s, "
                     f"{cfg.b_seconds:g} s", out["b"])
    if "c" in only:
        print_fanout(f"(c) cross-process: writer on A, {cfg.c_readers} readers on B "
                     f"(A->A: same server), {cfg.c_rate:g} updates/s; cpu/rss = A+B", out["c"])
    if "g" in only:
        report_g(cfg, out["g"])
    if "d" in only:
        print(f"\n## (d) new client's full sync of a room of {cfg.d_updates} updates")
        for k, r in out["d"].items():
            print(f"{k:8} from memory {fmt(r.extra.get('warm_ms'))} ms, cold (PostgreSQL) "
                  f"{fmt(r.extra.get('cold_ms'))} ms; writing them took "
                  f"{fmt(r.extra.get('fill_s'))} s; rss {fmt(r.rss_mb)} MB"
                  + (f"  ({r.extra['note']})" if "note" in r.extra else ""))
    if "e" in only:
        report_e(cfg, out["e"])
    if "f" in only:
        print(f"\n## (f) one room, {cfg.f_readers} readers: highest rate with p99 <= 100 ms "
              f"and >= 99% delivered ({cfg.f_seconds:g} s per step)")
        for k, r in out["f"].items():
            steps = ", ".join(f"{rate}/s p99 {fmt(p99)} ms {fmt(d * 100, '.1f')}% "
                              f"cpu {fmt(c, '.0f')}%"
                              for rate, p99, d, c in r.extra.get("steps", []))
            print(f"{k:8} max {r.extra.get('max_rate', '-')}/s  [{steps}]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a reduced run (under 2 minutes)")
    ap.add_argument("--only", default="abcdefg", help="scenarios to run, e.g. 'ab' (default all)")
    ap.add_argument("--profile", type=Path, help="py-spy record the Arbor server in (a), (b), "
                    "(c), (f), (g) into this folder (collapsed stacks; py-spy must be installed)")
    ap.add_argument("--seconds", type=float, help="measured seconds of (a), (b) and (c)")
    ap.add_argument("--repeat", type=int, default=1, help="run (a) and (b) this many times, "
                    "the servers taking turns, and report the median of each figure")
    ap.add_argument("--server", action="append", choices=SERVERS,
                    help="only these servers (repeatable; default all three)")
    ap.add_argument("--server-env", action="append", type=server_env_arg, default=[],
                    metavar="ARBOR_NAME=value", help="a setting for the Arbor servers "
                    "(repeatable), e.g. ARBOR_FLUSH_INTERVAL_MS=1000")
    ap.add_argument("--e-rounds", type=int, default=2, help="rounds of (e): open and close "
                    "its rooms this many times (default 2)")
    ap.add_argument("--e-rooms", type=int, help="rooms (one client each) that (e) opens "
                    "and closes in each round (default 500)")
    ap.add_argument("--pin", action="store_true", help="run each server on the last CPU and "
                    "the Node clients on the others, so they do not take turns on one core")
    ap.add_argument("--saved", action="store_true", help="Arbor's clients ask for the "
                    "server's saved entry (saved=1), as the web app does")
    args = ap.parse_args()
    SERVER_ENV.update(args.server_env)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            print("--pin needs at least two CPUs", file=sys.stderr)
            return 2
        PIN.update(server={cpus[-1]}, clients=set(cpus[:-1]))
    if args.saved:
        ARBOR_PARAMS["saved"] = "1"
    if args.server:
        SELECTED[:] = [k for k in SERVERS if k in args.server]
    if shutil.which("node") is None:
        print("node is not installed", file=sys.stderr)
        return 2
    missing = [p for p in ("yjs", "y-websocket", "ws", "@y/websocket-server")
               if not (LOAD / "node_modules" / p).is_dir()]
    if missing:
        print(f"bench/load/node_modules lacks {missing}: run `npm ci` in bench/load",
              file=sys.stderr)
        return 2
    cfg = Config.make(args.quick, args.profile, args.seconds, args.repeat)
    cfg.e_rounds = max(2, args.e_rounds)
    if args.e_rooms:
        cfg.e_rooms = args.e_rooms
    asyncio.run(run(cfg, set(args.only.replace(",", ""))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
