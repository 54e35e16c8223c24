"""Cursor load: many people moving cursors in one room, against Arbor and the reference
Node y-websocket server, in the same run.

    python bench/cursors.py [--people 100] [--rate 10] [--seconds 15]

Every person is a stock ``yjs`` + ``y-websocket`` client (bench/load/cursors.js) moving its
cursor ``--rate`` times a second through awareness. Prints, per server: p50/p99 latency
from one person's move to another person seeing it, the fraction of moves seen, and server
CPU. Stock clients re-send every awareness change they receive; Arbor drops those echoes
and sends each person one combined message per tick, the reference server relays every
change one by one. Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync_load import LOAD, CpuMeter, arbor_server, node_server, storage  # noqa: E402


async def run_one(target, people: int, rate: float, seconds: float) -> dict[str, object]:
    (room, params), = await target.rooms(1)
    meter = CpuMeter(target.pid)
    proc = await asyncio.create_subprocess_exec(
        "node", str(LOAD / "cursors.js"), target.ws_url, room, json.dumps(params), str(people),
        str(rate), str(seconds), cwd=LOAD, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"error": "timed out"}
    figures: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    figures["cpu"] = meter.percent()
    return figures


def show(name: str, f: dict[str, object]) -> str:
    if "error" in f:
        return f"{name:>9}: {f['error']}"
    expected = float(f["expected"] or 0)  # type: ignore[arg-type]
    seen = float(f["seen"] or 0)  # type: ignore[arg-type]
    p50, p99 = f["p50"], f["p99"]
    return (f"{name:>9}: p50 {p50 if p50 is None else f'{p50:.1f}'} ms, "
            f"p99 {p99 if p99 is None else f'{p99:.1f}'} ms, "
            f"seen {seen / expected:.0%} of moves, server CPU {f['cpu']:.0f}% of a core, "
            f"{f['connected']} connected")


async def main_async(people: int, rate: float, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="arbor-cursors-"))
    print(f"{people} people in one room, each moving {rate:g} times a second, {seconds:g} s")
    results = {}
    with node_server("ref", tmp) as ref:
        results["reference"] = await run_one(ref, people, rate, seconds)
    async with storage(tmp) as st:
        with arbor_server(st, tmp) as arbor:
            results["arbor"] = await run_one(arbor, people, rate, seconds)
    for name, figures in results.items():
        print(show(name, figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    asyncio.run(main_async(args.people, args.rate, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
