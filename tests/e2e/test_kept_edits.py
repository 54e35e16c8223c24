"""Edits a browser kept from before the canvas's links were rotated are not merged silently
when that browser opens a new link: the person is asked to add them, discard them, or open
them as a copy; and a browser that kept nothing, or opens the same link again, is not asked."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page

from tests.e2e.conftest import Room, connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, doc_state

pytestmark = pytest.mark.timeout(150)

OFFLINE = "written while offline"


async def _rotate(app, room: Room) -> str:
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        r = await http.post(f"/api/rooms/{room.room}/links/rotate",
                            headers={"Authorization": f"Bearer {room.edit_token}"})
        assert r.status_code == 200, r.text
        return str(r.json()["edit_token"])


async def _texts(page: Page) -> list[str]:
    return [b["text"] for b in (await doc_state(page))["blocks"].values()]


async def _kept_then_rotated(app, browser) -> tuple[Page, Page, str, Room]:
    """Ada writes a block while offline; meanwhile Ben's links are rotated; Ada's old link
    is refused when she is back. Returns Ada's page (still on the old link), Ben's page
    (on the new link), the new edit token and the room."""
    room = await new_room(app, "Kept")
    actx, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    await add_text_block(a, "shared before", at=(250, 250))
    await actx.set_offline(True)
    await expect(a.locator(".status-indicator")).to_contain_text("Offline")
    await add_text_block(a, OFFLINE, at=(250, 450))
    new_token = await _rotate(app, room)
    await actx.set_offline(False)
    await expect(a.get_by_role("alert")).to_contain_text("not valid for this canvas")
    _, b = await open_canvas(browser, room.url(app.base_url, new_token), "Ben")
    await connected(b)
    assert OFFLINE not in await _texts(b)
    return a, b, new_token, room


async def _open_new_link(a: Page, app, room: Room, token: str):
    await a.goto(room.url(app.base_url, token))
    await connected(a)
    dialog = a.get_by_role("alertdialog", name="Changes kept in this browser")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("1 block")
    # Until Ada answers, the canvas shows only what the server has.
    assert OFFLINE not in await _texts(a)
    return dialog


async def test_kept_edits_are_added_only_when_the_person_says_so(app, browser):
    a, b, token, room = await _kept_then_rotated(app, browser)
    dialog = await _open_new_link(a, app, room, token)
    await expect(dialog.get_by_role("button", name="Add them to the canvas")).to_be_focused()
    await shot(a, "kept-edits-question")
    await dialog.get_by_role("button", name="Add them to the canvas").click()
    await expect(dialog).to_have_count(0)
    await poll(lambda: _has(b, OFFLINE))
    await poll(lambda: _has(a, OFFLINE))
    # Asked once: the next visit with this link opens straight away.
    await a.reload()
    await connected(a)
    await expect(a.get_by_role("alertdialog")).to_have_count(0)
    assert not a.errors and not b.errors, (a.errors, b.errors)


async def test_kept_edits_can_be_discarded_or_opened_as_a_copy(app, browser):
    a, b, token, room = await _kept_then_rotated(app, browser)
    dialog = await _open_new_link(a, app, room, token)
    await dialog.get_by_role("button", name="Open them as a copy").click()
    # A new canvas, "Copy of Kept", holds everything this browser had, offline edit included.
    await expect(a).to_have_url(re.compile(r"/r/(?!" + room.room + r")[A-Za-z0-9_-]+#token="))
    await connected(a)
    await poll(lambda: _has(a, OFFLINE))
    await expect(a.get_by_role("textbox", name="Canvas title")).to_have_value("Copy of Kept")
    # The first canvas never got it, and this browser no longer offers it there.
    assert OFFLINE not in await _texts(b)
    await a.goto(room.url(app.base_url, token))
    await connected(a)
    await expect(a.get_by_role("alertdialog")).to_have_count(0)
    assert OFFLINE not in await _texts(a)

    assert not a.errors and not b.errors, (a.errors, b.errors)


async def test_kept_edits_can_be_discarded(app, browser):
    a, b, token, room = await _kept_then_rotated(app, browser)
    dialog = await _open_new_link(a, app, room, token)
    await dialog.get_by_role("button", name="Discard them").click()
    await expect(dialog).to_have_count(0)
    await add_text_block(a, "after the question", at=(500, 250))
    await poll(lambda: _has(b, "after the question"))
    assert OFFLINE not in await _texts(a) and OFFLINE not in await _texts(b)
    # Gone from this browser too: a reload neither asks nor brings them back.
    await a.reload()
    await connected(a)
    await expect(a.get_by_role("alertdialog")).to_have_count(0)
    await poll(lambda: _has(a, "after the question"))
    assert OFFLINE not in await _texts(a)
    assert not a.errors and not b.errors, (a.errors, b.errors)


async def _has(page: Page, text: str) -> bool:
    return text in await _texts(page)
