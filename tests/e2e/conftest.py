"""Browser tests: Debian's Chromium, driven by Playwright, against the real app.

The server is the real one (``run_server``) serving the built ``web/dist``; a real worker
(``run_worker``) runs tools with the offline provider; PostgreSQL and Redis are the test
run's. Every test gets its own server, worker and browser, and saves screenshots under
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.settings import Settings
from tests.conftest import RunningServer, run_server, run_worker

pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("ARBOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# How long any single expectation may wait: generous for a loaded 2-core machine, but bounded.
WAIT_MS = 15_000

expect.set_options(timeout=WAIT_MS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "offline_delay(seconds): pause between the offline provider's text chunks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """``web/dist``, built now when missing (``npm ci`` first when there are no modules).
    ``ARBOR_WEB_DIST`` names another build to test (one made with ``vite build --outDir``),
    so several builds can be tested side by side."""
    if os.environ.get("ARBOR_WEB_DIST"):
        other = Path(os.environ["ARBOR_WEB_DIST"])
        assert (other / "index.html").is_file(), f"no index.html in ARBOR_WEB_DIST={other}"
        return other
    dist = WEB / "dist"
    if (dist / "index.html").is_file():
        return dist
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        pytest.skip("node/npm are not installed, so the web app cannot be built")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, timeout=600)
    assert (dist / "index.html").is_file(), "npm run build made no dist/index.html"
    return dist


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def e2e_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("offline_delay")
    return settings.replace(offline_delay=marker.args[0] if marker else 0.01)


@pytest.fixture
async def app(web_dist: Path, e2e_settings: Settings) -> AsyncIterator[RunningServer]:
    """The real server (serving the built app) and a real worker."""
    async with run_server(e2e_settings, web_dist=web_dist) as srv, run_worker(e2e_settings):
        yield srv


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@dataclass
class Room:
    room: str
    edit_token: str
    view_token: str

    def url(self, base: str, token: str | None = None) -> str:
        return f"{base}/r/{self.room}#token={token or self.edit_token}"


async def new_room(srv: RunningServer, title: str = "e2e") -> Room:
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.post("/api/rooms", json={"title": title})
        assert r.status_code == 201, r.text
        body = r.json()
    return Room(body["room"], body["edit_token"], body["view_token"])


COLORS = {"Ada": "#175cd3", "Ben": "#b42318", "Cy": "#027a48"}


async def open_canvas(browser: Browser, url: str, name: str,
                      viewport: dict[str, int] | None = None) -> tuple[BrowserContext, Page]:
    """A new browser context (a separate person) with a saved name, on the canvas at url."""
    ctx = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    ctx.set_default_timeout(WAIT_MS)
    identity = {"id": f"user-{name.lower()}", "name": name,
                "color": COLORS.get(name, "#5925dc"), "noFollow": False}
    await ctx.add_init_script(
        f"localStorage.setItem('arbor.identity', {json.dumps(json.dumps(identity))})")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    return ctx, page


async def connected(page: Page) -> None:
    """The page is connected and has the server's document (so the first view is settled)."""
    await expect(page.locator(".status-indicator")).to_contain_text("Connected")
    await page.wait_for_function("() => window.arbor?.getState().synced === true",
                                 timeout=WAIT_MS)


def shot_path(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=shot_path(name))


async def poll(fn: Callable[[], Awaitable[Any]], timeout: float = WAIT_MS / 1000,
               interval: float = 0.05) -> Any:
    """Await fn() until it returns something truthy, or fail after timeout seconds."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not true within {timeout} s (last value: {last!r})")


__all__ = ["Room", "connected", "expect", "new_room", "open_canvas", "poll", "shot"]
