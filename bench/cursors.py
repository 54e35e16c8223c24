"""Cursor load: many people moving cursors in one room, against Arbor and the reference
Node y-websocket server, in the same run.

    python bench/cursors.py [--people 100] [--rate 10] [--seconds 15] [--client-procs 4]
        [--server-env ARBOR_NAME=value ...]

Every person is a stock ``yjs`` + ``y-websocket`` client (bench/load/cursors.js) moving its
cursor ``--rate`` times a second through awareness. Prints, per server: p50/p99 latency
from one person's move to another person seeing it, the fraction of moves seen, and server
CPU. Stock clients re-send every awareness change they receive; Arbor drops those echoes
and sends each person one combined message per tick, the reference server relays every
change one by one. The people are spread over ``--client-procs`` Node processes, and
their CPU is printed too: a client process near a whole core measures itself, not the
server. For Arbor it also prints the share of incoming awareness messages it dropped as
echoes (from ``/metrics``, over the whole run). Prints figures only; nothing here asserts
a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync_load import (  # noqa: E402
    LOAD,
    SERVER_ENV,
    CpuMeter,
    arbor_server,
    node_server,
    server_env_arg,
    storage,
)


async def run_one(target, people: int, rate: float, seconds: float,
                  nprocs: int) -> dict[str, object]:
    (room, params), = await target.rooms(1)
    meter = CpuMeter(target.pid)
    procs, first = [], 0
    for k in range(nprocs):
        n = people // nprocs + (1 if k < people % nprocs else 0)
        procs.append(await asyncio.create_subprocess_exec(
            "node", str(LOAD / "cursors.js"), target.ws_url, room, json.dumps(params), str(n),
            str(rate), str(seconds), str(first), str(people), cwd=LOAD,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL))
        first += n
    await asyncio.sleep(5)  # connected and moving: measured from 5 s after the start
    client_meters = [CpuMeter(p.pid) for p in procs]
    await asyncio.sleep(seconds - 1)
    client_cpu = [m.percent() for m in client_meters]  # while they all still run
    try:
        outs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), seconds + 60)
    except TimeoutError:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        return {"error": "timed out"}
    parts = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]
    echoes = await echo_share(target) if target.kind == "arbor" else None
    hist: dict[int, int] = {}
    for part in parts:
        for bucket, count in part["hist"].items():
            hist[int(bucket)] = hist.get(int(bucket), 0) + count
    return {"p50": quantile(hist, 0.5), "p99": quantile(hist, 0.99),
            "seen": sum(p["seen"] for p in parts),
            "expected": sum(p["sent"] for p in parts) * (people - 1),
            "connected": sum(p["connected"] for p in parts), "cpu": meter.percent(),
            "client_cpu": client_cpu, "echoes": echoes}


async def echo_share(target) -> float | None:
    """Of the awareness messages Arbor received, the share it dropped as echoes."""
    async with httpx.AsyncClient(base_url=target.http_url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    got = {}
    for line in text.splitlines():
        name, _, val = line.partition(" ")
        if name in ("arbor_awareness_in_total", "arbor_awareness_echoes_total"):
            got[name] = float(val)
    total = got.get("arbor_awareness_in_total")
    return got.get("arbor_awareness_echoes_total", 0) / total if total else None


def quantile(hist: dict[int, int], q: float) -> float | None:
    """From 0.5 ms buckets: the upper edge of the bucket holding quantile ``q``."""
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen > q * total:
            return (bucket + 1) / 2
    return (max(hist) + 1) / 2


def show(name: str, f: dict[str, object]) -> str:
    if "error" in f:
        return f"{name:>9}: {f['error']}"
    expected = float(f["expected"] or 0)  # type: ignore[arg-type]
    seen = float(f["seen"] or 0)  # type: ignore[arg-type]
    p50, p99 = f["p50"], f["p99"]
    return (f"{name:>9}: p50 {p50 if p50 is None else f'{p50:.1f}'} ms, "
            f"p99 {p99 if p99 is None else f'{p99:.1f}'} ms, "
            f"seen {seen / expected:.0%} of moves, server CPU {f['cpu']:.0f}% of a core, "
            f"{f['connected']} connected; client processes' CPU "
            + ", ".join(f"{c:.0f}%" for c in f["client_cpu"])  # type: ignore[attr-defined]
            + (f"; {f['echoes']:.0%} of awareness in were echoes" if f.get("echoes") is not None
               else ""))


async def main_async(people: int, rate: float, seconds: float, nprocs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="arbor-cursors-"))
    print(f"{people} people in one room, each moving {rate:g} times a second, {seconds:g} s")
    results = {}
    with node_server("ref", tmp) as ref:
        results["reference"] = await run_one(ref, people, rate, seconds, nprocs)
    async with storage(tmp) as st:
        with arbor_server(st, tmp) as arbor:
            results["arbor"] = await run_one(arbor, people, rate, seconds, nprocs)
    for name, figures in results.items():
        print(show(name, figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--client-procs", type=int, default=4,
                        help="Node processes the people are spread over")
    parser.add_argument("--server-env", action="append", type=server_env_arg, default=[],
                        metavar="ARBOR_NAME=value", help="a setting for the Arbor server "
                        "(repeatable), e.g. ARBOR_AWARENESS_TICK_MS=50")
    args = parser.parse_args()
    SERVER_ENV.update(args.server_env)
    asyncio.run(main_async(args.people, args.rate, args.seconds, max(1, args.client_procs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
