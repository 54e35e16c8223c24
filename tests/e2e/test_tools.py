"""Tools in the browser: a run streams into both people's canvas, the queue lists and
cancels jobs, and one person watches another's branch grow."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, node, node_ids, select_block

pytestmark = pytest.mark.timeout(90)

RECORD_TEXT = """() => {
    // Every length each block's text goes through, as this page receives it.
    window.textLengths = {}
    window.arbor.blocks.observeDeep(() => {
        window.arbor.blocks.forEach((b, id) => {
            const n = String(b.get('text') ?? '').length
            const seen = (window.textLengths[id] ??= [])
            if (seen[seen.length - 1] !== n) seen.push(n)
        })
    })
}"""


async def run_tool(page, label: str) -> None:
    await page.get_by_role("button", name="Tools ▾").click()
    await page.get_by_role("menuitem", name=re.compile(f"^{label} \\d")).click()


async def new_output(page, before: set[str]) -> str:
    await expect(page.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (out,) = [i for i in await node_ids(page) if i not in before]
    return out


@pytest.mark.offline_delay(0.05)
async def test_a_tool_run_streams_into_both_canvases_and_a_watcher_sees_the_branch(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    root = await add_text_block(a, "a red fox in snow", at=(250, 300))
    await select_block(a, root)
    # B watches A's branch: the block A has selected, and what grows from it.
    await b.get_by_role("button", name="Ada", exact=True).click()
    await b.get_by_role("menuitem", name="Watch Ada\u2019s branch").click()
    panel = b.get_by_role("region", name="Ada\u2019s branch")
    await expect(panel.locator(".story-step")).to_have_count(1)
    await expect(panel).to_contain_text("a red fox in snow")
    await b.evaluate(RECORD_TEXT)

    before = set(await node_ids(a))
    await run_tool(a, "Expand")
    out = await new_output(a, before)
    for page in (a, b):
        await expect(node(page, out).locator(".status-label")).to_have_text("Done · Expand")
        await expect(node(page, out)).to_contain_text("[offline]")
    lengths = await b.evaluate(f"() => window.textLengths[{out!r}]")
    assert len(lengths) >= 3, f"text arrived in one piece, not streamed: {lengths}"
    # Lineage: the output is linked to the prompt, and selecting it highlights the prompt.
    await expect(a.locator(".react-flow__edge.in-branch")).to_have_count(1)
    await expect(node(a, root)).to_have_class(re.compile(r"\bbranch-ancestor\b"))
    # B's story is root prompt then the new text, which A has selected since running it.
    await expect(panel.locator(".story-step")).to_have_count(2)
    await expect(panel.locator(".story-step").nth(0)).to_contain_text("a red fox in snow")
    await expect(panel.locator(".story-step").nth(1)).to_contain_text("[offline]")
    await expect(panel.locator(".story-step.current")).to_have_attribute("data-block", out)
    # Clicking a step pans B to that block.
    await b.get_by_role("button", name=re.compile("^Go to prompt: a red fox")).click()

    async def centred() -> bool:
        box = await node(b, root).bounding_box()
        pane = await b.locator(".react-flow").bounding_box()
        if not box or not pane:
            return False
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        return (abs(cx - (pane["x"] + pane["width"] / 2)) < 20
                and abs(cy - (pane["y"] + pane["height"] / 2)) < 20)

    await poll(centred)
    await shot(b, "tool-run-b-watching")
    # The queue shows the finished job for both (one side panel at a time).
    for page in (a, b):
        await page.get_by_role("button", name=re.compile("^Queue")).click()
        queue = page.get_by_role("region", name="Queue")
        await expect(queue.locator(".job")).to_have_count(1)
        await expect(queue.locator(".job")).to_contain_text("Expand")
        await expect(queue.locator(".job-status")).to_have_text("Done")
    await shot(a, "tool-run-a")
    assert not a.errors and not b.errors, (a.errors, b.errors)


@pytest.mark.offline_delay(0.5)
async def test_the_queue_cancels_a_running_job(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, v = await open_canvas(browser, room.url(app.base_url, room.view_token), "Cy")
    await connected(a)
    await connected(v)
    root = await add_text_block(a, "a slow idea", at=(250, 300))
    await select_block(a, root)
    before = set(await node_ids(a))
    await run_tool(a, "Expand")
    out = await new_output(a, before)
    await a.get_by_role("button", name=re.compile("^Queue")).click()
    queue = a.get_by_role("region", name="Queue")
    await expect(queue.locator(".job-status")).to_have_text(re.compile("Queued|Running"))
    await expect(a.get_by_role("button", name=re.compile(r"^Queue.*1"))).to_be_visible()
    # The viewer sees the job but no cancel button.
    await v.get_by_role("button", name=re.compile("^Queue")).click()
    vqueue = v.get_by_role("region", name="Queue")
    await expect(vqueue.locator(".job")).to_contain_text("Expand")
    await expect(vqueue.get_by_role("button", name="Cancel Expand")).to_have_count(0)
    await expect(node(a, out).locator(".status-label")).to_have_text("Running · Expand")
    await queue.get_by_role("button", name="Cancel Expand").click()
    await expect(queue.locator(".job-status")).to_have_text("Cancelled")
    await expect(vqueue.locator(".job-status")).to_have_text("Cancelled")
    for page in (a, v):
        await expect(node(page, out).locator(".status-label")).to_have_text("Cancelled · Expand")
    await expect(queue.get_by_role("button", name="Cancel Expand")).to_have_count(0)
    # A cancelled output offers to run it again, in place.
    await expect(node(a, out).get_by_role("button", name="Run again")).to_be_visible()
    await expect(node(v, out).get_by_role("button", name="Run again")).to_have_count(0)
    await shot(a, "queue-cancelled")
