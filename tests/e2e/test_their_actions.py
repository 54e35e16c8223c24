"""Saying what happened: toasts are readable and end with their work, and when someone else
cancels my run I am told once, by name, with a way to run it again."""

from __future__ import annotations

import base64
import re

import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas, shot
from tests.e2e.helpers import add_text_block, node, node_ids, select_block
from tests.e2e.test_a11y import contrast
from tests.integration.test_gallery import png_bytes

pytestmark = pytest.mark.timeout(120)

# The text and ground colours of the first toast of a kind, as drawn.
TOAST_COLOURS = """(kind) => {
    const t = document.querySelector(`.toast.${kind} .toast-text`)
    const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number)
    let g = t
    while (g) {
        const c = rgb(getComputedStyle(g).backgroundColor)
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) break
        g = g.parentElement
    }
    return { fg: rgb(getComputedStyle(t).color).slice(0, 3),
             bg: g ? rgb(getComputedStyle(g).backgroundColor).slice(0, 3) : [255, 255, 255] }
}"""

DROP_IMAGE = """([b64, x, y]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    const dt = new DataTransfer()
    dt.items.add(new File([bytes], 'fox.png', { type: 'image/png' }))
    const target = document.elementFromPoint(x, y)
    for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true,
                                                   clientX: x, clientY: y, dataTransfer: dt }))
    }
}"""


async def test_error_toasts_are_readable_and_an_upload_toast_ends_with_the_upload(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    # An error, in the server's words, readable on its ground (it was red on red).
    await a.route("**/links/rotate", lambda route: route.fulfill(
        status=503, content_type="application/problem+json",
        body='{"title": "unavailable", "detail": "The link store is unreachable."}'))
    await a.get_by_role("button", name="Share").click()
    await a.get_by_role("button", name="Make new links…").click()
    await a.get_by_role("button", name="Yes, make new links").click()
    error = a.get_by_role("alert").filter(has_text="Could not make new links")
    await expect(error).to_contain_text("The link store is unreachable.")
    colours = await a.evaluate(TOAST_COLOURS, "error")
    assert contrast(colours["fg"], colours["bg"]) >= 4.5, colours
    await shot(a, "toast-error")
    await a.get_by_role("button", name="Close").click()
    await error.get_by_role("button", name="Dismiss").click()
    await expect(error).to_have_count(0)

    # An image dropped on the canvas: "Uploading…" is replaced by "Image uploaded.".
    box = await a.locator(".react-flow__pane").bounding_box()
    assert box
    png = base64.b64encode(png_bytes(seed=3)).decode()
    await a.evaluate(DROP_IMAGE, [png, box["x"] + 300, box["y"] + 300])
    news = a.locator(".toast")
    await expect(news.filter(has_text="Image uploaded.")).to_have_count(1)
    await expect(news.filter(has_text="Uploading")).to_have_count(0)
    await expect(a.locator(".react-flow__node img")).to_have_count(1)
    colours = await a.evaluate(TOAST_COLOURS, "info")
    assert contrast(colours["fg"], colours["bg"]) >= 4.5, colours
    assert not a.errors, a.errors


@pytest.mark.offline_delay(0.5)
async def test_my_run_cancelled_by_someone_else_is_told_once_with_run_again(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    root = await add_text_block(a, "a slow idea", at=(250, 300))
    await select_block(a, root)
    before = set(await node_ids(a))
    await a.get_by_role("button", name="Tools ▾").click()
    await a.get_by_role("menuitem", name=re.compile(r"^Expand \d")).click()
    await expect(a.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (out,) = [i for i in await node_ids(a) if i not in before]
    # Ben cancels Ada's run from his queue.
    await b.get_by_role("button", name=re.compile("^Queue")).click()
    queue = b.get_by_role("region", name="Queue")
    await queue.get_by_role("button", name="Cancel Expand").click()
    await expect(queue.locator(".job-who")).to_have_text("Started by Ada · cancelled by Ben")
    told = a.locator(".toast", has_text="Ben cancelled your Expand run.")
    await expect(told).to_have_count(1)
    await expect(node(a, out).locator(".status-label")).to_contain_text("Cancelled")
    # Ben did it himself: he is not told; and Ada is told once.
    await expect(b.locator(".toast", has_text="cancelled your")).to_have_count(0)
    await shot(a, "cancelled-by-ben")
    # The way back: the same run again, into the same block.
    await told.get_by_role("button", name="Run again").click()
    await expect(told).to_have_count(0)
    await expect(node(b, out).locator(".status-label")).to_contain_text(
        re.compile("Queued|Running|Done"))
    await expect(node(a, out).locator(".status-label")).not_to_contain_text("Cancelled")
    assert set(await node_ids(a)) == before | {out}
    await expect(a.locator(".toast", has_text="cancelled your")).to_have_count(0)
    assert not a.errors and not b.errors, (a.errors, b.errors)
