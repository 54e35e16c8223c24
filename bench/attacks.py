"""Benchmark: an unrelated room's round trip while one room is attacked (issue 20, items 1-3).

    .venv/bin/python bench/attacks.py [--seconds 15] [--entries 200000]

A real ``arbor serve`` (a subprocess on 127.0.0.1) holds two rooms. In the quiet room one
client writes 20 small updates a second and another measures when each arrives (the round
trip through the server). The victim room holds a canvas of ``--entries`` map entries. The
run has two phases of ``--seconds`` each, in the same server:

1. baseline: nobody attacks;
2. attack: at the same time, against the victim room,
   - updates of 900 KB whose dependencies never arrive (item 1), from one edit socket after
     another (each is closed after a run of them);
   - small updates that change nothing, through a view link (item 2);
   - sync step 1 with an empty state vector, over and over, from a client that never reads
     (item 3), one new such client every second.

It prints the quiet room's p50/p99/max in each phase and their ratio, the server's resident
memory before and after, and the victim room's size. Nothing is asserted. Goal (issue 20):
the quiet room's p99 stays under 50 ms during the attack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402
from pycrdt import Doc, Map, Text  # noqa: E402

from bench.stream_latency import free_port, services  # noqa: E402
from sync import protocol as p  # noqa: E402
from sync.updates import read_state_vector  # noqa: E402


def server_env(db: str, redis: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARBOR_", "OPENAI_", "GEMINI_"))}
    big = "1000000"
    env.update({
        "DATABASE_URL": db, "REDIS_URL": redis,
        "ARBOR_REDIS_PREFIX": f"arbor-bench-{secrets.token_hex(4)}:",
        "ARBOR_DATA_DIR": str(tmp / "data"), "ARBOR_LOG_LEVEL": "WARNING",
        "ARBOR_RATE_ROOMS_PER_MIN_IP": big, "ARBOR_RATE_ROOMS_BURST_IP": big,
    })
    return env


@contextlib.asynccontextmanager
async def arbor_serve(env: dict[str, str], logs: Path) -> Any:
    port = free_port()
    log = (logs / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port",
        str(port), env=env, cwd=str(ROOT), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError(f"arbor did not start; see {logs}")
                await asyncio.sleep(0.1)
        yield base, proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def new_room(base: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base}/api/rooms", json={"title": "bench"})
        r.raise_for_status()
        return dict(r.json())


def ws_url(base: str, room: dict[str, str], token: str) -> str:
    return f"ws{base[4:]}/sync/{room['room']}?token={token}"


async def connect(url: str) -> Any:
    return await websockets.connect(url, max_size=None, compression=None)


async def fill(base: str, room: dict[str, str], entries: int) -> None:
    """Write ``entries`` map entries into the room, in messages under the size limit."""
    doc: Doc[Any] = Doc()
    ws = await connect(ws_url(base, room, room["edit_token"]))
    blocks = doc.get("bulk", type=Map)
    step = 20_000
    for start in range(0, entries, step):
        before = doc.get_state()
        with doc.transaction():
            for i in range(start, min(entries, start + step)):
                blocks[f"e{i}"] = float(i)
        await ws.send(p.sync_update(doc.get_update(before)))
    pong = await ws.ping()
    await asyncio.wait_for(pong, 60)
    await ws.close()


class QuietRoom:
    """A writer and a reader; each update carries its send time."""

    def __init__(self, writer: Any, reader: Any) -> None:
        self.writer, self.reader = writer, reader
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("probe", type=Text)
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.seq = 0

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.reader:
                if not isinstance(frame, bytes) or frame[:2] != b"\x00\x02":
                    continue
                now = time.perf_counter()
                data = bytes(frame)
                for seq, at in list(self.sent.items()):
                    if f"<{seq}>".encode() in data:
                        self.latencies.append((now - at) * 1000)
                        del self.sent[seq]

    async def write(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.seq += 1
            before = self.doc.get_state()
            self.text += f"<{self.seq}>"
            self.sent[self.seq] = time.perf_counter()
            await self.writer.send(p.sync_update(self.doc.get_update(before)))
            await asyncio.sleep(0.05)


def orphan(size: int) -> bytes:
    doc: Doc[Any] = Doc()
    text = doc.get("orphan", type=Text)
    text += "a"
    base = doc.get_state()
    text += "z" * size
    return doc.get_update(base)


async def attack_missing(base: str, room: dict[str, str], stop: asyncio.Event) -> int:
    sent = 0
    updates = [p.sync_update(orphan(900_000)) for _ in range(8)]
    while not stop.is_set():
        try:
            ws = await connect(ws_url(base, room, room["edit_token"]))
            while not stop.is_set():
                await ws.send(updates[sent % len(updates)])
                sent += 1
                await asyncio.sleep(0.02)
        except websockets.ConnectionClosed:
            continue
    return sent


async def attack_view(base: str, room: dict[str, str], stop: asyncio.Event) -> int:
    ws = await connect(ws_url(base, room, room["view_token"]))
    async for frame in ws:  # the server's sync step 1: its state vector
        msg = p.decode(frame) if isinstance(frame, bytes) else None
        if isinstance(msg, p.SyncStep1):
            break
    state = read_state_vector(msg.state_vector)
    client = max(state, key=lambda c: state[c])
    # no structs, only a deletion of items the room holds: what a stock client's sync
    # step 2 carries back, and what the old server re-applied to a copy of the document
    noop = b"\x00" + p.write_uint(1) + p.write_uint(client) + p.write_uint(1) \
        + p.write_uint(0) + p.write_uint(min(state[client], 1000))
    sent = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while not stop.is_set():
            await ws.send(p.sync_update(noop))
            sent += 1
            await asyncio.sleep(0.01)
    return sent


async def attack_step1(base: str, room: dict[str, str], stop: asyncio.Event) -> int:
    sent = 0
    stuck = []
    while not stop.is_set():
        ws = await websockets.connect(ws_url(base, room, room["edit_token"]), max_size=None,
                                      compression=None, max_queue=1)
        ws.transport.pause_reading()
        stuck.append(ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            for _ in range(60):
                await ws.send(p.sync_step1(b"\x00"))
                sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    for ws in stuck:
        ws.transport.abort()
    return sent


async def _drain(ws: Any) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass


def describe(values: list[float]) -> str:
    if not values:
        return "no samples"
    s = sorted(values)

    def q(x: float) -> float:
        return s[min(len(s) - 1, int(x * len(s)))]

    return f"n={len(s)} p50={q(0.5):.1f} ms p99={q(0.99):.1f} ms max={s[-1]:.1f} ms"


async def probe_main(args: argparse.Namespace) -> None:
    """The quiet room's writer and reader, in a process of their own (so the attackers'
    own work never shows in the figures): one phase, latencies printed as JSON."""
    room = json.loads(args.probe)
    base = args.base
    quiet_ws = [await connect(ws_url(base, room, room["edit_token"])) for _ in range(2)]
    probe = QuietRoom(*quiet_ws)
    reader = asyncio.create_task(probe.read())
    await probe.write(args.seconds)
    await asyncio.sleep(0.5)
    reader.cancel()
    for ws in quiet_ws:
        await ws.close()
    print(json.dumps(probe.latencies))


async def run_probe(base: str, room: dict[str, str], seconds: float) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--base", base, "--probe", json.dumps(room), "--seconds",
        str(seconds), stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return [float(x) for x in json.loads(out.decode().strip().splitlines()[-1])]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with services(tmp) as (db, redis), \
                arbor_serve(server_env(db, redis, tmp), tmp) as (base, pid):
            quiet, victim = await new_room(base), await new_room(base)
            await fill(base, victim, args.entries)
            # someone stays in the victim room, so it is not unloaded (and stored whole)
            # during the run: that pass is the server's own work, not the attack's
            holder = await connect(ws_url(base, victim, victim["view_token"]))
            drain = asyncio.create_task(_drain(holder))
            print(f"victim room: {args.entries} entries; server RSS {rss_mb(pid):.0f} MB")
            # let the server store and compact the filled room first (a pass over the
            # whole document, which is the server's own work, not the attack's)
            await run_probe(base, quiet, 15.0)
            baseline = await run_probe(base, quiet, args.seconds)
            print(f"baseline: {describe(baseline)}")
            rss_before = rss_mb(pid)
            stop = asyncio.Event()
            attackers = [asyncio.create_task(f(base, victim, stop))
                         for f in (attack_missing, attack_view, attack_step1)]
            attacked = await run_probe(base, quiet, args.seconds)
            stop.set()
            counts = await asyncio.gather(*attackers, return_exceptions=True)
            print(f"attack:   {describe(attacked)}")
            print(f"messages sent by the attackers (missing deps, view no-ops, step 1): "
                  f"{counts}")
            print(f"server RSS: {rss_before:.0f} MB before the attack, {rss_mb(pid):.0f} MB "
                  f"after")
            if baseline and attacked:
                b99 = sorted(baseline)[int(0.99 * len(baseline))]
                a99 = sorted(attacked)[min(len(attacked) - 1, int(0.99 * len(attacked)))]
                print(f"p99 under attack / baseline: {a99 / b99:.2f} (goal: attack p99 < 50 ms:"
                      f" {'met' if a99 < 50 else 'NOT met'})")
            drain.cancel()
            await holder.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    asyncio.run(probe_main(parsed) if parsed.probe else main(parsed))
