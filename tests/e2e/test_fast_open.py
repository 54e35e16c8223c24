"""The canvas page is quick to fetch: its script comes compressed and within a byte budget,
and the side panels arrive only when opened. (Time to first block is measured, not tested:
bench/view_open.py prints it.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas
from tests.yclient import YClient

pytestmark = pytest.mark.timeout(90)

BUDGET = 350_000  # bytes of script on the wire for the canvas page (issue 22)

SCRIPTS = """() => performance.getEntriesByType('resource')
    .filter(e => new URL(e.name).pathname.endsWith('.js'))
    .map(e => ({ path: new URL(e.name).pathname, wire: e.encodedBodySize,
                 plain: e.decodedBodySize }))"""


async def scripts(page: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(SCRIPTS)
    return found


async def test_the_canvas_page_loads_at_most_350_kb_of_compressed_script(app, browser):
    """A first visit to a canvas fetches every script it needs in brotli (or gzip), and
    all of it together is at most 350 KB on the wire."""
    room = await new_room(app, "fast")
    ctx, page = await open_canvas(browser, room.url(app.base_url), "Ada")
    try:
        encodings: dict[str, str] = {}
        page.on("response", lambda r: encodings.__setitem__(
            r.url, r.headers.get("content-encoding", "identity")) if r.url.endswith(".js")
            else None)
        await page.reload()  # the listener is on from the first request
        await connected(page)
        # The text editor (CodeMirror) comes once the page is idle: count it too.
        await page.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".some(e => /\\/TextEditor-[\\w-]+\\.js$/.test(e.name))")
        loaded = await scripts(page)
        assert loaded, "the page fetched no script?"
        wire = sum(s["wire"] for s in loaded)
        plain = sum(s["plain"] for s in loaded)
        print(f"\ncanvas page script: {wire / 1000:.0f} KB on the wire, {plain / 1000:.0f} KB "
              f"plain, {len(loaded)} files, encodings {sorted(set(encodings.values()))}")
        big = [url for url, enc in encodings.items() if enc not in ("br", "gzip")
               and next((s["plain"] for s in loaded if url.endswith(s["path"])), 0) > 1024]
        assert not big, f"sent uncompressed: {big}"
        assert wire <= BUDGET, f"{wire} bytes of script on the wire, budget {BUDGET}"
        assert not page.errors, page.errors
    finally:
        await ctx.close()


async def test_the_history_panel_arrives_only_when_opened(app, browser):
    """The canvas's first load does not carry the side panels' code; opening History
    fetches its chunk, and the panel works."""
    room = await new_room(app, "lazy panels")
    ctx, page = await open_canvas(browser, room.url(app.base_url), "Ada")
    try:
        await connected(page)
        before = [s["path"] for s in await scripts(page)]
        for panel in ("HistoryPanel", "UsagePanel", "KeysDialog", "QueuePanel"):
            assert not any(re.search(rf"/{panel}-[\w-]+\.js$", p) for p in before), before
        await page.get_by_role("button", name="History", exact=True).click()
        await expect(page.get_by_role("region", name="History")).to_be_visible()
        after = [s["path"] for s in await scripts(page)]
        assert any(re.search(r"/HistoryPanel-[\w-]+\.js$", p) for p in after), after
        assert not page.errors, page.errors
    finally:
        await ctx.close()


async def test_a_view_link_does_not_fetch_the_text_editor(app, browser):
    """A view link cannot edit: it shows the blocks' text without ever fetching the
    editor's chunk (an edit link fetches it when idle, asserted above)."""
    room = await new_room(app, "view only")
    writer = await YClient.connect(f"{app.ws_url}/sync/{room.room}?token={room.edit_token}")
    try:
        writer.add_text_block("b1", "a lantern over water")
        ctx, page = await open_canvas(browser, room.url(app.base_url, room.view_token), "Ada")
        try:
            await connected(page)
            await expect(page.locator(".text-view")).to_contain_text("a lantern over water")
            # Past the moment an edit link would fetch it (when idle, at most 2 s after).
            await page.evaluate("""() => new Promise((done) => requestIdleCallback(
                () => requestIdleCallback(done, { timeout: 2500 }), { timeout: 2500 }))""")
            loaded = await scripts(page)
            paths = [s["path"] for s in loaded]
            assert not any("/TextEditor-" in p for p in paths), paths
            # The editor is ~500 KB of the app's ~1.1 MB: without it, well under 800 KB.
            assert sum(s["plain"] for s in loaded) < 800_000, loaded
            assert not page.errors, page.errors
        finally:
            await ctx.close()
    finally:
        await writer.close()
