"""Benchmark: how fast a view link to a large canvas shows its first blocks.

    .venv/bin/python bench/view_open.py [--blocks 500] [--runs 7] [--dist web/dist]
                                        [--dist /tmp/another-build] [--mbps 20 --rtt 40]
                                        [--no-frames]

A real ``arbor serve`` (a subprocess on 127.0.0.1, serving the web build ``--dist``) and a
canvas of ``--blocks`` text blocks with edges, written over the websocket by a Python Yjs
client. Headless Chromium opens the canvas's view link ``--runs`` times, each in a new
browser context (a first visit: no cache, nothing in IndexedDB), and notes:

- time to first block: from navigation start to the first frame after a block is shown in
  the page (``performance.now()`` in the page, whose zero is the navigation's start);
- script bytes on the wire: the encoded (compressed, if the server compressed it) bodies of
  every ``.js`` the page fetched by then, and which Content-Encoding they came in.

Then, unless ``--no-frames``, the 1,000-block canvas of tests/e2e/test_large_canvas.py is
opened once and panned, and its frame times printed. Figures are printed, never asserted:
this machine's speed is not the product's. Goal (issue 22): median first block <= 1.0 s for
500 blocks, <= 350 KB of script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.async_api import Browser, async_playwright  # noqa: E402
from pycrdt import Map, Text  # noqa: E402

from bench.stream_latency import free_port, services  # noqa: E402
from tests.yclient import YClient  # noqa: E402

CHROMIUM = "/usr/bin/chromium"

# Runs before the app's own scripts: the time of the first frame drawn with a block showing
# (React Flow keeps a block hidden until it has measured it).
FIRST_BLOCK = """(() => {
    window.__firstBlock = null
    const SHOWN = '.react-flow__node:not([style*="visibility: hidden"])'
    const seen = () => {
        if (window.__firstBlock !== null || !document.querySelector(SHOWN)) return
        observer.disconnect()
        requestAnimationFrame(() => { window.__firstBlock = performance.now() })
    }
    const observer = new MutationObserver(seen)
    observer.observe(document, { childList: true, subtree: true, attributes: true,
                                 attributeFilter: ['style'] })
})()"""

# A person who has used Arbor before (a saved name), as the e2e tests' open_canvas.
IDENTITY = ("localStorage.setItem('arbor.identity', JSON.stringify({id: 'user-bench', "
            "name: 'Bench', color: '#5925dc', noFollow: false}))")

SCRIPT_BYTES = """() => performance.getEntriesByType('resource')
    .filter(e => new URL(e.name).pathname.endsWith('.js'))
    .map(e => ({ name: new URL(e.name).pathname, wire: e.encodedBodySize,
                 plain: e.decodedBodySize }))"""

# Launches the real `arbor serve` with another web build than web/dist (the CLI serves the
# one beside the code), e.g. a `vite build --outDir /tmp/dist-x` under test.
SERVE = """import sys
from pathlib import Path
import server.app
server.app.WEB_DIST = Path(sys.argv[1])
from server.cli import main
raise SystemExit(main(sys.argv[2:]))"""


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
async def arbor_serve(env: dict[str, str], dist: Path, logs: Path) -> AsyncIterator[str]:
    port = free_port()
    log = (logs / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE, str(dist), "serve", "--host", "127.0.0.1", "--port",
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
        yield base
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def build_canvas(client: YClient, count: int, cols: int) -> None:
    """``count`` text blocks in rows of ``cols``, each row a chain of expand edges (the
    shape of tests/e2e/test_large_canvas.py)."""
    blocks = client.doc.get("blocks", type=Map)
    edges = client.doc.get("edges", type=Map)
    with client.doc.transaction():
        for i in range(count):
            r, c = divmod(i, cols)
            block = Map({"kind": "text", "x": float(c * 340), "y": float(r * 220),
                         "w": 260.0, "h": 150.0, "status": "idle",
                         "createdAt": float(1_700_000_000_000 + i)})
            blocks[f"b{i:04d}"] = block
            block["text"] = Text(f"idea {i}: a **lantern** over water, variation {c}")
            if c:
                edges[f"e{i:04d}"] = Map({"source": f"b{i - 1:04d}", "target": f"b{i:04d}",
                                          "tool": "expand"})


async def new_canvas(base: str, count: int, cols: int) -> dict[str, str]:
    """A room holding ``count`` blocks, confirmed by a second client reading them back."""
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base}/api/rooms", json={"title": f"{count} blocks"})
        r.raise_for_status()
        room: dict[str, str] = r.json()
    ws = base.replace("http", "ws", 1)
    url = f"{ws}/sync/{room['room']}?token={room['edit_token']}"
    writer = await YClient.connect(url)
    try:
        build_canvas(writer, count, cols)
        reader = await YClient.connect(url)
        try:
            deadline = time.monotonic() + 60
            while len(reader.doc.get("blocks", type=Map)) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not take the canvas")
                await asyncio.sleep(0.05)
        finally:
            await reader.close()
    finally:
        await writer.close()
    return room


async def open_once(browser: Browser, url: str, mbps: float = 0, rtt: float = 0
                    ) -> tuple[float, int, int, set[str]]:
    """(ms to first block, script bytes on the wire, plain script bytes, encodings).
    ``mbps``/``rtt``: a network of that speed and round trip (Chromium's emulation)."""
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        await ctx.add_init_script(IDENTITY)
        page = await ctx.new_page()
        if mbps:
            cdp = await ctx.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": rtt, "downloadThroughput": mbps * 125_000,
                "uploadThroughput": mbps * 125_000})
        await page.add_init_script(FIRST_BLOCK)
        encodings: set[str] = set()

        def noted(response: Any) -> None:
            if response.url.endswith(".js"):
                encodings.add(response.headers.get("content-encoding", "identity"))

        page.on("response", noted)
        await page.goto(url)
        try:
            await page.wait_for_function("() => window.__firstBlock !== null", timeout=60_000)
        except Exception:
            await page.screenshot(path="/tmp/view_open-stuck.png")
            raise
        first = float(await page.evaluate("() => window.__firstBlock"))
        scripts = await page.evaluate(SCRIPT_BYTES)
        return (first, sum(s["wire"] for s in scripts), sum(s["plain"] for s in scripts),
                encodings)
    finally:
        await ctx.close()


