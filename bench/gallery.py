"""Benchmark: the gallery's first page, as a browser loads it, first and second time.

    .venv/bin/python bench/gallery.py [--posts 60] [--web-dist web/dist] [--viewport 1280x800]
                                      [--dpr 1] [--s3]

A real server (a subprocess on 127.0.0.1, blobs on disk) serving the web build
``--web-dist`` (``--s3``: blobs in a SeaweedFS bucket started for the run) holds
``--posts`` published posts, each a 1024 x 1024 photo-like image with
a short lineage, published by a few people. Chromium (``/usr/bin/chromium``, or
``ARBOR_CHROMIUM``) then opens ``/gallery``:

1. first visit, empty cache: the time until every image in view is shown, and the bytes
   that crossed the network by kind (HTML, script, CSS, API, images); then the page is
   scrolled to its end so every post is shown, and the images' bytes are counted again;
2. second visit, in a new tab of the same browser (same HTTP cache): the same, and how
   many requests reached the network, by kind. Goal (issue 23): no image request, since
   every image URL names its content and is cached for a year.

It uses DATABASE_URL / REDIS_URL (a throw-away database and key prefix) or embedded ones,
as the other benchmarks do. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from pycrdt import Map, Text  # noqa: E402

from bench.images import photo  # noqa: E402
from bench.stream_latency import free_port, services  # noqa: E402
from tests.yclient import YClient, eventually  # noqa: E402

CHROMIUM = os.environ.get("ARBOR_CHROMIUM", "/usr/bin/chromium")
CSRF = {"X-Arbor-CSRF": "1"}

# Every resource the page fetched: what kind, how many bytes crossed the network
# (0: from the browser's cache), and the body's size.
RESOURCES = """() => {
    const nav = performance.getEntriesByType('navigation')[0]
    const out = [{ kind: 'html', name: nav.name, transfer: nav.transferSize,
                   body: nav.encodedBodySize, status: nav.responseStatus }]
    for (const r of performance.getEntriesByType('resource')) {
        const path = new URL(r.name).pathname
        const kind = path.startsWith('/images/') ? 'image'
            : path.startsWith('/api/') ? 'api'
            : path.endsWith('.js') ? 'script' : path.endsWith('.css') ? 'css' : 'other'
        out.push({ kind, name: path, transfer: r.transferSize, body: r.encodedBodySize,
                   status: r.responseStatus })
    }
    return out
}"""
# The moment every image in view is shown, in ms since the navigation started.
VISIBLE_IMAGES_DONE = """() => new Promise((resolve) => {
    const check = () => {
        const imgs = Array.from(document.querySelectorAll('.post-card img'))
        const inView = imgs.filter((i) => { const r = i.getBoundingClientRect()
            return r.bottom > 0 && r.top < innerHeight })
        if (inView.length && inView.every((i) => i.complete && i.naturalWidth > 0))
            resolve(performance.now())
        else requestAnimationFrame(check)
    }
    check()
})"""
ALL_SHOWN = """async (want) => {
    for (;;) {
        const imgs = Array.from(document.querySelectorAll('.post-card img'))
        window.scrollTo(0, document.body.scrollHeight)
        if (imgs.length >= want && imgs.every((i) => i.complete && i.naturalWidth > 0))
            return imgs.length
        await new Promise((r) => setTimeout(r, 50))
    }
}"""


# ------------------------------------------------------------------------------ server


def serve_main(args: argparse.Namespace) -> None:
    """The server process: the real app, serving ``--web-dist``."""
    import uvicorn

    from server.app import create_app
    from server.cli import uvicorn_config
    from sync.settings import Settings

    settings = Settings.from_env()
    app = create_app(settings, web_dist=Path(args.web_dist))
    uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", args.port)).run()


@contextlib.contextmanager
def bucket(enabled: bool) -> Iterator[dict[str, str]]:
    """The settings of a fresh SeaweedFS bucket (``--s3``), or none (blobs on disk)."""
    if not enabled:
        yield {}
        return
    import boto3  # type: ignore[import-untyped]

    from tests.fakes.seaweed import run_weed_mini

    with run_weed_mini() as s3:
        client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                              aws_access_key_id=s3.access_key,
                              aws_secret_access_key=s3.secret_key)
        client.create_bucket(Bucket=s3.bucket)
        client.close()
        yield {"ARBOR_S3_BUCKET": s3.bucket, "ARBOR_S3_ENDPOINT_URL": s3.endpoint_url,
               "ARBOR_S3_REGION": s3.region, "ARBOR_S3_PATH_STYLE": "true",
               "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}


@contextlib.asynccontextmanager
async def server(db: str, redis: str, tmp: Path, web_dist: Path,
                 blobs: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ARBOR_", "OPENAI_", "GEMINI_", "AWS_"))}
    big = "1000000"
    env.update(blobs)
    env.update({
        "DATABASE_URL": db, "REDIS_URL": redis, "ARBOR_LOG_LEVEL": "WARNING",
        "ARBOR_REDIS_PREFIX": f"arbor-bench-{secrets.token_hex(4)}:",
        "ARBOR_DATA_DIR": str(tmp / "data"), "ARBOR_TRUSTED_PROXIES": "127.0.0.1",
        "ARBOR_RATE_ROOMS_PER_MIN_IP": big, "ARBOR_RATE_ROOMS_BURST_IP": big,
        "ARBOR_RATE_HANDLES_PER_HOUR_IP": big, "ARBOR_RATE_HANDLES_BURST_IP": big,
        "ARBOR_RATE_LIKES_PER_MIN": big, "ARBOR_RATE_ROOM_LOADS_PER_MIN_IP": big,
        "ARBOR_RATE_ROOM_LOADS_BURST_IP": big,
    })
    log = (tmp / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--port", str(port), "--web-dist", str(web_dist),
        env=env, cwd=str(ROOT), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError(f"the server did not start; see {tmp / 'server.log'}")
                await asyncio.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        await proc.wait()


# ------------------------------------------------------------------------------ posts


def image_bytes(seed: int) -> bytes:
    """A 1024 x 1024 photo-like PNG, different for each seed (what a model hands back)."""
    from PIL import ImageOps

    im = photo(1024, 1024).rotate(seed * 37 % 360)
    im = ImageOps.posterize(im, 2 + seed % 6) if seed % 3 == 0 else im
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def publish_one(base: str, http: httpx.AsyncClient, n: int) -> None:
    r = await http.post("/api/rooms", json={"title": f"Bench {n}"})
    room = r.json()
    auth = {"Authorization": f"Bearer {room['edit_token']}"}
    prompt, image = f"p{secrets.token_hex(8)}", f"i{secrets.token_hex(8)}"
    ws = base.replace("http", "ws", 1)
    client = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
    try:
        blocks, edges = client.doc.get("blocks", type=Map), client.doc.get("edges", type=Map)
        with client.doc.transaction():
            for i, (bid, kind) in enumerate(((prompt, "text"), (image, "image"))):
                block = Map({"kind": kind, "x": 320.0 * i, "y": 0.0, "w": 260.0, "h": 280.0,
                             "status": "done"})
                blocks[bid] = block
                block["text"] = Text(f"a fox in the snow, study {n}")
            blocks[image]["tool"] = "image"
            edges["e1"] = Map({"source": prompt, "target": image, "tool": "image"})
        data = await asyncio.to_thread(image_bytes, n)
        up = (await http.post(f"/api/rooms/{room['room']}/uploads", headers=auth, json={
            "filename": "fox.png", "content_type": "image/png", "size": len(data),
            "block_id": image})).json()
        await http.request(up["method"], up["url"], content=data, headers=up["headers"])
        await http.post(f"/api/rooms/{room['room']}/uploads/{up['upload_id']}/complete",
                        headers=auth)
        await eventually(lambda: client.blocks()[image].get("image"), timeout=60,
                         message="the image")
    finally:
        await client.close()
    r = await http.post(f"/api/rooms/{room['room']}/publish", headers=auth, json={
        "block_id": image, "title": f"Fox study {n}", "include_prompts": True})
    assert r.status_code == 201, r.text


async def publish(base: str, count: int) -> None:
    people = []
    for i in range(4):
        http = httpx.AsyncClient(base_url=base, timeout=120, headers={
            "Origin": base, **CSRF, "X-Forwarded-For": f"2001:db8::{i + 1}"})
        await http.post("/api/identity", json={"handle": f"bench_{secrets.token_hex(4)}"})
        people.append(http)
    gate = asyncio.Semaphore(4)

    async def one(n: int) -> None:
        async with gate:
            await publish_one(base, people[n % len(people)], n)

    try:
        await asyncio.gather(*(one(n) for n in range(count)))
    finally:
        for http in people:
            await http.aclose()


# ------------------------------------------------------------------------------ browser


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def summary(resources: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for r in resources:
        s = out.setdefault(r["kind"], {"requests": 0, "network": 0, "bytes": 0, "cached": 0})
        s["requests"] += 1
        if r["transfer"] > 0:
            s["network"] += 1
            s["bytes"] += r["transfer"]
        else:
            s["cached"] += 1
    return out


def report(label: str, sums: dict[str, dict[str, float]]) -> None:
    parts = []
    for kind in ("html", "script", "css", "api", "image", "other"):
        if kind in sums:
            s = sums[kind]
            parts.append(f"{kind} {kb(s['bytes'])} ({int(s['network'])} of {int(s['requests'])}"
                         " over the network)")
    print(f"  {label}: " + "; ".join(parts))


async def visit(ctx: Any, base: str, posts: int) -> tuple[float, Any, Any]:
    page = await ctx.new_page()
    await page.goto(f"{base}/gallery")
    visible = await page.evaluate(VISIBLE_IMAGES_DONE)
    first = await page.evaluate(RESOURCES)
    await page.evaluate(ALL_SHOWN, posts)
    everything = await page.evaluate(RESOURCES)
    await page.close()
    return visible, summary(first), summary(everything)


async def browse(base: str, posts: int, viewport: tuple[int, int], dpr: float,
                 s3: bool) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            ctx = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                device_scale_factor=dpr)
            print(f"Chromium {browser.version}, {viewport[0]}x{viewport[1]} at DPR {dpr}, "
                  f"{posts} posts, blobs {'in S3' if s3 else 'on disk'}")
            for n, label in ((1, "first visit (empty cache)"), (2, "second visit (same browser)")):
                visible, first, everything = await visit(ctx, base, posts)
                print(f"{label}: every image in view shown {visible:.0f} ms after the "
                      "navigation started")
                report("until then", first)
                report(f"scrolled through all {posts}", everything)
                if n == 2:
                    images = everything.get("image", {})
                    print(f"  image requests that reached the network on the second visit: "
                          f"{int(images.get('network', 0))} of {int(images.get('requests', 0))}"
                          " (goal: 0)")
            await ctx.close()
        finally:
            await browser.close()


async def server_times(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for path in ("/gallery", "/api/posts?limit=24"):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                r = await http.get(path)
                times.append((time.perf_counter() - t) * 1000)
            print(f"GET {path}: median {statistics.median(times):.1f} ms, "
                  f"{kb(len(r.content))}")


async def main(args: argparse.Namespace, web_dist: Path) -> None:
    width, height = (int(v) for v in args.viewport.split("x"))
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp_name, \
            bucket(args.s3) as blobs:
        tmp = Path(tmp_name)
        async with services(tmp) as (db, redis), \
                server(db, redis, tmp, web_dist, blobs) as base:
            t = time.perf_counter()
            await publish(base, args.posts)
            print(f"published {args.posts} posts in {time.perf_counter() - t:.1f} s")
            await server_times(base)
            await browse(base, args.posts, (width, height), args.dpr, args.s3)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--web-dist", default=str(ROOT / "web" / "dist"))
    parser.add_argument("--viewport", default="1280x800")
    parser.add_argument("--dpr", type=float, default=1.0)
    parser.add_argument("--s3", action="store_true", help="blobs in a SeaweedFS bucket")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve:
        serve_main(parsed)
    else:
        dist = Path(parsed.web_dist).resolve()
        if not (dist / "index.html").is_file():
            raise SystemExit(f"no web build at {dist}: run `cd web && npx vite build "
                             "--outDir DIR` and pass --web-dist DIR")
        asyncio.run(main(parsed, dist))
