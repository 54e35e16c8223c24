"""Two people on one canvas in real browsers: editing, following, view links, undo,
offline edits and bad links."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import (
    add_text_block,
    doc_state,
    drag_pane,
    node,
    select_block,
    viewport,
)

pytestmark = pytest.mark.timeout(90)


async def append_text(page, bid: str, text: str) -> None:
    """Open the text block ``bid`` on ``page``, type ``text`` at its end, and close it."""
    await node(page, bid).locator(".text-view").dblclick()
    await page.keyboard.press("End")
    await page.keyboard.type(text)
    await page.keyboard.press("Escape")


async def ben_goes_offline(app, browser, text: str):
    """Ada and Ben on a new canvas with a text block ``text`` that Ada made; then Ben's
    browser loses the network. Returns the room, Ada's page, Ben's context and page, and
    the block's id."""
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    bctx, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    bid = await add_text_block(a, text, at=(400, 300))
    await expect(node(b, bid)).to_contain_text(text)
    await bctx.set_offline(True)
    await expect(b.locator(".status-indicator")).to_contain_text("Offline")
    return room, a, bctx, b, bid


async def test_two_people_see_each_others_blocks(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    first = await add_text_block(a, "a lighthouse in fog", at=(300, 250))
    second = await add_text_block(a, "seen from the sea", at=(700, 450))
    await expect(node(b, first)).to_contain_text("a lighthouse in fog")
    await expect(node(b, second)).to_contain_text("seen from the sea")
    # B edits A's block; A sees it.
    await node(b, first).locator(".text-view").dblclick()
    await b.keyboard.press("End")
    await b.keyboard.type(" at dawn")
    await b.keyboard.press("Escape")
    await expect(node(a, first)).to_contain_text("a lighthouse in fog at dawn")
    # Each sees the other among the people here, and where they point.
    await expect(a.get_by_role("button", name="Ben", exact=True)).to_be_visible()
    await expect(b.get_by_role("button", name="Ada", exact=True)).to_be_visible()
    await expect(b.locator(".cursor-name", has_text="Ada")).to_be_attached()
    await shot(a, "two-people-a")
    await shot(b, "two-people-b")
    assert not a.errors and not b.errors, (a.errors, b.errors)


async def test_following_tracks_the_other_persons_pan(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    await add_text_block(a, "something to look at", at=(400, 300))
    await b.get_by_role("button", name="Ada", exact=True).click()
    await b.get_by_role("menuitem", name="Follow Ada").click()
    await expect(b.get_by_role("status").filter(has_text="Following Ada")).to_be_visible()
    # The top bar counts followers (an eye and 1), naming them in its tooltip and words.
    followers = a.locator(".topbar .follow-count")
    await expect(followers).to_be_visible()
    await expect(followers).to_contain_text("Ben is following you")

    async def tracks() -> bool:
        va, vb = await viewport(a), await viewport(b)
        return (abs(va["x"] - vb["x"]) <= 2 and abs(va["y"] - vb["y"]) <= 2
                and abs(va["zoom"] - vb["zoom"]) < 0.01)

    for dx, dy in ((-300, -120), (180, 260)):
        before = await viewport(b)
        await drag_pane(a, dx, dy)
        await poll(tracks)
        after = await viewport(b)
        assert abs(after["x"] - before["x"] - dx) < 40 and abs(after["y"] - before["y"] - dy) < 40
    await shot(b, "follow-b")
    # Panning by hand stops following.
    await drag_pane(b, 50, 50)
    await expect(b.get_by_role("status").filter(has_text="Following Ada")).to_have_count(0)


async def test_view_link_cannot_edit_but_sees_changes(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    bid = await add_text_block(a, "only editors write here", at=(400, 300))
    _, v = await open_canvas(browser, room.url(app.base_url, room.view_token), "Cy")
    await connected(v)
    await expect(node(v, bid)).to_contain_text("only editors write here")
    await expect(v.get_by_text("View only")).to_be_visible()
    # No editing affordances.
    for name in ("+ Text", "+ Image", "Undo", "Tools ▾"):
        await expect(v.get_by_role("button", name=name, exact=True)).to_have_count(0)
    await expect(v.get_by_role("textbox", name="Canvas title")).to_have_count(0)
    await expect(v.locator(".react-flow__handle").first).to_be_hidden()
    await expect(node(v, bid).locator(".text-view[role=button]")).to_have_count(0)
    before = await doc_state(v)
    # A forced attempt: shortcuts, double-clicks, typing, delete, undo, paste-like typing.
    await v.locator(".react-flow__pane").click(position={"x": 100, "y": 100})
    for key in ("t", "i", "Control+d", "Control+z"):
        await v.keyboard.press(key)
    await v.locator(".react-flow__pane").dblclick(position={"x": 150, "y": 150})
    await node(v, bid).locator(".text-view").dblclick()
    await v.keyboard.type("forced")
    await select_block(v, bid)
    await v.keyboard.press("Delete")
    await v.keyboard.press("Backspace")
    await expect(node(v, bid).locator(".cm-content")).to_have_count(0)
    # The editor's next change reaches the viewer, so everything before it has arrived too.
    await node(a, bid).locator(".text-view").dblclick()
    await a.keyboard.press("End")
    await a.keyboard.type(" (live)")
    await a.keyboard.press("Escape")
    await expect(node(v, bid)).to_contain_text("only editors write here (live)")
    after_v, after_a = await doc_state(v), await doc_state(a)
    assert set(after_v["blocks"]) == set(before["blocks"]) == set(after_a["blocks"])
    assert after_v["blocks"][bid]["text"] == after_a["blocks"][bid]["text"] == \
        "only editors write here (live)"
    await expect(v.locator(".fatal-banner")).to_have_count(0)
    await shot(v, "view-only")


async def test_undo_takes_back_only_my_own_edits(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    mine = await add_text_block(a, "alpha", at=(300, 250))
    theirs = await add_text_block(b, "beta", at=(700, 450))
    await expect(node(a, theirs)).to_contain_text("beta")
    undo = a.get_by_role("button", name="Undo", exact=True)
    for _ in range(10):
        if await undo.is_disabled():
            break
        await undo.click()
    await expect(undo).to_be_disabled()
    await expect(node(a, mine)).to_have_count(0)
    await expect(node(b, mine)).to_have_count(0)
    await expect(node(a, theirs)).to_contain_text("beta")
    await expect(node(b, theirs)).to_contain_text("beta")
    # Redo brings mine back for both.
    await a.get_by_role("button", name="Redo", exact=True).click()
    await expect(node(b, mine)).to_be_attached()
    await shot(b, "undo-b")


async def test_an_offline_edit_arrives_after_reconnecting(app, browser):
    _, a, bctx, b, bid = await ben_goes_offline(app, browser, "shared")
    await append_text(b, bid, " and written offline")
    await expect(node(b, bid)).to_contain_text("shared and written offline")
    await expect(b.locator(".status-indicator")).to_contain_text("kept in this browser")
    await shot(b, "offline-b")
    await bctx.set_offline(False)
    await connected(b)
    await expect(node(a, bid)).to_contain_text("shared and written offline")
    await expect(b.locator(".status-indicator")).to_contain_text("All changes saved")


async def test_a_rotated_or_forged_link_says_so(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        r = await http.post(f"/api/rooms/{room.room}/links/rotate",
                            headers={"Authorization": f"Bearer {room.edit_token}"})
        assert r.status_code == 200, r.text
    message = re.compile(r"not valid for this canvas.*rotated.*Ask for a new link")
    # The open page is cut off with a clear message, and does not reconnect.
    await expect(a.get_by_role("alert")).to_contain_text(message)
    await expect(a.locator(".status-indicator")).to_contain_text("Disconnected")
    await shot(a, "rotated-open-page")
    # Opening the old link, or a made-up one, says the same before anything loads.
    for token in (room.edit_token, "forged" + "x" * 30):
        _, p = await open_canvas(browser, room.url(app.base_url, token), "Ben")
        await expect(p.get_by_role("heading", name="Cannot open this canvas")).to_be_visible()
        await expect(p.get_by_role("alert")).to_contain_text(message)
        await expect(p.locator(".react-flow")).to_have_count(0)
        await shot(p, "bad-link")
        await p.context.close()


async def test_an_offline_edit_survives_closing_the_tab(app, browser):
    """Written offline, tab closed, reopened later online: the edit kept in the browser's
    IndexedDB reaches the others."""
    room, a, bctx, b, bid = await ben_goes_offline(app, browser, "kept")
    await append_text(b, bid, " across a closed tab")
    await expect(b.locator(".status-indicator")).to_contain_text("kept in this browser")
    # IndexedDB runs read-write transactions on one store in order: once a new one on the
    # updates store completes, every keystroke written before it is on disk.
    await b.evaluate("""(name) => new Promise((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
            const tx = open.result.transaction(['updates'], 'readwrite')
            tx.oncomplete = () => { open.result.close(); resolve(true) }
            tx.onerror = () => reject(tx.error)
        }
    })""", f"arbor:{room.room}")
    await b.close()  # the tab is gone before anything reached the server
    await expect(node(a, bid)).not_to_contain_text("across a closed tab")
    await bctx.set_offline(False)
    b2 = await bctx.new_page()
    await b2.goto(room.url(app.base_url))
    await connected(b2)
    await expect(node(a, bid)).to_contain_text("kept across a closed tab")
    await shot(a, "offline-closed-tab-a")


async def test_the_last_offline_keystrokes_survive_a_tab_closed_at_once(app, browser):
    """IndexedDB commits each change later, in a transaction of its own, so a tab closed
    right after typing can lose the last keystrokes there. Here every IndexedDB write made
    after going offline is aborted (as when the tab is gone before it commits), and the tab
    is closed straight after the last keystroke. What the page kept synchronously when it
    closed brings them back on the next visit, and they reach the others."""
    room, a, bctx, b, bid = await ben_goes_offline(app, browser, "kept")
    await b.evaluate("""() => {
        window.addEventListener('unhandledrejection', (e) => e.preventDefault())
        const add = IDBObjectStore.prototype.add
        const put = IDBObjectStore.prototype.put
        IDBObjectStore.prototype.add = function (...args) {
            const request = add.apply(this, args); this.transaction.abort(); return request }
        IDBObjectStore.prototype.put = function (...args) {
            const request = put.apply(this, args); this.transaction.abort(); return request }
    }""")
    await node(b, bid).locator(".text-view").dblclick()
    await b.keyboard.press("End")
    await b.keyboard.type(" to the last keystroke")
    async with b.expect_event("close"):
        await b.close(run_before_unload=True)  # as a person closes it: the page hears it
    await bctx.set_offline(False)
    b2 = await bctx.new_page()
    await b2.goto(room.url(app.base_url))
    await connected(b2)
    await expect(node(b2, bid)).to_contain_text("kept to the last keystroke")
    await expect(node(a, bid)).to_contain_text("kept to the last keystroke")
    leftover = await b2.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('arbor:unsaved:'))")
    assert leftover == [], "a stash stays behind after it was applied"


async def test_a_tab_from_before_a_deploy_reloads_for_the_canvas_code(app, browser):
    """The canvas editor is a chunk of its own, fetched on first use. A tab opened before a
    deploy asks for a chunk the new build no longer has (answered 404 here until the page
    loads again): it reloads itself once and the canvas opens. A chunk that cannot be
    fetched at all is said so, with a button to try again, instead of a blank page."""
    room = await new_room(app)
    ctx, home = await open_canvas(browser, f"{app.base_url}/", "Ada")
    await expect(home.get_by_role("button", name=re.compile("New canvas"))).to_be_visible()
    chunk = re.compile(r"/assets/CanvasPage-[^/]*\.js$")
    refused: list[str] = []
    loads: list[str] = []
    home.on("request", lambda r: loads.append(r.url) if r.is_navigation_request() else None)

    async def gone_until_reload(route):
        if not loads:
            refused.append(route.request.url)
            await route.fulfill(status=404, body="not found")
        else:
            await route.continue_()

    await ctx.route(chunk, gone_until_reload)
    await home.evaluate("""(url) => {
        history.pushState(null, '', url); dispatchEvent(new PopStateEvent('popstate')) }""",
                        room.url(app.base_url))
    await connected(home)
    assert refused and loads == [room.url(app.base_url).split("#")[0]], (refused, loads)
    await expect(home.locator(".react-flow")).to_be_visible()

    ctx2, _ = await open_canvas(browser, f"{app.base_url}/", "Ben")
    await ctx2.route(chunk, lambda route: route.fulfill(status=404, body="not found"))
    broken = await ctx2.new_page()
    await broken.goto(room.url(app.base_url))
    await expect(broken.get_by_role("heading", name="This page could not load")).to_be_visible()
    await expect(broken.get_by_role("alert")).to_contain_text("try again")
    await expect(broken.get_by_role("button", name="Try again")).to_be_visible()
    await ctx2.unroute(chunk)
    await broken.get_by_role("button", name="Try again").click()
    await connected(broken)

    # Where session storage is switched off the canvas still opens, and a chunk that
    # cannot be fetched is shown at once: with nowhere to note a first reload, the page
    # must not reload (it could loop).
    ctx3, _ = await open_canvas(browser, f"{app.base_url}/", "Cy")
    await ctx3.add_init_script("""Object.defineProperty(window, 'sessionStorage', {
        get() { throw new DOMException('disabled', 'SecurityError') } })""")
    fine = await ctx3.new_page()
    await fine.goto(room.url(app.base_url))
    await connected(fine)
    await fine.close()
    await ctx3.route(chunk, lambda route: route.fulfill(status=404, body="not found"))
    navigations: list[str] = []
    locked = await ctx3.new_page()
    locked.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request()
              else None)
    await locked.goto(room.url(app.base_url))
    await expect(locked.get_by_role("heading", name="This page could not load")).to_be_visible()
    assert len(navigations) == 1, navigations


async def test_a_view_link_opens_where_this_browser_keeps_unsent_edits(app, browser):
    """Edits written offline through the edit link wait in this browser. Opening the view
    link of the same canvas in the same browser shows the canvas as the server has it (a
    view link sends nothing, so the server has nothing to refuse), and the edits still
    arrive when the edit link is opened again."""
    room, a, bctx, b, bid = await ben_goes_offline(app, browser, "waiting")
    await append_text(b, bid, " in this browser")
    await expect(b.locator(".status-indicator")).to_contain_text("kept in this browser")
    async with b.expect_event("close"):
        await b.close(run_before_unload=True)
    await bctx.set_offline(False)
    viewer = await bctx.new_page()
    await viewer.goto(room.url(app.base_url, room.view_token))
    await connected(viewer)
    await expect(node(viewer, bid)).to_contain_text("waiting")
    await expect(node(viewer, bid)).not_to_contain_text("in this browser")
    await expect(viewer.locator(".fatal-banner")).to_have_count(0)
    await expect(node(a, bid)).not_to_contain_text("in this browser")
    await viewer.close()
    editor = await bctx.new_page()
    await editor.goto(room.url(app.base_url))
    await connected(editor)
    await expect(node(a, bid)).to_contain_text("waiting in this browser")