async def frame_figures(browser: Browser, base: str) -> None:
    """The 1,000-block pan of tests/e2e/test_large_canvas.py, once, printed."""
    # The very measure the e2e test prints (imported by name: it is test code, not typed).
    large = importlib.import_module("tests.e2e.test_large_canvas")
    cols: int = large.COLS
    rows: int = large.ROWS
    room = await new_canvas(base, cols * rows, cols)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        await ctx.add_init_script(IDENTITY)
        page = await ctx.new_page()
        await page.goto(f"{base}/r/{room['room']}#token={room['edit_token']}")
        await page.wait_for_function("() => window.arbor?.blocks?.size === 1000",
                                     timeout=60_000)
        await page.locator(".react-flow__node").first.wait_for(timeout=60_000)
        p50, p95, n = await large.frame_stats(page, [(-200, -100), (200, 100)])
        print(f"  1000 blocks, panning the whole canvas: frame p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms over {n} frames")
    finally:
        await ctx.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dist", type=Path, action="append",
                        help="a web build to serve (default: web/dist); give it twice to "
                             "compare two builds, their visits taking turns")
    parser.add_argument("--mbps", type=float, default=0,
                        help="emulate a network of this many Mbit/s (default: none, loopback)")
    parser.add_argument("--rtt", type=float, default=40,
                        help="with --mbps, its round trip in ms (default 40)")
    parser.add_argument("--no-frames", action="store_true",
                        help="skip the 1,000-block frame times")
    args = parser.parse_args()
    dists = [d.resolve() for d in args.dist or [ROOT / "web" / "dist"]]
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with services(tmp) as (db, redis), contextlib.AsyncExitStack() as stack, \
                async_playwright() as pw:
            env = server_env(db, redis, tmp)
            bases = []
            for i, dist in enumerate(dists):  # one server per build, on the same services
                (tmp / f"logs{i}").mkdir()
                bases.append(await stack.enter_async_context(
                    arbor_serve(env, dist, tmp / f"logs{i}")))
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            try:
                room = await new_canvas(bases[0], args.blocks, 25)
                urls = [f"{b}/r/{room['room']}#token={room['view_token']}" for b in bases]
                for url in urls:
                    await open_once(browser, url)  # warms each server, not timed
                times: list[list[float]] = [[] for _ in dists]
                wire, plain = [0] * len(dists), [0] * len(dists)
                encodings: list[set[str]] = [set() for _ in dists]
                for _ in range(args.runs):  # builds take turns: the machine's load hits all
                    for i, url in enumerate(urls):
                        first, wire[i], plain[i], seen = await open_once(
                            browser, url, args.mbps, args.rtt if args.mbps else 0)
                        times[i].append(first)
                        encodings[i] |= seen
                for i, dist in enumerate(dists):
                    ts = sorted(times[i])
                    p90 = ts[min(len(ts) - 1, round(0.9 * (len(ts) - 1)))]
                    print(f"build {dist}")
                    net = f", {args.mbps:g} Mbit/s {args.rtt:g} ms" if args.mbps else ""
                    print(f"  view link{net}, {args.blocks} blocks, {args.runs} first visits: "
                          f"first block median {statistics.median(ts):.0f} ms, p90 {p90:.0f} ms "
                          f"(all: {', '.join(f'{t:.0f}' for t in ts)})")
                    print(f"  script by then: {wire[i] / 1000:.0f} KB on the wire "
                          f"({plain[i] / 1000:.0f} KB plain), encodings {sorted(encodings[i])}")
                if not args.no_frames:
                    for base, dist in zip(bases, dists, strict=True):
                        print(f"build {dist}")
                        await frame_figures(browser, base)
            finally:
                await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
